"""Server replies: the :class:`Reply` value and the :class:`ReplyReader` that finds them in bytes.

The reader is sans-IO: feed it whatever bytes arrived, in pieces of any size, and take complete
replies out. It never waits and never touches a socket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.smtp.errors import RemoteProtocolError

# RFC 5321 §4.5.3.1.5 bounds a reply line at 512 octets including CRLF. Real servers send longer
# EHLO lines now and then, so we allow four times that before calling it a protocol violation.
MAX_REPLY_LINE = 2048
# No RFC bound on the number of lines; an EHLO reply has about a dozen. The bounds keep a hostile
# server from growing our buffer without end.
MAX_REPLY_LINES = 100
MAX_REPLY_BYTES = 64 * 1024

# RFC 3463 §2: class "." subject "." detail, class 2, 4 or 5, subject and detail 1-3 digits.
_ENHANCED_CODE = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?: |$)")


@dataclass(frozen=True, slots=True)
class Reply:
    """One complete reply: its code, the RFC 3463 enhanced code if any, and its text.

    A multi-line reply's text keeps its lines, joined by ``\\n``, without the codes.
    """

    code: int
    enhanced: str | None
    text: str
    #: The reply's lines exactly as received, without line ends, for the transcript.
    wire: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    @property
    def is_positive(self) -> bool:
        """2yz: the command was completed (RFC 5321 §4.2.1)."""
        return 200 <= self.code < 300

    def __str__(self) -> str:
        enhanced = f"{self.enhanced} " if self.enhanced else ""
        return f"{self.code} {enhanced}{self.text}".replace("\n", " / ")


class ReplyReader:
    """Turns bytes from the server into :class:`Reply` values.

    RFC 5321 §4.2.1: every line of a multi-line reply starts with the same three-digit code,
    followed by ``-`` on every line but the last, which has a space (or nothing) instead.
    """

    def __init__(
        self,
        *,
        max_line: int = MAX_REPLY_LINE,
        max_lines: int = MAX_REPLY_LINES,
        max_bytes: int = MAX_REPLY_BYTES,
    ) -> None:
        self.max_line = max_line
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self._enhanced_codes = False
        # What arrived and is not read yet starts at _start: reading a line moves the offset
        # instead of deleting bytes from the front, and the next feed drops what was read.
        self._buffer = b""
        self._start = 0
        # Servers repeat themselves ("250 2.1.5 Ok" to every RCPT): single-line replies already
        # parsed, by their bytes. A Reply is immutable, so handing the same one out is safe.
        self._known: dict[bytes, Reply] = {}
        self._code = 0  # the code of the reply being read, 0 before its first line
        self._wire: list[str] = []  # its lines so far, as received
        self._size = 0

    @property
    def enhanced_codes(self) -> bool:
        """Parse RFC 3463 codes: set once ENHANCEDSTATUSCODES is offered (RFC 2034 §3)."""
        return self._enhanced_codes

    @enhanced_codes.setter
    def enhanced_codes(self, value: bool) -> None:
        self._enhanced_codes = value
        self._known.clear()  # the same bytes now parse differently

    def feed(self, data: bytes | memoryview) -> None:
        """Take bytes from the server; they are copied, so the caller may reuse its buffer."""
        if self._start < len(self._buffer):
            self._buffer = self._buffer[self._start :] + data
        else:
            self._buffer = bytes(data)
        self._start = 0

    def discard(self) -> int:
        """Forget every byte not yet read; return how many there were (RFC 3207 §4.2)."""
        dropped = len(self._buffer) - self._start + self._size
        self._buffer, self._start = b"", 0
        self._known.clear()
        self._start_reply()
        return dropped

    @property
    def has_pending_bytes(self) -> bool:
        return self._start < len(self._buffer) or bool(self._wire)

    def next_reply(self) -> Reply | None:
        """Return the next complete reply, or ``None`` until more bytes arrive."""
        buffer, start = self._buffer, self._start
        # Bounded: each pass takes one line, and _take_line refuses more than max_lines.
        while (end := buffer.find(b"\n", start)) >= 0:
            line = buffer[start:end]
            size, start = end + 1 - start, end + 1
            self._start = start
            known = self._known.get(line) if not self._wire else None
            if known is not None:
                return known
            if self._take_line(line, size):
                return self._remember(line, self._finish())
        if len(buffer) - start > self.max_line:
            raise self._line_too_long(buffer[start:])
        return None

    def _take_line(self, line: bytes, size: int) -> bool:
        """Add one line (without its LF) to the reply; True when it was the last line."""
        self._size += size
        if size > self.max_line:
            raise self._line_too_long(line)
        if len(self._wire) >= self.max_lines or self._size > self.max_bytes:
            raise RemoteProtocolError(
                f"reply longer than {self.max_lines} lines or {self.max_bytes} octets"
            )
        # We accept a bare LF as the end of a reply line, as most clients do (RFC 5321 §4.1.1:
        # be liberal in what you accept); replies carry no data that a lone CR could smuggle.
        if line.endswith(b"\r"):
            line = line[:-1]
        separator = line[3:4]
        if line[:3] not in _CODES or separator not in _SEPARATORS:
            raise RemoteProtocolError(f"malformed reply line: {line[:80]!r}")
        code = int(line[:3])
        if self._code and code != self._code:
            raise RemoteProtocolError(
                f"multi-line reply changed its code from {self._code} to {code}: {line!r}"
            )
        self._code = code
        # Replies should be ASCII (§4.2); SMTPUTF8 servers may send UTF-8 (RFC 6531 §3.7.1).
        self._wire.append(line.decode("utf-8", errors="replace"))
        return separator != b"-"

    def _remember(self, line: bytes, reply: Reply) -> Reply:
        if len(reply.wire) == 1:
            if len(self._known) >= _KNOWN_REPLIES:
                self._known.clear()
            self._known[line] = reply
        return reply

    def _line_too_long(self, line: bytes) -> RemoteProtocolError:
        return RemoteProtocolError(f"reply line longer than {self.max_line} octets: {line[:60]!r}…")

    def _finish(self) -> Reply:
        code, wire = self._code, tuple(self._wire)
        self._start_reply()
        text = "\n".join([line[4:] for line in wire]) if len(wire) > 1 else wire[0][4:]
        if self._enhanced_codes:
            return _with_enhanced_code(code, text, wire)
        return Reply(code, None, text, wire)

    def _start_reply(self) -> None:
        self._code = 0
        self._wire = []
        self._size = 0


# RFC 5321 §4.2: a code is three digits, the first 2-5 (1yz is not used by SMTP), the second 0-5;
# after it a space, a hyphen on every line but the last, or nothing at all.
_CODES = frozenset(f"{a}{b}{c}".encode() for a in "2345" for b in "012345" for c in "0123456789")
_SEPARATORS = (b" ", b"-", b"")
_KNOWN_REPLIES = 64  # how many distinct single-line replies are kept; a handful is typical


def _with_enhanced_code(code: int, text: str, wire: tuple[str, ...]) -> Reply:
    """RFC 2034 §4: with ENHANCEDSTATUSCODES every line starts with the enhanced code.

    The code's class must agree with the reply's first digit (RFC 3463 §2); a code that does not
    is left in the text rather than trusted.
    """
    match = _ENHANCED_CODE.match(text)
    if match is None or int(match.group(1)) != code // 100:
        return Reply(code, None, text, wire)
    enhanced = text[: match.end(3)]
    if "\n" not in text:
        return Reply(code, enhanced, text[match.end() :], wire)
    prefix = match.group(0)
    lines = text.split("\n")
    stripped = [line.removeprefix(prefix).removeprefix(enhanced) for line in lines]
    return Reply(code, enhanced, "\n".join(stripped), wire)
