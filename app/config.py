"""Configuration: embedded defaults, then ``QUIZMAIL_*`` environment variables, then test overrides.

Every setting has a safe default so that ``quizmail demo`` needs nothing configured.
``QUIZMAIL_SMTP_PORT=2525`` sets ``SMTP_PORT``. Passwords, keys, names and paths are taken
exactly as written; other values are parsed as JSON where they can be, so numbers arrive as
numbers and ``false`` as False, and a setting whose default is a number must be one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from app.durable import write_draft

ENV_PREFIX = "QUIZMAIL"

#: The checkout (or installed tree) that holds ``questions/``, ``templates/`` and ``static/``.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_SMTP_PORT = 8025  # the capture server's port in the demo (aiosmtpd's customary 8025)
DEFAULT_POP3_PORT = 8110  # the capture server's POP3 port in the demo
DEFAULT_SUBMISSION_PORT = 8587  # its submission port (587, RFC 6409, where a user may listen)
DEFAULT_TLS_PORT = 8465  # and its implicit-TLS port when asked for one (465, RFC 8314 §7.3)
DEFAULT_WEB_PORT = 8000
#: ``QUIZMAIL_SMTP_HOST=mx``: deliver straight to each recipient's domain instead of a relay.
DIRECT_HOST = "mx"
DEFAULT_TELNET_PORT = 8023  # the telnet quiz's port in the demo (23 needs root)

DEFAULTS: dict[str, Any] = {
    "QUESTIONS_DIR": str(PROJECT_ROOT / "questions"),
    # Relative to the working directory; MAILBOX_DIR and OUTBOX_DIR default inside it.
    "VAR_DIR": "var",
    "MAILBOX_DIR": None,
    "OUTBOX_DIR": None,
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": DEFAULT_SMTP_PORT,
    "SMTP_SECURITY": "none",  # none | starttls | tls
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    # A file holding the password instead (made, random, on first use): how docker-compose gives
    # the web app the login the capture server generated (its --auth-login NAME:FILE).
    "SMTP_PASSWORD_FILE": None,
    "SMTP_TIMEOUT": 30.0,  # seconds to reach the relay from a web request; the outbox retries later
    "MAIL_FROM": "QuizMail <quizmail@localhost>",
    # SMTP_HOST=mx: no relay; each recipient's domain gets the mail from its MX hosts
    # (docs/delivery.md). MX_PORT is theirs (RFC 5321 §4.5.4: 25; tests move it), DNS_SERVERS
    # ("127.0.0.1:5353,…") replaces /etc/resolv.conf's, and STARTTLS is opportunistic with the
    # certificate unchecked unless MX_VERIFY_TLS.
    "MX_PORT": 25,
    "DNS_SERVERS": None,
    "MX_VERIFY_TLS": False,
    # "Email my results" limits: per attempt (a typo or two, then stop) and per client per hour
    # (a classroom behind one NAT address needs more than one student's worth).
    "EMAILS_PER_ATTEMPT": 3,
    "EMAILS_PER_CLIENT_PER_HOUR": 20,
    "INSTRUCTOR_PASSWORD": None,  # no instructor login until one is set (the demo generates one)
    "INSTRUCTOR_SESSION_MINUTES": 120,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # A student may spend a long exam on one page; the session bounds the token instead.
    "WTF_CSRF_TIME_LIMIT": None,
}


#: Settings read from the environment exactly as written. Parsing them as JSON (as Flask's
#: ``from_prefixed_env`` does with every value) would turn the password ``1.50`` into ``1.5``,
#: ``null`` into no password at all and an all-digit secret key into an int.
TEXT_SETTINGS = frozenset(
    {
        "SECRET_KEY",
        "INSTRUCTOR_PASSWORD",
        "SMTP_HOST",
        "SMTP_SECURITY",
        "SMTP_USER",
        "SMTP_PASSWORD",
        "SMTP_PASSWORD_FILE",
        "MAIL_FROM",
        "DNS_SERVERS",
        "VAR_DIR",
        "MAILBOX_DIR",
        "OUTBOX_DIR",
        "QUESTIONS_DIR",
    }
)


class ConfigError(ValueError):
    """A ``QUIZMAIL_*`` variable that cannot be used; the message names it and says why."""


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings that ``QUIZMAIL_*`` variables in *environ* give, by setting name."""
    prefix = ENV_PREFIX + "_"
    settings: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(prefix):
            continue
        key = name.removeprefix(prefix)
        if key in TEXT_SETTINGS:
            settings[key] = raw
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        default = DEFAULTS.get(key)
        wants_number = isinstance(default, int | float) and not isinstance(default, bool)
        if wants_number and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigError(f"{name} must be a number, such as {default}, not {raw!r}")
        settings[key] = value
    return settings


def load(app: Flask, test_config: dict[str, Any] | None = None) -> None:
    """Fill ``app.config``: defaults < environment < ``test_config``; then derive what is left."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(from_environment(os.environ))
    if test_config:
        app.config.from_mapping(test_config)
    var_dir = Path(app.config["VAR_DIR"]).resolve()
    app.config["VAR_DIR"] = str(var_dir)
    app.config["MAILBOX_DIR"] = str(app.config["MAILBOX_DIR"] or var_dir / "mailbox")
    app.config["OUTBOX_DIR"] = str(app.config["OUTBOX_DIR"] or var_dir / "outbox")
    if app.config["SMTP_PASSWORD_FILE"] and not app.config["SMTP_PASSWORD"]:
        app.config["SMTP_PASSWORD"] = persistent_secret(Path(app.config["SMTP_PASSWORD_FILE"]))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = persistent_secret(var_dir / "secret_key")


def persistent_secret(path: Path) -> str:
    """Return the secret stored at *path*, creating it once.

    Several gunicorn workers must sign with the same key, and a restart must not invalidate the
    attempts students are taking, so a generated key is kept on disk (mode 0600). The key is
    written and synced under a private name, then hard-linked into place: ``link`` fails when the
    name exists, so the first worker's key is the one every worker reads, and no worker can ever
    read a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path.read_text().strip()
    draft = write_draft(path, secrets.token_urlsafe(48).encode(), mode=0o600)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()
    return path.read_text().strip()
