"""Every error the POP3 client raises, drawn once::

    POP3Error                        catch this to catch them all
    ├── POP3ProtocolError            someone broke the rules of RFC 1939 / RFC 2449
    │   ├── LocalProtocolError       we were asked to: a command in the wrong state, CR/LF in an
    │   │                            argument, a command line over 255 octets
    │   └── RemoteProtocolError      the server did: junk instead of +OK/-ERR, a line or a
    │                                message over our bounds, a listing that is no listing
    ├── POP3NotSupported             the server lacks what was asked for (STLS, APOP, UIDL)
    ├── POP3ReplyError               the server answered -ERR: .command .code .text
    │   └── POP3AuthenticationError  the server refused the login (USER, PASS or APOP)
    └── POP3TransportError           the connection failed under us
        ├── POP3ConnectError         could not connect (refused, unreachable, bad host)
        ├── POP3TLSError             the TLS handshake failed (certificate, protocol)
        └── POP3Timeout              the server did not answer in time (also a TimeoutError)

Socket and ssl exceptions never escape: the driver translates them where it touches the socket,
with ``raise … from exc`` so that the cause stays attached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.pop3client.responses import Response

#: RFC 2449 §8 and RFC 3206: response codes saying that trying again later may work.
TRANSIENT_CODES = frozenset({"IN-USE", "LOGIN-DELAY", "SYS/TEMP"})


class POP3Error(Exception):
    """Base of every error raised by :mod:`app.pop3client`."""


class POP3ProtocolError(POP3Error):
    """The dialogue broke the rules of RFC 1939 or an extension."""


class LocalProtocolError(POP3ProtocolError):
    """We were asked to do something the protocol forbids; nothing was sent."""


class RemoteProtocolError(POP3ProtocolError):
    """The server's bytes are not a valid response, or not a valid response to what we sent."""


class POP3NotSupported(POP3Error):
    """The server does not offer something this connection needs."""


class POP3ReplyError(POP3Error):
    """The server answered a command with -ERR; ``code`` is its RFC 2449 response code if any."""

    def __init__(self, command: str, response: Response) -> None:
        self.command = command
        self.response = response
        self.code = response.code
        self.text = response.text
        super().__init__(f"{command} refused: the server answered {response}")

    @property
    def is_transient(self) -> bool:
        """[IN-USE], [LOGIN-DELAY] or [SYS/TEMP]: trying again later may succeed."""
        return self.code in TRANSIENT_CODES


class POP3AuthenticationError(POP3ReplyError):
    """The login was refused: wrong credentials ([AUTH]), mailbox locked ([IN-USE]) …"""


class POP3TransportError(POP3Error):
    """The connection to the server failed or was closed under us."""


class POP3ConnectError(POP3TransportError):
    """No connection could be made."""


class POP3TLSError(POP3TransportError):
    """The TLS handshake failed; nothing was sent in plaintext instead."""


class POP3Timeout(POP3TransportError, TimeoutError):
    """The server did not answer within the time allowed."""
