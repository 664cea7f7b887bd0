"""Bytes from a telnet, nc or socat client → lines of text, and text → bytes for the client.

Sans-IO: :class:`LineReader` takes whatever arrived (``receive``) and gives events —
:class:`Line`, :class:`Refused` (a line we will not read, with the one-line reason),
:class:`Interrupt` (Ctrl-C from a telnet client) — plus, in ``replies``, the bytes that refuse
the options a telnet client asked for. No sockets, no clocks.

- Line ends: CR LF (telnet, RFC 854's NVT), a bare LF (nc, socat), CR NUL and a bare CR (RFC 854:
  "CR NUL" is a carriage return alone) all end a line; NUL bytes are dropped (RFC 854: NUL is a
  no-operation).
- Telnet commands (RFC 854) are taken out of the data wherever they fall, split across reads or
  not: IAC IAC is a data byte 255; IAC WILL/WONT/DO/DONT x is negotiation, and the first DO x or
  WILL x of each option is refused with WONT x or DONT x (RFC 855: the receiver of a request for
  an option it does not support refuses it; WONT/DONT need no answer, so there is no loop) —
  except BINARY (RFC 856), which is agreed to: a telnet client in its default NVT mode may drop
  bytes of UTF-8 text (inetutils' telnet drops 0x85, the second byte of "Å"), in binary not;
  IAC SB … IAC SE is dropped whole (up to :data:`MAX_SUBNEGOTIATION` bytes); IAC IP (Interrupt
  Process) is :class:`Interrupt`; every other command is dropped.
- A line longer than :data:`MAX_LINE_BYTES` is thrown away as it arrives (never buffered whole)
  and reported once; one that is not UTF-8 or holds control characters is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_LINE_BYTES", "Interrupt", "Line", "LineReader", "Refused", "encode"]

#: Longest line read, in bytes after Telnet commands are taken out: an email address (254, RFC
#: 5321 §4.5.3.1.3) and a name of 100 characters of up to 4 bytes fit with room to spare.
MAX_LINE_BYTES = 1024
#: Longest subnegotiation skipped (IAC SB … IAC SE): terminal types and window sizes are a few
#: bytes; past this, a client that never sends IAC SE gets its lines read again.
MAX_SUBNEGOTIATION = 1024

IAC, DONT, DO, WONT, WILL, SB, SE, IP = 255, 254, 253, 252, 251, 250, 240, 244
BINARY = 0  # RFC 856: 8-bit data both ways, which UTF-8 needs from some telnet clients
REFUSAL = {DO: WONT, WILL: DONT}  # RFC 855: a request we do not grant is refused
CONSENT = {DO: WILL, WILL: DO}  # …and one we grant is agreed to
_LINE_END = re.compile(rb"\r[\n\x00]?|\n")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")

TOO_LONG = f"That line is longer than {MAX_LINE_BYTES} bytes; it was ignored."
NOT_UTF8 = (
    "That line is not UTF-8 text; it was ignored. (In telnet, Ctrl-] then toggle binary sends"
    " letters beyond ASCII whole.)"
)
CONTROLS = "That line holds control characters (such as arrow keys); it was ignored."


@dataclass(frozen=True)
class Line:
    """One line of text as typed, without its line end; tabs read as spaces."""

    text: str


@dataclass(frozen=True)
class Refused:
    """A line that is not read; *reason* is the one line to tell the client."""

    reason: str


@dataclass(frozen=True)
class Interrupt:
    """IAC IP: the client's Ctrl-C (telnet sends it instead of the character)."""


Event = Line | Refused | Interrupt

# States of the Telnet command parser.
_DATA, _IAC, _OPTION, _SB, _SB_IAC = range(5)


class LineReader:
    """Bytes in (``receive``), events out; ``replies`` collects negotiation answers to send."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        self.replies = bytearray()
        self._state = _DATA
        self._command = 0
        self._skipped = 0  # bytes of the subnegotiation under way
        self._answered: set[tuple[int, int]] = set()
        self._line = bytearray()
        self._overflow = False
        self._after_cr = False  # a CR ended the last line: an LF or NUL right after belongs to it
        self._events: list[Event] = []

    def receive(self, data: bytes) -> list[Event]:
        """Feed *data*; the events it completes, in order."""
        at = 0
        while at < len(data):
            if self._state == _DATA:
                iac = data.find(IAC, at)
                end = len(data) if iac < 0 else iac
                self._text(data[at:end])
                if iac < 0:
                    break
                self._state, at = _IAC, iac + 1
            elif self._state == _SB:  # skip the subnegotiation up to its IAC
                iac = data.find(IAC, at)
                room = MAX_SUBNEGOTIATION - self._skipped
                self._skipped += (len(data) if iac < 0 else iac) - at
                if self._skipped > MAX_SUBNEGOTIATION:
                    # No IAC SE is coming: what follows the longest subnegotiation is data.
                    self._state, at = _DATA, at + room
                    continue
                if iac < 0:
                    break
                self._state, at = _SB_IAC, iac + 1
            else:
                self._command_byte(data[at])
                at += 1
        events, self._events = self._events, []
        return events

    def _command_byte(self, byte: int) -> None:
        if self._state == _IAC:
            if byte == IAC:
                self._state = _DATA
                self._text(b"\xff")
            elif byte in (WILL, WONT, DO, DONT):
                self._state, self._command = _OPTION, byte
            elif byte == SB:
                self._state, self._skipped = _SB, 0
            else:
                self._state = _DATA
                if byte == IP:
                    self._events.append(Interrupt())
        elif self._state == _OPTION:
            self._state = _DATA
            self._negotiate(self._command, byte)
        elif self._state == _SB_IAC:  # IAC SE ends it; IAC IAC is data inside it
            self._state = _DATA if byte == SE else _SB

    def _negotiate(self, command: int, option: int) -> None:
        answers = CONSENT if option == BINARY else REFUSAL
        answer = answers.get(command)
        if answer is not None and (command, option) not in self._answered:
            self._answered.add((command, option))
            self.replies += bytes((IAC, answer, option))

    def _text(self, chunk: bytes) -> None:
        """Data bytes (Telnet commands already out): split into lines at every line end."""
        if self._after_cr and chunk:
            if chunk[0] in (0x0A, 0x00):
                chunk = chunk[1:]
            self._after_cr = False
        at = 0
        for end in _LINE_END.finditer(chunk):
            self._add(chunk[at : end.start()])
            self._finish_line()
            at = end.end()
            self._after_cr = end.group() == b"\r" and at == len(chunk)
        self._add(chunk[at:])

    def _add(self, piece: bytes) -> None:
        if self._overflow or not piece:
            return
        self._line += piece
        if len(self._line) > self.max_line:
            self._overflow = True
            self._line.clear()

    def _finish_line(self) -> None:
        if self._overflow:
            self._overflow = False
            self._events.append(Refused(TOO_LONG))
            return
        raw = bytes(self._line).replace(b"\x00", b"")
        self._line.clear()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._events.append(Refused(NOT_UTF8))
            return
        text = text.replace("\t", " ")
        if _CONTROL.search(text):
            self._events.append(Refused(CONTROLS))
            return
        self._events.append(Line(text))


def encode(text: str) -> bytes:
    """*text* for the client: UTF-8, every line end CR LF (RFC 854's NVT), IAC doubled."""
    data = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    return data.replace(b"\xff", b"\xff\xff")  # never in UTF-8; here in case that changes
