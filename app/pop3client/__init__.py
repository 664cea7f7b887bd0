"""Our POP3 client (RFC 1939, RFC 2449 CAPA, response codes and PIPELINING, RFC 2595 STLS).

:class:`POP3Client` is the blocking client most code wants; :class:`ClientConnection` is the
sans-IO core under it, for anyone who drives their own I/O. Errors derive from :class:`POP3Error`
(the tree is drawn in :mod:`app.pop3client.errors`).
"""

from app.pop3client.capabilities import Capabilities
from app.pop3client.client import DEFAULT_PORTS, POP3Client, Security
from app.pop3client.connection import ClientConnection, State
from app.pop3client.errors import (
    LocalProtocolError,
    POP3AuthenticationError,
    POP3ConnectError,
    POP3Error,
    POP3NotSupported,
    POP3ProtocolError,
    POP3ReplyError,
    POP3Timeout,
    POP3TLSError,
    POP3TransportError,
    RemoteProtocolError,
)
from app.pop3client.responses import Response, ResponseReader

__all__ = [
    "DEFAULT_PORTS",
    "Capabilities",
    "ClientConnection",
    "LocalProtocolError",
    "POP3AuthenticationError",
    "POP3Client",
    "POP3ConnectError",
    "POP3Error",
    "POP3NotSupported",
    "POP3ProtocolError",
    "POP3ReplyError",
    "POP3TLSError",
    "POP3Timeout",
    "POP3TransportError",
    "RemoteProtocolError",
    "Response",
    "ResponseReader",
    "Security",
    "State",
]
