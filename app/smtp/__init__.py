"""Our SMTP client (RFC 5321 and extensions), written on raw sockets.

:class:`SMTPClient` is the blocking client most code wants; :class:`ClientConnection` is the
sans-IO core under it, for anyone who drives their own I/O. Errors derive from :class:`SMTPError`
(the tree is drawn in :mod:`app.smtp.errors`).
"""

from app.smtp.client import Outgoing, SendResult, SMTPClient
from app.smtp.connection import ClientConnection, State
from app.smtp.errors import (
    LocalProtocolError,
    RemoteProtocolError,
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPError,
    SMTPNotAttempted,
    SMTPNotSupported,
    SMTPProtocolError,
    SMTPRecipientsRefused,
    SMTPReplyError,
    SMTPTimeout,
    SMTPTLSError,
    SMTPTransportError,
)
from app.smtp.replies import Reply

__all__ = [
    "ClientConnection",
    "LocalProtocolError",
    "Outgoing",
    "RemoteProtocolError",
    "Reply",
    "SMTPAuthenticationError",
    "SMTPClient",
    "SMTPConnectError",
    "SMTPError",
    "SMTPNotAttempted",
    "SMTPNotSupported",
    "SMTPProtocolError",
    "SMTPRecipientsRefused",
    "SMTPReplyError",
    "SMTPTLSError",
    "SMTPTimeout",
    "SMTPTransportError",
    "SendResult",
    "State",
]
