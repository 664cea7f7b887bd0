"""The POP3 parts of the ``quizmail`` command: ``pop3``, ``pop3-hash`` and shared options.

``pop3_options`` adds ``--pop3-users``/``--pop3-instructor``/``--apop``/``--no-apop`` (and their
``QUIZMAIL_POP3_*`` environment variables), ``tls_options`` ``--tls-cert``/``--tls-key``;
``capture_pop3_options`` adds both and ``--pop3-port`` to ``quizmail capture``, and
``pop3_services`` turns what they gave into the services to run beside the SMTP capture server.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from app.pop3.server import DEFAULT_POP3_PORT, POP3Controller, POP3Server, serve_pop3
from app.pop3.users import Users, UsersFileError, hash_password

#: A TCP port as every command takes one (RFC 793: 16 bits; 0 is no port to listen on).
PORT = click.IntRange(1, 65535)

if TYPE_CHECKING:
    from app.store import MailStore

__all__ = [
    "capture_pop3_options",
    "demo_pop3",
    "pop3_command",
    "pop3_hash_command",
    "pop3_options",
    "pop3_server",
    "pop3_services",
    "tls_context",
    "tls_options",
]

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_INSTRUCTOR = "instructor"


def mailbox_store_option(help: str) -> Callable[[F], F]:
    """``--mailbox DIR``: the mail store a server works on (``QUIZMAIL_MAILBOX_DIR``)."""
    return click.option(
        "--mailbox",
        default="var/mailbox",
        show_default=True,
        envvar="QUIZMAIL_MAILBOX_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        help=help,
    )


def pop3_options(command: F) -> F:
    """``--pop3-users FILE``, ``--pop3-instructor NAME`` and ``--apop``/``--no-apop`` for a
    command that serves POP3."""
    command = click.option(
        "--apop/--no-apop",
        default=None,
        envvar="QUIZMAIL_POP3_APOP",
        help="Offer APOP (RFC 1939 §7) in the greeting, or not  [default: only when every"
        " password in the users file is plain text; docs/pop3.md]",
    )(command)
    command = click.option(
        "--pop3-instructor",
        default=DEFAULT_INSTRUCTOR,
        show_default=True,
        envvar="QUIZMAIL_POP3_INSTRUCTOR",
        help="Login name that may read any mailbox as NAME+ADDRESS with its own password.",
    )(command)
    return click.option(
        "--pop3-users",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        envvar="QUIZMAIL_POP3_USERS",
        help="POP3 logins: 'address password' lines, plain or hashed (docs/pop3.md).",
    )(command)


def tls_options(command: F) -> F:
    """``--tls-cert``/``--tls-key``: with a certificate the POP3 server offers STLS."""
    for name in ("--tls-key", "--tls-cert"):
        what = "private key" if name == "--tls-key" else "certificate chain"
        command = click.option(
            name,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help=f"PEM {what} for POP3 STLS (RFC 2595).",
        )(command)
    return command


def capture_pop3_options(command: F) -> F:
    """Everything ``quizmail capture`` needs to serve POP3 too (off without ``--pop3-port``)."""
    command = tls_options(pop3_options(command))
    return click.option(
        "--pop3-port",
        type=click.IntRange(1, 65535),
        envvar="QUIZMAIL_POP3_PORT",
        help=f"Also serve the mailboxes over POP3 on this port (e.g. {DEFAULT_POP3_PORT}).",
    )(command)


def pop3_services(
    store: MailStore,
    host: str,
    *,
    pop3_port: int | None,
    pop3_users: Path | None,
    pop3_instructor: str,
    tls_cert: Path | None,
    tls_key: Path | None,
    apop: bool | None = None,
) -> list[POP3Controller]:
    """The POP3 server over *store* to run beside the capture server, if ``--pop3-port``."""
    if pop3_port is None:
        return []
    users = load_users(pop3_users, pop3_instructor)
    context = tls_context(tls_cert, tls_key)
    return [
        POP3Controller(
            POP3Server.over_store(store, users, ssl_context=context, apop=apop), host, pop3_port
        )
    ]


def demo_pop3(store: MailStore, host: str, port: int, instructor_password: str) -> POP3Controller:
    """The demo's POP3 server: the instructor reads any mailbox as ``instructor+ADDRESS``."""
    users = load_users(None, DEFAULT_INSTRUCTOR).with_account(
        DEFAULT_INSTRUCTOR, instructor_password
    )
    return POP3Controller(POP3Server.over_store(store, users), host, port)


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The server-side TLS context for STLS, or None without a certificate."""
    if cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise click.ClickException(f"cannot load the TLS certificate {cert}: {exc}") from exc
    return context


def load_users(path: Path | None, instructor: str | None) -> Users:
    """The logins of the users file (none without one), as a clear error if it is malformed."""
    if path is None:
        return Users({}, instructor)
    try:
        return Users.from_file(path, instructor)
    except (UsersFileError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc


def pop3_server(
    mailbox: Path,
    users_file: Path | None,
    instructor: str | None,
    ssl_context: ssl.SSLContext | None = None,
    apop: bool | None = None,
) -> POP3Server:
    """The POP3 server for the mailboxes under *mailbox*, from the command-line options."""
    from app.store import MailStore

    users = load_users(users_file, instructor)
    return POP3Server.over_store(MailStore(mailbox), users, ssl_context=ssl_context, apop=apop)


def apop_said(pop3: POP3Server) -> str:
    """What the banner says of APOP, and why when it is not what the option asked for."""
    if not pop3.offers_apop:
        return "APOP off"
    if pop3.users.all_plain:
        return "APOP on"
    return "APOP on (accounts with hashed passwords cannot use it: docs/pop3.md)"


@click.command("pop3")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_POP3_PORT, show_default=True, type=PORT)
@mailbox_store_option("The capture server's mail store.")
@pop3_options
@tls_options
def pop3_command(
    *,
    host: str,
    port: int,
    mailbox: Path,
    pop3_users: Path | None,
    pop3_instructor: str,
    tls_cert: Path | None,
    tls_key: Path | None,
    apop: bool | None,
) -> None:
    """Serve the captured mailboxes over POP3 (RFC 1939) until interrupted."""
    context = tls_context(tls_cert, tls_key)
    pop3 = pop3_server(mailbox, pop3_users, pop3_instructor, context, apop)
    stls = " with STLS" if pop3.ssl_context else ""
    click.echo(
        f"POP3 on {host}:{port}{stls}, {apop_said(pop3)}, mailboxes in {mailbox}; Ctrl+C stops"
    )
    try:
        serve_pop3(pop3, host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


@click.command("pop3-hash")
@click.option(
    "--scheme",
    type=click.Choice(["scrypt", "pbkdf2_sha256"]),
    default="scrypt",
    show_default=True,
)
@click.password_option(help="The password to hash (asked for when not given).")
def pop3_hash_command(scheme: str, password: str) -> None:
    """Print a hashed password for a POP3 users file line: ADDRESS HASH."""
    click.echo(hash_password(password, scheme))
