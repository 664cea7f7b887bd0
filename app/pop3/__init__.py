"""POP3 access to the captured mailboxes (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS).

``protocol`` is the core without I/O, ``server`` its asyncio driver, ``users`` the logins and
``store`` the maildrops over the MailStore. Errors: ``UsersFileError`` (a bad users file line)
and ``ProtocolMisuse`` (the driver called the core out of turn); the peer's mistakes are
``-ERR`` replies, never exceptions.
"""

from app.pop3.protocol import Maildrop, MaildropMessage, POP3Connection, ProtocolMisuse
from app.pop3.server import (
    DEFAULT_POP3_PORT,
    IDLE_TIMEOUT,
    POP3Controller,
    POP3Server,
    serve_pop3,
    start_pop3_server,
)
from app.pop3.store import open_maildrop
from app.pop3.users import Users, UsersFileError, hash_password, verify_password

__all__ = [
    "DEFAULT_POP3_PORT",
    "IDLE_TIMEOUT",
    "Maildrop",
    "MaildropMessage",
    "POP3Connection",
    "POP3Controller",
    "POP3Server",
    "ProtocolMisuse",
    "Users",
    "UsersFileError",
    "hash_password",
    "open_maildrop",
    "serve_pop3",
    "start_pop3_server",
    "verify_password",
]
