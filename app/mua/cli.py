"""``quizmail client`` (the terminal mail client) and ``quizmail fetch`` (a maildrop downloaded).

Both log in to a POP3 server with our client (:mod:`app.pop3client`); the client sends with our
SMTP client. The defaults are the demo's servers (``quizmail demo``: POP3 on 127.0.0.1:8110,
SMTP on 127.0.0.1:8025). Bad input is one line and exit status 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from app.config import DEFAULT_POP3_PORT, DEFAULT_SMTP_PORT
from app.mua.terminal import Console, Login, NotSent, TerminalClient
from app.pop3client import DEFAULT_PORTS, POP3Client, POP3Error, Security
from app.words import counted

F = TypeVar("F", bound=Callable[..., Any])
DEMO_POP3 = f"127.0.0.1:{DEFAULT_POP3_PORT}"
DEMO_SMTP = f"127.0.0.1:{DEFAULT_SMTP_PORT}"
#: A person waits at the terminal; a download of a large maildrop waits for each response only.
CLIENT_TIMEOUT = 30.0
FETCH_TIMEOUT = 120.0

__all__ = ["client_command", "fetch_command"]


def pop3_options(command: F) -> F:
    """``--security``, ``--cafile``, ``--user``, ``--password-env`` and ``--timeout``."""
    for option in reversed(
        [
            click.option(
                "--security",
                type=click.Choice(["none", "stls", "tls"]),
                default="none",
                show_default=True,
                help="STLS upgrades port 110 (RFC 2595); tls is implicit TLS, port 995.",
            ),
            click.option(
                "--cafile",
                type=click.Path(dir_okay=False, exists=True, path_type=Path),
                help="Trust the CA certificates in this PEM file (else the system's).",
            ),
            click.option("--user", help="The POP3 login."),
            click.option(
                "--password-env", metavar="VAR", help="The environment variable with the password."
            ),
        ]
    ):
        command = option(command)
    return command


def _context(cafile: Path | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except ssl.SSLError as exc:
        _fail(f"--cafile {cafile}: not a PEM file of CA certificates ({exc.reason or exc})")


def _pop3_factory(
    server: str, security: Security, cafile: Path | None, timeout: float
) -> Callable[[], POP3Client]:
    """A function connecting a new POP3Client; ValueError for a server that is no HOST[:PORT]."""
    from app.cli import parse_server

    host, port = parse_server(server, DEFAULT_PORTS[security])
    context = _context(cafile) if security != "none" else None

    def connect() -> POP3Client:
        pop = POP3Client(host, port, security=security, timeout=timeout, ssl_context=context)
        pop.connect()
        return pop

    return connect


def _password(variable: str | None) -> str | None:
    if variable is None:
        return None
    if variable not in os.environ:
        _fail(f"--password-env: the environment variable {variable} is not set")
    return os.environ[variable]


def _fail(message: str) -> NoReturn:
    click.echo(f"quizmail: {message}", err=True)
    sys.exit(2)


# --- quizmail client ---------------------------------------------------------------------------


@click.command("client")
@click.option("--server", metavar="HOST[:PORT]", help=f"The POP3 server (asked; {DEMO_POP3}).")
@pop3_options
@click.option(
    "--smtp-server",
    metavar="HOST[:PORT]",
    default=DEMO_SMTP,
    show_default=True,
    help="Where Send Mail sends (the demo's capture server).",
)
@click.option(
    "--smtp-security",
    type=click.Choice(["none", "starttls", "tls"]),
    default="none",
    show_default=True,
)
def client_command(
    *,
    server: str | None,
    security: Security,
    cafile: Path | None,
    user: str | None,
    password_env: str | None,
    smtp_server: str,
    smtp_security: str,
) -> None:
    """Read, delete, write and send mail in the terminal: Manage Mail, Send Mail, Quit.

    Asks for the server, user and password unless given. Every prompt reads a line of standard
    input, so it can be scripted. Deletions take effect only when you choose Quit.
    """
    from app.mua.session import MailSession

    def make_session(address: str, name: str, password: str) -> MailSession:
        connect = _pop3_factory(address, security, cafile, CLIENT_TIMEOUT)
        return MailSession(connect, name, password)

    send = partial(_send, server=smtp_server, security=smtp_security, cafile=cafile)
    login = Login(DEMO_POP3, server, user, _password(password_env))
    status = TerminalClient(Console(sys.stdin, sys.stdout), make_session, send, login).run()
    sys.exit(status)


def _send(
    sender: str,
    to: list[str],
    subject: str,
    text: str,
    *,
    server: str,
    security: Any,
    cafile: Path | None,
) -> None:
    from app.cli import SEND_DEFAULT_PORTS, parse_server
    from app.mail import build_message
    from app.smtp import SMTPClient, SMTPError

    try:
        host, port = parse_server(server, SEND_DEFAULT_PORTS[security])
        message = build_message(sender=sender, to=to, subject=subject, text=text)
        context = _context(cafile) if security != "none" else None
        with SMTPClient(
            host, port, security=security, timeout=CLIENT_TIMEOUT, ssl_context=context
        ) as smtp:
            result = smtp.send(message, sender, to)
    except (SMTPError, ValueError, OSError) as exc:
        raise NotSent(
            str(exc.strerror if isinstance(exc, OSError) and exc.strerror else exc)
        ) from exc
    if result.refused:
        refused = ", ".join(f"<{a}>: {r}" for a, r in result.refused.items())
        raise NotSent(f"refused for {refused} (sent to the others)")


# --- quizmail fetch ----------------------------------------------------------------------------


@click.command("fetch")
@click.option("--server", metavar="HOST[:PORT]", default=DEMO_POP3, show_default=True)
@pop3_options
@click.option(
    "--maildir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Store into this Maildir (made if missing).",
)
@click.option(
    "--mbox", type=click.Path(dir_okay=False, path_type=Path), help="Append to this mbox file."
)
@click.option("--delete", is_flag=True, help="Delete on the server what is stored here (at QUIT).")
@click.option(
    "--uidls",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The log of messages already fetched (default: beside the mailbox, NAME.uidls).",
)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=FETCH_TIMEOUT, show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="Print the POP3 dialogue (passwords left out).")
def fetch_command(
    *,
    server: str,
    security: Security,
    cafile: Path | None,
    user: str | None,
    password_env: str | None,
    maildir: Path | None,
    mbox: Path | None,
    delete: bool,
    uidls: Path | None,
    timeout: float,
    verbose: bool,
) -> None:
    """Download new mail over POP3 into a Maildir or an mbox, resuming by UIDL.

    Only messages not fetched before are downloaded; each is written only once it arrived
    whole. With --delete the server removes, at QUIT, every message stored here; if anything
    fails first, nothing is deleted. Exit 0, or 2 with one line saying what failed.
    """
    from app.mua.fetch import fetch
    from app.mua.local import LocalMailbox, Maildir, Mbox, SeenLog

    if (maildir is None) == (mbox is None):
        _fail("give --maildir DIR or --mbox FILE (one of them)")
    if user is None:
        _fail("--user is required (with --password-env VAR, or the password is asked)")
    password = _password(password_env) or _ask_password()
    destination = maildir or mbox
    assert destination is not None
    pop = None
    try:
        connect = _pop3_factory(server, security, cafile, timeout)
        local: LocalMailbox = Maildir(maildir) if maildir else Mbox(mbox)  # type: ignore[arg-type]
        log = uidls or destination.with_name(destination.name + ".uidls")
        with SeenLog(log, f"{user}@{server}") as seen, contextlib.closing(local):
            pop = connect()
            try:
                pop.login(user, password)
                result = fetch(pop, local, seen, delete=delete)
            finally:
                pop.close()  # after an error: RSET, QUIT, so that nothing is deleted
    except (POP3Error, ValueError) as exc:
        if verbose and pop is not None:
            click.echo("\n".join(pop.transcript), err=True)
        _fail(f"fetch from {server}: {exc}")
    if verbose:
        click.echo("\n".join(pop.transcript), err=True)
    kept = "" if not result.skipped else f", {result.skipped} fetched before"
    gone = f", {result.deleted} deleted on the server" if result.deleted else ""
    click.echo(f"{counted(result.fetched, 'new message')} into {destination}{kept}{gone}.")
    if result.no_uidl:
        click.echo("note: the server has no UIDL, so every run fetches every message", err=True)


def _ask_password() -> str:
    if not sys.stdin.isatty():
        _fail("--password-env VAR is required when standard input is not a terminal")
    return click.prompt("Password", hide_input=True, err=True)
