"""The command writer: events to the bytes on the wire, and to the lines of the transcript.

The message data itself is prepared by :mod:`app.smtp.data` when its :class:`Content` is made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

CRLF = b"\r\n"


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
    return _WRITERS[type(event)](event)


def _encoded(event: Event) -> bytes:
    # UTF-8 only matters with SMTPUTF8 (RFC 6531 §3.2); the core checks it was offered.
    return command_line(event).encode("utf-8") + CRLF


def _fixed(kind: type[Event]) -> Callable[[Event], bytes]:
    # Commands without arguments always have the same bytes: made once, not once per message.
    data = _COMMAND_LINES[kind](None).encode("ascii") + CRLF
    return lambda event: data


_WRITERS: dict[type[Event], Callable[[Any], bytes]] = {
    **dict.fromkeys(_COMMAND_LINES, _encoded),
    **{kind: _fixed(kind) for kind in (StartTLS, Data, Rset, Noop, Quit)},
    Content: lambda event: event.data,
}


def describe(event: Event) -> str:
    """The transcript line for *event*: the wire text, with secrets and the message summarised."""
    match event:
        case Content():
            return f"<{event.size:,} bytes of message data>"
        case Auth(mechanism, initial) if initial is not None:
            return f"AUTH {mechanism} <redacted>"
        case AuthResponse():
            return "<redacted>"
    return command_line(event)
