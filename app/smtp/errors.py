"""Every error the SMTP client raises, drawn once::

    SMTPError                        catch this to catch them all
    ├── SMTPProtocolError            someone broke the rules of RFC 5321
    │   ├── LocalProtocolError       we were asked to: a command in the wrong state, CR/LF in an
    │   │                            address, a message line over 1000 octets
    │   └── RemoteProtocolError      the server did: a malformed, oversized or unexpected reply
    ├── SMTPNotSupported             the server lacks what this message needs (STARTTLS, AUTH,
    │                                SMTPUTF8, a SIZE limit large enough)
    ├── SMTPReplyError               the server refused a command: .command .code .enhanced .text
    │   ├── SMTPRecipientsRefused    no recipient was accepted: .refused maps address → Reply
    │   └── SMTPAuthenticationError  the server refused the credentials
    └── SMTPTransportError           the connection failed under us
        ├── SMTPConnectError         could not connect (refused, unreachable, bad host)
        ├── SMTPTLSError             the TLS handshake failed (certificate, protocol)
        ├── SMTPTimeout              the server did not answer in time (also a TimeoutError)
        └── SMTPNotAttempted         a message of a batch never sent: the connection ended at
                                     an earlier one (``send_many``); safe to send again

Socket and ssl exceptions never escape: the driver translates them where it touches the socket,
with ``raise … from exc`` so that the cause stays attached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.smtp.replies import Reply


class SMTPError(Exception):
    """Base of every error raised by :mod:`app.smtp`."""

    #: For a message sent with ``send_many``, the transcript lines of its own commands and replies.
    transcript: tuple[str, ...] = ()


class SMTPProtocolError(SMTPError):
    """The dialogue broke the rules of RFC 5321 or an extension."""


class LocalProtocolError(SMTPProtocolError):
    """We were asked to do something the protocol forbids; nothing was sent."""


class RemoteProtocolError(SMTPProtocolError):
    """The server's bytes are not a valid reply, or not a valid reply to what we sent."""


class SMTPNotSupported(SMTPError):
    """The server does not offer something this connection or message needs."""


class SMTPReplyError(SMTPError):
    """The server answered a command with a failure code (4yz transient, 5yz permanent)."""

    def __init__(self, command: str, reply: Reply) -> None:
        self.command = command
        self.reply = reply
        self.code = reply.code
        self.enhanced = reply.enhanced
        self.text = reply.text
        super().__init__(f"{command} refused: the server answered {reply}")

    @property
    def is_transient(self) -> bool:
        """4yz: trying again later may succeed (RFC 5321 §4.2.1)."""
        return 400 <= self.code < 500


class SMTPRecipientsRefused(SMTPReplyError):
    """Every recipient was refused, so no message was sent."""

    def __init__(self, refused: dict[str, Reply]) -> None:
        self.refused = dict(refused)
        address, reply = next(reversed(self.refused.items()))
        super().__init__(f"RCPT TO:<{address}>", reply)
        self.args = (f"every recipient was refused: {_describe_refusals(self.refused)}",)


class SMTPAuthenticationError(SMTPReplyError):
    """AUTH failed: the server refused the mechanism or the credentials (RFC 4954 §6)."""


class SMTPTransportError(SMTPError):
    """The connection to the server failed or was closed under us."""


class SMTPConnectError(SMTPTransportError):
    """No connection could be made."""


class SMTPTLSError(SMTPTransportError):
    """The TLS handshake failed; nothing was sent in plaintext instead."""


class SMTPTimeout(SMTPTransportError, TimeoutError):
    """The server did not answer within the time allowed for the command."""


class SMTPNotAttempted(SMTPTransportError):
    """A message of a batch that the server never got: the connection ended before its turn.

    Its envelope may have been written (RFC 2920 §3.1), but its content never was, since that
    waits for the 354 reply: nothing was delivered, and sending it again cannot duplicate it.
    """


def _describe_refusals(refused: dict[str, Reply]) -> str:
    return "; ".join(f"<{address}>: {reply}" for address, reply in refused.items())
