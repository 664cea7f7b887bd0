"""The ``quizmail`` command: ``quizmail --help`` lists every command."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, NoReturn

import click

from app.config import DEFAULT_POP3_PORT, DEFAULT_SMTP_PORT, DEFAULT_WEB_PORT, ConfigError
from app.pop3.cli import (
    PORT,
    capture_pop3_options,
    mailbox_store_option,
    pop3_command,
    pop3_hash_command,
)
from app.words import LONE_SURROGATE, counted, visible

if TYPE_CHECKING:
    from flask import Flask

    from app.serve import Service
    from app.store import MailStore


class CommandFailed(click.ClickException):
    """A command that could not do its work: one line, exit status 2."""

    exit_code = 2


class QuizMailGroup(click.Group):
    """Reports a configuration problem, or a file or directory that cannot be used, as one line,
    whichever command met it."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:  # a full disk, a path through a file, a denied directory
            where = f": {exc.filename}" if exc.filename else ""
            raise CommandFailed(f"{exc.strerror or exc}{where}") from None


def text_argument(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A command-line value that is text: bytes that are not UTF-8 (they reach Python as lone
    surrogates) are a usage error, not a traceback further on."""
    if value is not None and LONE_SURROGATE.search(value):
        raise click.BadParameter("is not valid UTF-8 text")
    return value


@click.group(cls=QuizMailGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="quizmail")
def main() -> None:
    """QuizMail: multiple-choice quizzes whose results are emailed by our own SMTP client."""


# --- check: validate quiz files ------------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def check(paths: tuple[Path, ...]) -> None:
    """Validate quiz files (default: the configured questions directory).

    Every problem is printed as FILE:LINE: MESSAGE; the exit status is 1 when there is any.
    """
    from app.quiz import QuizFileError, load_quiz

    given = paths or (Path(_questions_dir()),)
    files = _quiz_paths(given)
    if not files:
        where = ", ".join(str(path) for path in given)
        click.echo(f"{where}: no quiz files here (they end in .yaml or .yml)", err=True)
    failed = 0
    for path in files:
        try:
            quiz = load_quiz(path)
        except QuizFileError as error:
            failed += 1
            for problem in error.problems:
                click.echo(str(problem), err=True)
        else:
            questions = counted(len(quiz.questions), "question")
            click.echo(f"{path}: ok ({questions}, version {quiz.version})")
    verb = "is" if len(files) == 1 else "are"
    click.echo(f"{len(files) - failed} of {counted(len(files), 'quiz file')} {verb} valid.")
    if failed or not files:
        raise SystemExit(1)


def _questions_dir() -> str:
    from app.config import DEFAULTS, ENV_PREFIX

    return os.environ.get(f"{ENV_PREFIX}_QUESTIONS_DIR", DEFAULTS["QUESTIONS_DIR"])


def _quiz_paths(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given; directories expand to the quiz files in them."""
    from app.quiz import quiz_files

    found: list[Path] = []
    for path in paths:
        found.extend(quiz_files(path) if path.is_dir() else [path])
    return found


# --- send: one message through our SMTP client -------------------------------------------------

Security = Literal["none", "starttls", "tls"]
# Relay (RFC 5321 §4.5.4), submission with STARTTLS (RFC 6409 §3.1), implicit TLS (RFC 8314 §7.3).
SEND_DEFAULT_PORTS: dict[Security, int] = {"none": 25, "starttls": 587, "tls": 465}
SEND_TIMEOUT = 60.0  # seconds: a person is waiting at the terminal


@main.command()
@click.option("--server", required=True, metavar="HOST[:PORT]", help="The SMTP server (relay).")
@click.option("--from", "sender", required=True, metavar="ADDRESS", help="The sender's address.")
@click.option(
    "--to", "recipients", required=True, multiple=True, metavar="ADDRESS", help="Repeat for more."
)
@click.option("--subject", required=True)
@click.option("--body", help="The message text (else --body-file, else standard input).")
@click.option(
    "--body-file", type=click.Path(dir_okay=False, path_type=Path), help="Read the text from F."
)
@click.option("--security", type=click.Choice(["none", "starttls", "tls"]), default="none")
@click.option("--user", help="Log in as this user (AUTH PLAIN or LOGIN, over TLS only).")
@click.option(
    "--password-env", metavar="VAR", help="The environment variable holding the password."
)
@click.option("--timeout", type=float, default=SEND_TIMEOUT, show_default=True, help="Seconds.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Print the SMTP dialogue (S: server, C: client)."
)
@click.option(
    "--explain", is_flag=True, help="With -v: explain each line, with the RFC section behind it."
)
def send(
    *,
    server: str,
    sender: str,
    recipients: tuple[str, ...],
    subject: str,
    body: str | None,
    body_file: Path | None,
    security: Security,
    user: str | None,
    password_env: str | None,
    timeout: float,
    verbose: bool,
    explain: bool,
) -> None:
    """Send one message. Exit 0: every recipient took it; 1: some refused it; 2: none took it
    (every recipient refused it, or the send failed)."""
    from app.mail import build_message
    from app.smtp import SMTPClient, SMTPError

    client = None
    try:
        host, port = parse_server(server, SEND_DEFAULT_PORTS[security])
        password = password_from_env(user, password_env)
        text = read_body(body, body_file)
        message = build_message(sender=sender, to=list(recipients), subject=subject, text=text)
        client = SMTPClient(
            host, port, security=security, timeout=timeout, username=user, password=password
        )
        with client:
            result = client.send(message, sender, recipients)
    except (SMTPError, ValueError, OSError) as exc:
        send_failed(exc, client, verbose, explain)
    if verbose:
        print_dialogue(client.transcript, explain)
    for address, reply in result.refused.items():
        click.echo(f"refused <{address}>: {reply}", err=True)
    click.echo(f"sent to {', '.join(result.accepted)}: {result.reply}")
    sys.exit(1 if result.refused else 0)


def parse_server(server: str, default_port: int) -> tuple[str, int]:
    """HOST, HOST:PORT, [IPv6] or [IPv6]:PORT."""
    host, port = server, str(default_port)
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif server.count(":") == 1:
        host, port = server.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--server {server!r} is not HOST[:PORT]")
    return host, int(port)


def password_from_env(user: str | None, variable: str | None) -> str | None:
    if user is None:
        return None
    if variable is None:
        raise ValueError("--user needs --password-env VAR naming the variable with the password")
    if variable not in os.environ:
        raise ValueError(f"--password-env: the environment variable {variable} is not set")
    return os.environ[variable]


def read_body(body: str | None, body_file: Path | None) -> str:
    if body is not None and body_file is not None:
        raise ValueError("give --body or --body-file, not both")
    if body is not None:
        return body
    if body_file is not None:
        return body_file.read_text(encoding="utf-8")
    return sys.stdin.read()


def print_dialogue(transcript: list[str], explain: bool) -> None:
    """The dialogue as it was, or with --explain each line followed by what it means."""
    if explain:
        from app.explain import explain as explain_lines
        from app.explain import format_steps

        transcript = format_steps(explain_lines(transcript))
    click.echo("\n".join(transcript))


def send_failed(exc: Exception, client: Any, verbose: bool, explain: bool = False) -> NoReturn:
    """One line saying why, never a traceback; the dialogue too with -v."""
    if verbose and client is not None and client.transcript:  # none when nothing connected
        print_dialogue(client.transcript, explain)
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    click.echo(f"quizmail send: {reason}", err=True)
    sys.exit(2)


# --- capture, serve, demo: the relay, the web app, both at once ----------------------------------

# Imports stay inside the commands so that `quizmail --help` starts quickly and each section of this
# file can change without touching the others.

_LOOPBACK = "127.0.0.1"


def _port_option(name: str, default: int, envvar: str | None = None) -> Callable[..., Any]:
    return click.option(name, default=default, show_default=True, type=PORT, envvar=envvar)


@main.command()
@click.option(
    "--host",
    default=_LOOPBACK,
    show_default=True,
    envvar="QUIZMAIL_CAPTURE_HOST",
    help="Address to listen on (loopback unless you mean otherwise).",
)
@_port_option("--port", DEFAULT_SMTP_PORT, "QUIZMAIL_CAPTURE_PORT")
@mailbox_store_option("Directory holding one Maildir per recipient.")
@click.option(
    "--domains",
    envvar="QUIZMAIL_CAPTURE_DOMAINS",
    help="Comma-separated domains to accept; others get 550 5.7.1 (no relaying).",
)
@click.option(
    "--users",
    envvar="QUIZMAIL_CAPTURE_USERS",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File of accepted addresses, one a line (# comments); others get 550 5.1.1.",
)
@click.option(
    "--max-size",
    type=click.IntRange(1),
    envvar="QUIZMAIL_CAPTURE_MAX_SIZE",
    help="Largest message in bytes (SIZE, RFC 1870)  [default: 25 MiB]",
)
@capture_pop3_options  # --pop3-port, --pop3-users, --pop3-instructor, --tls-cert, --tls-key
def capture(
    *,
    host: str,
    port: int,
    mailbox: Path,
    domains: str | None,
    users: Path | None,
    max_size: int | None,
    **pop3_settings: Any,
) -> None:
    """Run the SMTP capture server: it stores every accepted message and never relays."""
    from app.capture import DEFAULT_MAX_SIZE, CaptureServer, RecipientPolicy
    from app.pop3.cli import pop3_services

    policy = RecipientPolicy.from_options(domains.split(",") if domains else None, users)
    server = CaptureServer(mailbox, host, port, policy, max_size or DEFAULT_MAX_SIZE)
    pop3 = pop3_services(server.store, host, **pop3_settings)

    def ready() -> None:
        click.echo(f"SMTP capture on {host}:{port}, mailbox {mailbox}")
        for service in pop3:
            click.echo(service.name)

    _run([server, *pop3], ready)


@main.command()
@click.option("--host", default=_LOOPBACK, show_default=True, envvar="QUIZMAIL_WEB_HOST")
@_port_option("--port", DEFAULT_WEB_PORT, "QUIZMAIL_WEB_PORT")
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1),
    help="gunicorn worker processes.",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web app (under gunicorn when it is installed)."""
    from app import create_app
    from app.serve import ServiceError, serve_web

    try:
        serve_web(create_app(), host, port, workers)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--host", default=_LOOPBACK, show_default=True)
@_port_option("--web-port", DEFAULT_WEB_PORT)
@_port_option("--smtp-port", DEFAULT_SMTP_PORT)
@_port_option("--pop3-port", DEFAULT_POP3_PORT)
@click.option(
    "--var",
    "var_dir",
    default="var",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo keeps its mailbox, outbox and secret key.",
)
def demo(host: str, web_port: int, smtp_port: int, pop3_port: int, var_dir: Path) -> None:
    """Run everything at once (capture server and web app): what `make run` runs."""
    from app.serve import Demo

    settings = Demo(
        host=host, web_port=web_port, smtp_port=smtp_port, pop3_port=pop3_port, var_dir=var_dir
    )
    _run(settings.services(), lambda: click.echo(settings.banner()))


def _run(services: Sequence[Service], on_ready: Callable[[], None]) -> None:
    """Run *services* until Ctrl-C; a port in use or another start failure is a one-line error."""
    import logging

    from app.serve import ServiceError, run_services

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")

    def ready() -> None:
        on_ready()
        sys.stdout.flush()  # the banner must show at once, also when stdout is a pipe

    try:
        run_services(services, ready)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None


# --- mailbox: the captured mail without a browser ------------------------------------------------


def _configured_app() -> Flask:
    """The app as configured (``QUIZMAIL_*`` settings, or the one ``flask --app`` names)."""
    from flask.cli import ScriptInfo

    from app import create_app

    info = click.get_current_context().find_object(ScriptInfo)
    return info.load_app() if info is not None else create_app()


def _mailbox_store(mailbox_dir: Path | None) -> MailStore:
    """The store under *mailbox_dir*, else under the configured ``MAILBOX_DIR``."""
    from app.store import MailStore

    if mailbox_dir is None:
        mailbox_dir = Path(_configured_app().config["MAILBOX_DIR"])
    return MailStore(mailbox_dir)


mailbox_dir_option = click.option(
    "--mailbox",
    "mailbox_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The captured mail directory (default: the configured MAILBOX_DIR).",
)


@main.group()
def mailbox() -> None:
    """The captured mail without a browser: list, show, export the gradebook."""


#: More than any mail store holds, and within SQLite's 64-bit integers.
MAX_LIST_LIMIT = 10**9


@mailbox.command("list")
@mailbox_dir_option
@click.option(
    "--to",
    "recipient",
    metavar="ADDR",
    callback=text_argument,
    help="Only the mailbox of this address (case ignored).",
)
@click.option(
    "--search",
    metavar="TEXT",
    callback=text_argument,
    help="Find TEXT in sender, recipients, subject or text.",
)
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, MAX_LIST_LIMIT),
    help="At most this many, newest first.",
)
def mailbox_list(
    mailbox_dir: Path | None, recipient: str | None, search: str | None, limit: int
) -> None:
    """List captured messages, newest first (tab-separated, with a header line).

    SIZE is in IEC units (1 KiB = 1024 B); `mailbox show` accepts the start of an ID.
    """
    from app.store.message_view import human_size, utc_text

    store = _mailbox_store(mailbox_dir)
    click.echo("\t".join(("ID", "RECEIVED", "MAILBOX", "FROM", "SIZE", "SUBJECT")))
    for summary in store.search(to=recipient, text=search, limit=limit):
        received = utc_text(summary.received_at)
        columns = (
            summary.id,
            received,
            visible(summary.recipient),
            visible(summary.sender),
            human_size(summary.size),
        )
        click.echo("\t".join((*columns, visible(summary.subject))))
    total = store.count(to=recipient, text=search)
    click.echo(f"{min(total, limit)} of {counted(total, 'message')} shown.", err=True)


@mailbox.command("show")
@mailbox_dir_option
@click.argument("message_id")
@click.option("--raw", is_flag=True, help="The message exactly as stored (RFC 5322 bytes).")
def mailbox_show(mailbox_dir: Path | None, message_id: str, raw: bool) -> None:
    """Show one message: headers, text part and attachments.

    MESSAGE_ID is an id from `mailbox list`, or enough of its start to name one message.
    """
    from app.store.message_view import human_size, parse_message

    store = _mailbox_store(mailbox_dir)
    try:
        data = store.get_bytes(_message_id(store, message_id))
    except (KeyError, FileNotFoundError, ValueError):  # deleted since: as if never there
        raise click.ClickException(_no_message(message_id)) from None
    if raw:
        sys.stdout.buffer.write(data)
        return
    view = parse_message(data)
    for name, value in view.headers:
        click.echo(visible(f"{name}: {value}"))
    click.echo()
    if view.text is None:
        click.echo("(no text part; --raw shows the source)")
    else:
        click.echo(visible(view.text, keep="\t\n"))
    for a in view.attachments:
        about = f"{a.filename} ({a.content_type}, {human_size(a.size)})"
        click.echo(f"Attachment {a.index}: {visible(about)}")


#: How many ids an ambiguous start of an id lists.
MAX_CANDIDATES = 10


def _message_id(store: MailStore, given: str) -> str:
    """The id *given* names: itself, or the one id it is the start of; ClickException else."""
    candidates = store.ids_starting_with(given, limit=MAX_CANDIDATES + 1)
    if not candidates:
        raise click.ClickException(_no_message(given))
    if candidates[0] == given or len(candidates) == 1:
        return candidates[0]
    shown = candidates[:MAX_CANDIDATES]
    more = "\n  and more" if len(candidates) > MAX_CANDIDATES else ""
    listing = "".join(f"\n  {candidate}" for candidate in shown)
    raise click.ClickException(
        f"{given!r} is the start of more than one message id; give more of it:{listing}{more}"
    )


def _no_message(given: str) -> str:
    return f"No message {given!r} in the captured mail; `quizmail mailbox list` shows ids."


@mailbox.command("export")
@mailbox_dir_option
@click.option(
    "--gradebook",
    "csv_file",
    required=True,
    type=click.File("wb", lazy=True),
    metavar="FILE.csv",
    help="Write the gradebook (one row per results email) as CSV; - for standard output.",
)
def mailbox_export(mailbox_dir: Path | None, csv_file: BinaryIO) -> None:
    """Export the gradebook built from the captured results emails."""
    from app.store import gradebook

    store = _mailbox_store(mailbox_dir)
    # The key tells the results this server signed from results anybody could have mailed.
    reader = gradebook.GradebookReader(_configured_app().config["SECRET_KEY"])
    rows = reader.read(store)
    csv_file.write(gradebook.to_csv(rows).encode("utf-8"))
    unverified = sum(row.unverified for row in rows)
    note = f" ({unverified} unverified: not signed by this server)" if unverified else ""
    click.echo(f"{counted(len(rows), 'gradebook row')} written to {csv_file.name}{note}.", err=True)
    for item in reader.unreadable(store):
        reason = visible(item.reason)
        click.echo(f"left out {item.store_id}: unreadable results ({reason})", err=True)


# --- deliver: the outbox worker ------------------------------------------------------------------


# --- pop3: the captured mailboxes over POP3 (docs/pop3.md) ---------------------------------------

main.add_command(pop3_command)
main.add_command(pop3_hash_command)


@main.command()
@click.option("--once", is_flag=True, help="Make one pass over the outbox, then exit.")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between passes.",
)
def deliver(once: bool, poll: float) -> None:
    """Send the messages waiting in the outbox, retrying with backoff.
    The relay and the outbox come from the configuration (QUIZMAIL_SMTP_HOST, QUIZMAIL_SMTP_PORT,
    QUIZMAIL_OUTBOX_DIR …). Several deliverers may share one outbox: none sends a message twice.
    """
    import contextlib
    import logging
    import signal

    from app import create_app
    from app.notify import Deliverer

    deliverer = Deliverer.from_config(create_app().config, poll_seconds=poll)
    relay = f"{deliverer.relay.host}:{deliverer.relay.port}"
    progress = logging.getLogger("app.notify")  # one line per delivery attempt
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    try:
        if once:
            deliverer.run_once()
        else:
            click.echo(
                f"Delivering from {deliverer.outbox.root} to {relay}; Ctrl-C stops.", err=True
            )
            signal.signal(signal.SIGTERM, lambda *_: deliverer.stop())
            with contextlib.suppress(KeyboardInterrupt):
                deliverer.run_forever()
    finally:
        progress.removeHandler(handler)
    counts = deliverer.outbox.counts()
    click.echo(
        f"outbox: {counts['queued']} queued, {counts['sent']} sent, {counts['failed']} failed"
    )
