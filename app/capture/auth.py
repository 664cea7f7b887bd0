"""SMTP AUTH (RFC 4954) for the capture server: PLAIN (RFC 4616) and LOGIN against a users file.

The accounts are those of the POP3 users file (:mod:`app.pop3.users`: ``address password``
lines, plain or hashed), so one file serves both servers. This module decodes what the client
sends and says what to reply; the session (:mod:`app.capture.protocol`) reads the lines, checks
the password in a thread and waits :data:`FAILED_LOGIN_DELAY` after a failure, as POP3 does.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from app.addresses import mailbox_key
from app.pop3.server import FAILED_LOGIN_DELAY, MAX_LOGIN_FAILURES
from app.pop3.users import Credentials, Users

__all__ = [
    "AUTH_LINE_LIMIT",
    "MECHANISMS",
    "AuthError",
    "Logins",
    "decode_response",
    "split_plain",
]

MECHANISMS = ("LOGIN", "PLAIN")
#: RFC 4954 §4: an AUTH command line, and each response to a challenge, may be this long.
AUTH_LINE_LIMIT = 12_288

# Replies (RFC 4954 §4 and §6, RFC 3463 for the enhanced codes).
AUTH_OK = "235 2.7.0 Authentication successful"
BAD_CREDENTIALS = "535 5.7.8 Authentication credentials invalid"
TOO_MANY_FAILURES = "421 4.7.0 Too many failed logins; closing the connection"
CANCELLED = "501 5.7.0 Authentication cancelled"
BAD_BASE64 = "501 5.5.2 Cannot decode the response: it is not base64"
BAD_PLAIN = "501 5.5.2 PLAIN wants authorization-id NUL login NUL password"
NOT_UTF8 = "501 5.5.2 The login and password must be UTF-8"
LINE_TOO_LONG = "500 5.5.6 Authentication exchange line is too long"
NEEDS_TLS = "538 5.7.11 Encryption required for requested authentication mechanism"
NOT_OFFERED = "502 5.5.1 AUTH is not offered here: this server has no logins"
NEEDS_EHLO = "503 5.5.1 AUTH is an ESMTP extension: say EHLO first"
ALREADY = "503 5.5.1 Already authenticated"
IN_TRANSACTION = "503 5.5.1 AUTH is not allowed during a mail transaction"
SYNTAX = "501 5.5.4 Syntax: AUTH mechanism [initial-response]"
UNKNOWN_MECHANISM = "504 5.5.4 Unrecognized authentication type"


class AuthError(ValueError):
    """What the client sent cannot be a login; ``reply`` is what to answer (a 5yz)."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def decode_response(line: bytes) -> bytes:
    """A client's base64 response (RFC 4954 §4), CRLF stripped; ``*`` cancels the exchange."""
    blob = line.strip()
    if blob == b"*":
        raise AuthError(CANCELLED)
    if blob == b"=":  # RFC 4954 §4: an empty initial response
        return b""
    try:
        return base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise AuthError(BAD_BASE64) from None


def text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise AuthError(NOT_UTF8) from None


def split_plain(message: bytes) -> tuple[str, str, str]:
    """RFC 4616 §2: ``[authzid] NUL authcid NUL passwd`` → (authzid, login, password)."""
    parts = message.split(b"\0")
    if len(parts) != 3 or not parts[1]:
        raise AuthError(BAD_PLAIN)
    authzid, login, password = (text(part) for part in parts)
    return authzid, login, password


@dataclass(frozen=True)
class AuthState:
    """What the session is when AUTH comes: the facts RFC 4954 §4 decides on."""

    tls: bool
    extended: bool  # EHLO, not HELO
    authenticated: bool
    in_transaction: bool  # after MAIL, before the end of the message


@dataclass
class Logins:
    """The accounts AUTH checks, and how failures are slowed and limited.

    ``insecure`` lets AUTH run over plaintext (a lab's choice: RFC 4954 §4 wants TLS first);
    ``required`` makes every listener refuse MAIL before AUTH (the submission port always does).
    """

    users: Users
    insecure: bool = False
    required: bool = False
    mechanisms: tuple[str, ...] = MECHANISMS
    delay: float = FAILED_LOGIN_DELAY
    max_failures: int = MAX_LOGIN_FAILURES
    #: Failed logins since the server started, for the log and for tests.
    failures: int = field(default=0, compare=False)

    def refusal(self, argument: str, state: AuthState) -> str | None:
        """The reply refusing ``AUTH argument`` (RFC 4954 §4), or None to go on with it."""
        words = argument.split()
        checks = (
            (not state.extended, NEEDS_EHLO),
            (len(f"AUTH {argument}") > AUTH_LINE_LIMIT, LINE_TOO_LONG),
            (not (state.tls or self.insecure), NEEDS_TLS),
            (state.authenticated, ALREADY),
            (state.in_transaction, IN_TRANSACTION),
            (not 1 <= len(words) <= 2, SYNTAX),
        )
        for failed, reply in checks:
            if failed:
                return reply
        return None if words[0].upper() in self.mechanisms else UNKNOWN_MECHANISM

    def check(self, authzid: str, login: str, password: str) -> Credentials | None:
        """The credentials when *password* is *login*'s (slow for hashed passwords: a thread).

        We act for nobody else: an authorization identity other than the login fails it.
        """
        if authzid and mailbox_key(authzid) != mailbox_key(login):
            return None
        return self.users.check_password(login, password)
