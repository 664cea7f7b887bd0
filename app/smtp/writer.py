"""The command writer: events to the bytes on the wire, and to the lines of the transcript."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from app.smtp.errors import LocalProtocolError
from app.smtp.events import (
    Auth,
    AuthResponse,
    Content,
    Data,
    Ehlo,
    Event,
    Helo,
    MailFrom,
    Noop,
    Quit,
    RcptTo,
    Rset,
    StartTLS,
)

# RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF. We count the
# transparency dot as well, so that no line on the wire is longer (servers measure raw lines).
MAX_LINE = 1000

CRLF = b"\r\n"
_ANY_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def command_line(event: Event) -> str:
    """The command as it goes on the wire, without CRLF."""
    return _COMMAND_LINES[type(event)](event)


def _auth_line(event: Auth) -> str:
    if event.initial_response is None:
        return f"AUTH {event.mechanism}"
    # RFC 4954 §4: an empty initial response is sent as "=".
    return f"AUTH {event.mechanism} {event.initial_response or '='}"


def _mail_line(event: MailFrom) -> str:
    return " ".join((f"MAIL FROM:<{event.sender}>", *event.parameters))


_COMMAND_LINES: dict[type[Event], Callable[[Any], str]] = {
    Ehlo: lambda e: f"EHLO {e.hostname}",
    Helo: lambda e: f"HELO {e.hostname}",
    MailFrom: _mail_line,
    RcptTo: lambda e: f"RCPT TO:<{e.recipient}>",
    Auth: _auth_line,
    AuthResponse: lambda e: e.response,
    StartTLS: lambda e: "STARTTLS",
    Data: lambda e: "DATA",
    Rset: lambda e: "RSET",
    Noop: lambda e: "NOOP",
    Quit: lambda e: "QUIT",
}


def write(event: Event) -> bytes:
    """The bytes to send for *event*."""
    if isinstance(event, Content):
        return encode_content(event.message)
    # UTF-8 only matters with SMTPUTF8 (RFC 6531 §3.2); the core checks it was offered.
    return command_line(event).encode("utf-8") + CRLF


def describe(event: Event) -> str:
    """The transcript line for *event*: the wire text, with secrets and the message summarised."""
    match event:
        case Content(message):
            return f"<{len(message):,} bytes of message data>"
        case Auth(mechanism, initial) if initial is not None:
            return f"AUTH {mechanism} <redacted>"
        case AuthResponse():
            return "<redacted>"
    return command_line(event)


def normalise_line_endings(message: bytes) -> bytes:
    """Every bare CR and bare LF becomes CRLF (RFC 5321 §2.3.8).

    This must happen before dot-stuffing: a bare LF followed by "." is how SMTP smuggling
    (CVE-2023-51764/5/6) hides a second message inside the first.
    """
    return _ANY_LINE_BREAK.sub(CRLF, message)


def dot_stuff(message: bytes) -> bytes:
    """Double the "." that starts any line (RFC 5321 §4.5.2); *message* has CRLF line ends."""
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def encode_content(message: bytes) -> bytes:
    """Normalise, check, stuff and terminate *message* so it can follow a 354 reply."""
    stuffed = dot_stuff(normalise_line_endings(message))
    check_line_lengths(stuffed)
    if not stuffed or stuffed.endswith(CRLF):
        # RFC 5321 §4.1.1.4: the CRLF ending the last line is the first CRLF of CRLF.CRLF.
        return stuffed + b".\r\n"
    return stuffed + b"\r\n.\r\n"


def check_line_lengths(stuffed: bytes) -> None:
    """Refuse any line over :data:`MAX_LINE` octets including its CRLF (§4.5.3.1.6)."""
    if len(stuffed) <= MAX_LINE - len(CRLF):
        return
    for number, line in enumerate(stuffed.split(CRLF), start=1):
        if len(line) + len(CRLF) > MAX_LINE:
            raise LocalProtocolError(
                f"message line {number} is {len(line) + len(CRLF)} octets long with its CRLF; "
                f"SMTP allows {MAX_LINE} (RFC 5321 §4.5.3.1.6): wrap or encode the body "
                "(quoted-printable or base64)"
            )
