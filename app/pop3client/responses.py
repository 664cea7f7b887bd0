"""Server responses: the :class:`Response` value and the :class:`ResponseReader` that finds them.

The reader is sans-IO: feed it whatever bytes arrived, in pieces of any size, and take status
lines and multi-line bodies out. It never waits and never touches a socket. Every buffer it keeps
is bounded, so a server sending a 10 MB line or a reply that never ends meets an error, not our
memory's end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.pop3client.errors import RemoteProtocolError

#: RFC 2449 §4: a response's first line is at most 512 octets, CRLF included. Servers put long
#: texts there now and then (a greeting with a banner), so four times that is allowed.
MAX_STATUS_LINE = 2048
#: No RFC bounds a line of a message as it comes back (RFC 5322 §2.1.1's 998 is broken by real
#: mail: unwrapped HTML runs to hundreds of kilobytes); past this it is no mail, but an attack.
MAX_BODY_LINE = 1024 * 1024
#: The most a multi-line body may hold: a message, or a listing of every message.
MAX_BODY = 256 * 1024 * 1024

#: Dots looked at one by one (a Python step each) before bytes.replace does the rest.
DOTS_ONE_BY_ONE = 32
_LF = 0x0A
TERMINATOR = b"\r\n.\r\n"  # RFC 1939 §3: CRLF, then a line holding only "."
_EMPTY_BODY = b".\r\n"
#: RFC 2449 §3: ``"[" resp-code "]"`` right after the status indicator, hierarchical with "/".
_RESP_CODE = re.compile(r"\[([\x21-\x5a\x5c\x5e-\x7e]+)\] ?")
#: When the buffer is compacted: past this many consumed octets, and past half of it.
_COMPACT_AT = 256 * 1024


@dataclass(frozen=True, slots=True)
class Response:
    """One response: +OK or -ERR, its RFC 2449 response code if any, its text, and for a positive
    multi-line response its body, dot-unstuffed, lines ending in CRLF, without the final ".".
    """

    ok: bool
    code: str | None
    text: str
    body: bytes | None = None
    #: The status line exactly as received, without its line end, for the transcript.
    wire: str = field(default="", compare=False, repr=False)

    def __str__(self) -> str:
        code = f"[{self.code}] " if self.code else ""
        return f"{'+OK' if self.ok else '-ERR'} {code}{self.text}".rstrip()

    def body_lines(self) -> list[str]:
        """The body's lines as text (a listing's: CAPA, LIST, UIDL), without line ends."""
        text = (self.body or b"").decode("utf-8", errors="replace")
        return text.split("\r\n")[:-1] if text else []


def parse_status(line: bytes) -> Response:
    """The status line *line* (without its line end) as a :class:`Response`."""
    text = line.decode("utf-8", errors="replace")
    # RFC 1939 §3: "+OK" or "-ERR", in upper case, then a space and text, or nothing.
    if text.startswith("+OK") and text[3:4] in ("", " "):
        ok, rest = True, text[4:]
    elif text.startswith("-ERR") and text[4:5] in ("", " "):
        ok, rest = False, text[5:]
    else:
        shown = text[:60] + ("…" if len(text) > 60 else "")
        raise RemoteProtocolError(f"the server sent {shown!r}, which is neither +OK nor -ERR")
    code = None
    match = _RESP_CODE.match(rest)
    if match:
        code, rest = match.group(1).upper(), rest[match.end() :]
    return Response(ok, code, rest, wire=text)


def unstuff(body: bytes) -> bytes:
    """RFC 1939 §3: a line starting with "." that is not the terminator lost its first octet.

    Most mail has few dots (base64 has none), and ``find(b".")`` is a memchr, much cheaper than
    the substring search of ``replace``: the dots are looked at one by one, and only after
    :data:`DOTS_ONE_BY_ONE` of them does ``replace`` do the rest (the reverse of the server's
    :func:`app.pop3.wire.stuffed_pieces`).
    """
    pieces: list[bytes] = []
    start = 0  # the pieces so far end here, just after a dot removed
    at = body.find(b".")
    for _ in range(DOTS_ONE_BY_ONE):
        if at < 0:
            break
        if at == 0 or body[at - 1] == _LF:  # every line ends in CRLF: an LF starts a line
            pieces.append(body[start:at])
            start = at + 1
        at = body.find(b".", at + 1)
    else:
        return b"".join(pieces) + body[start:].replace(b"\r\n.", b"\r\n")
    if not pieces:
        return body
    pieces.append(body[start:])
    return b"".join(pieces)


class ResponseReader:
    """Turns bytes from the server into status lines and multi-line bodies.

    The caller (the connection) knows which command each response answers and so whether a body
    follows: it asks for :meth:`next_status`, then, for a positive multi-line response,
    :meth:`next_body`. Each returns ``None`` until enough bytes have arrived.
    """

    def __init__(
        self,
        *,
        max_status_line: int = MAX_STATUS_LINE,
        max_body_line: int = MAX_BODY_LINE,
        max_body: int = MAX_BODY,
    ) -> None:
        self.max_status_line = max_status_line
        self.max_body_line = max_body_line
        self.max_body = max_body
        self._buffer = bytearray()
        self._pos = 0  # where the unread bytes start
        self._scan = 0  # the body's terminator is not before this (minus its length)
        self._line = 0  # where the body's line being received starts, once a body has begun
        self._in_body = False

    def feed(self, data: bytes | memoryview) -> None:
        self._buffer += data

    @property
    def has_pending_bytes(self) -> bool:
        return self._pos < len(self._buffer)

    def discard(self) -> int:
        """Forget every unread byte (after STLS: RFC 2595 §4); their count."""
        dropped = len(self._buffer) - self._pos
        self._buffer.clear()
        self._pos = self._scan = self._line = 0
        self._in_body = False
        return dropped

    def next_status(self) -> Response | None:
        """The next status line, or ``None`` until its line end arrives."""
        buffer, start = self._buffer, self._pos
        end = buffer.find(b"\n", start, start + self.max_status_line)
        if end < 0:
            if len(buffer) - start >= self.max_status_line:
                raise RemoteProtocolError(
                    f"the server sent a status line of over {self.max_status_line} octets "
                    "(RFC 2449 §4 allows 512)"
                )
            return None
        line = bytes(buffer[start : end - 1 if buffer[end - 1 : end] == b"\r" else end])
        self._consumed(end + 1)
        return parse_status(line)

    def next_body(self) -> bytes | None:
        """The multi-line body that starts here, unstuffed, or ``None`` until its "." arrives."""
        buffer, start = self._buffer, self._pos
        if not self._in_body:
            self._in_body, self._scan, self._line = True, start, start
        if buffer.startswith(_EMPTY_BODY, start):  # the "." comes first: no line at all
            self._in_body = False
            self._consumed(start + len(_EMPTY_BODY))
            return b""
        at = buffer.find(TERMINATOR, max(self._scan - len(TERMINATOR), start))
        if at < 0:
            self._check_lines(len(buffer))
            self._scan = len(buffer)
            if len(buffer) - start > self.max_body:
                raise RemoteProtocolError(
                    f"the server sent over {self.max_body} octets without ending the response"
                )
            return None
        self._check_lines(at + 2)
        with memoryview(buffer) as view:
            body = bytes(view[start : at + 2])
        self._in_body = False
        self._consumed(at + len(TERMINATOR))
        return unstuff(body)

    def _check_lines(self, upto: int) -> None:
        """Every line of the body up to *upto* is within bounds, the unfinished one too.

        Only a stretch longer than the bound can hide a line over it, so the lines are looked
        at one by one only then: a 20 KB message arriving in 64 KB reads costs one ``rfind``.
        """
        buffer, limit = self._buffer, self.max_body_line
        last = buffer.rfind(b"\n", self._line, upto)
        if last >= 0 and last - self._line > limit:
            line = self._line
            while line <= last:
                end = buffer.find(b"\n", line, last + 1)
                if end - line > limit:
                    self._too_long()
                line = end + 1
        if last >= 0:
            self._line = last + 1
        if upto - self._line > limit:
            self._too_long()

    def _too_long(self) -> None:
        raise RemoteProtocolError(
            f"the server sent a line of over {self.max_body_line} octets in a multi-line response"
        )

    def _consumed(self, upto: int) -> None:
        buffer = self._buffer
        if upto >= len(buffer):
            buffer.clear()
            self._pos = 0
        elif upto > _COMPACT_AT and upto > len(buffer) // 2:
            del buffer[:upto]
            self._pos = 0
        else:
            self._pos = upto
