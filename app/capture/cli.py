"""The SMTP options of ``quizmail capture``: TLS, AUTH, more ports, faults and retention.

``capture_smtp_options`` adds them to the command and hands them over as one
:class:`SMTPOptions`; ``capture_server`` turns that into a :class:`CaptureServer`, or a one-line
error naming the option that cannot be used. docs/capture.md explains each.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from app.config import DEFAULT_SUBMISSION_PORT, DEFAULT_TLS_PORT
from app.store.sessions import DEFAULT_KEEP

if TYPE_CHECKING:  # the rest is imported when a server is made: `quizmail --help` stays quick
    from app.capture.auth import Logins
    from app.capture.handler import RecipientPolicy
    from app.capture.retention import Retention
    from app.capture.server import CaptureServer

__all__ = ["SMTPOptions", "capture_server", "capture_smtp_options"]

F = TypeVar("F", bound=Callable[..., Any])
PORT = click.IntRange(1, 65535)
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@dataclass(frozen=True)
class SMTPOptions:
    """What the options gave (None or False: not given)."""

    submission_port: int | None = None
    tls_port: int | None = None
    tls_local_ca: Path | None = None
    auth_users: Path | None = None
    auth_login: str | None = None
    auth_required: bool = False
    auth_insecure: bool = False
    faults: Path | None = None
    max_messages: int | None = None
    max_age: str | None = None


def _env(name: str) -> str:
    return f"QUIZMAIL_CAPTURE_{name.upper()}"


_OPTIONS = [
    click.option(
        "--submission-port", type=PORT, envvar=_env("submission_port"),
        help="Also listen here as a submission port: STARTTLS, then AUTH before MAIL"
        f" (587-style, e.g. {DEFAULT_SUBMISSION_PORT}).",
    ),
    click.option(
        "--tls-port", type=PORT, envvar=_env("tls_port"),
        help=f"Also listen here with implicit TLS (RFC 8314; 465-style, e.g. {DEFAULT_TLS_PORT}).",
    ),
    click.option(
        "--tls-local-ca", type=click.Path(file_okay=False, path_type=Path),
        envvar=_env("tls_local_ca"), metavar="DIR",
        help="Instead of --tls-cert/--tls-key: a certificate made on first run under DIR,"
        " signed by DIR/ca.pem (what clients trust).",
    ),
    click.option(
        "--auth-users", type=EXISTING_FILE, envvar=_env("auth_users"),
        help="Logins for AUTH PLAIN/LOGIN: 'address password' lines, plain or hashed, the"
        " --pop3-users format.",
    ),
    click.option(
        "--auth-login", metavar="NAME:FILE", envvar=_env("auth_login"),
        help="Also accept NAME with the password kept in FILE (random, made on first run):"
        " how a web app given QUIZMAIL_SMTP_PASSWORD_FILE logs in.",
    ),
    click.option(
        "--auth-required", is_flag=True, envvar=_env("auth_required"),
        help="MAIL before AUTH gets 530 5.7.0 on every port (the submission port always).",
    ),
    click.option(
        "--auth-insecure", is_flag=True, envvar=_env("auth_insecure"),
        help="Offer AUTH without TLS too, for a lab (RFC 4954 wants TLS first).",
    ),
    click.option(
        "--faults", type=EXISTING_FILE, envvar=_env("faults"), metavar="FILE.yaml",
        help="Scripted faults: rules saying when to refuse, stall or hang up (docs/capture.md).",
    ),
    click.option(
        "--max-messages", type=click.IntRange(1), envvar=_env("max_messages"),
        help="Keep at most this many messages; the oldest go  [default: no limit]",
    ),
    click.option(
        "--max-age", metavar="AGE", envvar=_env("max_age"),
        help="Remove messages older than AGE (30d, 12h, 90m, seconds)  [default: keep]",
    ),
]  # fmt: skip
_NAMES = tuple(f.name for f in fields(SMTPOptions))


def capture_smtp_options(command: F) -> F:
    """Add the SMTP options to *command*, which receives them as ``smtp: SMTPOptions``."""

    @functools.wraps(command)
    def with_options(**kwargs: Any) -> Any:
        smtp = SMTPOptions(**{name: kwargs.pop(name) for name in _NAMES})
        return command(smtp=smtp, **kwargs)

    for option in reversed(_OPTIONS):
        with_options = option(with_options)
    return with_options  # type: ignore[return-value]


def _logins(options: SMTPOptions) -> Logins | None:
    from app.capture.auth import Logins
    from app.config import persistent_secret
    from app.pop3.cli import load_users
    from app.pop3.users import Users

    if options.auth_users is None and options.auth_login is None:
        return None
    users = load_users(options.auth_users, None) if options.auth_users else Users({})
    if options.auth_login is not None:
        name, colon, file = options.auth_login.partition(":")
        if not (name.strip() and colon and file):
            raise click.BadParameter("should be NAME:FILE", param_hint="--auth-login")
        users = users.with_account(name, persistent_secret(Path(file)))
    return Logins(users, insecure=options.auth_insecure, required=options.auth_required)


def _tls(options: SMTPOptions, host: str, cert: Path | None, key: Path | None) -> Any:
    from app.capture.tls import LocalCA, default_names, server_context

    if options.tls_local_ca is not None:
        if cert is not None:
            raise click.UsageError("give --tls-cert/--tls-key or --tls-local-ca, not both")
        return LocalCA(options.tls_local_ca).ensure(default_names(host)).server_context()
    return server_context(cert, key) if cert is not None else None


def _retention(options: SMTPOptions) -> Retention:
    from app.capture.retention import Retention, parse_age

    try:
        age = parse_age(options.max_age) if options.max_age is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-age") from None
    return Retention(options.max_messages, age)


def capture_server(
    mailbox: Path,
    host: str,
    port: int,
    policy: RecipientPolicy,
    *,
    max_size: int,
    options: SMTPOptions,
    tls_cert: Path | None,
    tls_key: Path | None,
    keep_sessions: int = DEFAULT_KEEP,
) -> CaptureServer:
    """The server the options describe; a click error (one line) for any that cannot be used."""
    from app.capture.faults import Faults, FaultsFileError
    from app.capture.server import CaptureServer
    from app.capture.tls import TLSConfigError

    try:
        tls = _tls(options, host, tls_cert, tls_key)
        faults = Faults.from_file(options.faults) if options.faults else None
    except (TLSConfigError, FaultsFileError) as exc:
        raise click.ClickException(str(exc)) from None
    logins = _logins(options)
    if options.submission_port is not None and (tls is None or logins is None):
        raise click.UsageError(
            "--submission-port needs a certificate (--tls-cert or --tls-local-ca) and logins"
            " (--auth-users or --auth-login)"
        )
    if options.tls_port is not None and tls is None:
        raise click.UsageError("--tls-port needs a certificate (--tls-cert or --tls-local-ca)")
    return CaptureServer(
        mailbox, host, port, policy, max_size,
        tls=tls, submission_port=options.submission_port, tls_port=options.tls_port,
        logins=logins, faults=faults, retention=_retention(options),
        keep_sessions=keep_sessions,
    )  # fmt: skip


def local_ca_files(options: SMTPOptions) -> tuple[Path, Path] | None:
    """The certificate and key --tls-local-ca made, for POP3's STLS to use as well."""
    from app.capture.tls import LocalCA

    if options.tls_local_ca is None:
        return None
    ca = LocalCA(options.tls_local_ca)
    return ca.cert, ca.key


def describe(server: CaptureServer, options: SMTPOptions) -> list[str]:
    """What `quizmail capture` prints about TLS, AUTH, faults and retention once it listens."""
    from app.capture.tls import LocalCA

    lines = []
    if options.tls_local_ca is not None:
        lines.append(f"TLS: clients should trust {LocalCA(options.tls_local_ca).ca_cert}")
    if server.logins is not None:
        where = "over TLS or plaintext" if server.logins.insecure else "over TLS"
        lines.append(f"AUTH {' '.join(server.logins.mechanisms)} {where}")
    if server.faults is not None:
        lines.append(f"faults: {len(server.faults.rules)} rules from {options.faults}")
    if server.retention:
        lines.append(f"retention: {server.retention}, the oldest go first")
    return lines
