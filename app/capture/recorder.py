"""An SMTP session's bytes, in and out, made into a session record (app.store.session_record).

Sans-IO: the recorder is told what the server read (:meth:`SessionRecorder.received`) and wrote
(:meth:`~SessionRecorder.sent`), with the time, and knows nothing of sockets or aiosmtpd
(``app.capture.recording`` feeds it). It reads the client's bytes as aiosmtpd does — a command
line ends at LF, a line of message data at CRLF, the data at a line holding only "." — but
before aiosmtpd strips anything, so a bare LF or an unstuffed dot is still there to be seen.

Whether the client's next bytes are a command, message data or an AUTH secret depends on the
server's reply to the command before them, and with pipelining they may arrive before that reply
(RFC 2920 §3.1). So after DATA, AUTH, an AUTH answer and STARTTLS the bytes are held until the
reply says how to read them. Each client line keeps the number of replies sent when its first
octet arrived: that is what shows pipelining and commands sent before the greeting.

Cheap where it runs for every message: a line is kept as its bytes and a few numbers, the message
data is only counted, chunk by chunk, with bytes methods; escaping and building the record wait
for :meth:`~SessionRecorder.build`, which the session log calls in a thread of its own. Bounded:
each line keeps at most MAX_SHOWN_OCTETS, a session at most MAX_LINES lines (then counts them),
a message's header at most MAX_HEADER_OCTETS. AUTH secrets are never kept, not even for a moment
past the line they end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.store.session_record import (
    MAX_SHOWN_OCTETS,
    RECORD_VERSION,
    REDACTED,
    EndedBy,
    Outcome,
    SessionRecord,
    shown,
)

__all__ = ["MAX_HEADER_OCTETS", "MAX_LINES", "SessionRecorder"]

#: Lines a session keeps; the rest are counted. 2,000 lines hold some 250 messages' dialogue.
MAX_LINES = 2_000
#: Messages a session keeps the data summary of; the rest are counted with the lines.
MAX_MESSAGES = 1_000
#: Of each message, the header section is kept up to this size (RFC 5322 sets no limit; real
#: header sections are a few kilobytes, 64 KiB holds any a person would read).
MAX_HEADER_OCTETS = 64 * 1024
#: Bytes held while waiting for a reply; past this they are read as if it had come.
MAX_HELD = 1024 * 1024
#: Of a message-data line not yet ended, this much is kept to find the end of the data in.
MAX_PENDING = 8 * 1024
#: RFC 5321 §4.5.3.1.6: 1000 octets with the CRLF.
MAX_TEXT_LINE = 1000

#: Commands whose reply says how the bytes after them are read.
_HOLDING = frozenset({b"DATA", b"AUTH", b"STARTTLS"})
#: Every verb aiosmtpd or an extension knows: after an AUTH, any other first word may be a
#: credential a client sent anyway, and is not kept.
_VERBS = frozenset(
    b"HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY EXPN HELP AUTH STARTTLS BDAT ETRN TURN".split()
)
_HIGH = bytes(range(0x80, 0x100))
_KEEP = MAX_SHOWN_OCTETS + 2  # a kept line's text and its line end


class _Partial:
    """A client line still arriving: its first octets, its length, its CRs."""

    __slots__ = ("at", "bare_cr", "kept", "octets", "replies", "tail")

    def __init__(self, at: float, replies: int) -> None:
        self.at, self.replies = at, replies
        self.kept = b""
        self.octets = self.bare_cr = 0
        self.tail = b""

    def add(self, piece: bytes) -> None:
        if len(self.kept) < _KEEP:
            self.kept += piece[: _KEEP - len(self.kept)]
        self.octets += len(piece)
        self.bare_cr += piece.count(b"\r")
        self.tail = (self.tail + piece)[-2:]


@dataclass
class _Held:
    """Bytes that wait for the reply to the *unit*-th thing the client sent (*verb*)."""

    unit: int
    verb: bytes
    chunks: list[tuple[bytes, float, int]] = field(default_factory=list)
    octets: int = 0


class _Message:
    """The counts of one message's data while it arrives (see MessageData)."""

    def __init__(self, at: float, replies: int) -> None:
        self.at, self.replies = at, replies
        self.started = False
        self.octets = self.lines = self.longest = self.too_long = 0
        self.bare_lf = self.bare_cr = self.nul = self.eight_bit = 0
        self.stuffed = self.unstuffed = 0
        self.carry = 0  # octets of the current line counted already (a very long line)
        self.line_start = True
        self.pending = b""
        self.header = bytearray()
        self.header_done = False
        self.header_complete = False
        self.ended = False
        self.ids: list[str] = []

    def lines_of(self, seg: bytes) -> None:
        """Count *seg*: whole lines, each ending in CRLF."""
        self._octets(seg)
        crlf = seg.count(b"\r\n")
        self.lines += crlf
        self.bare_lf -= crlf
        self.bare_cr -= crlf
        stuffed, dots = seg.count(b"\r\n.."), seg.count(b"\r\n.")
        if self.line_start and seg[:1] == b".":
            stuffed, dots = stuffed + (seg[1:2] == b"."), dots + 1
        self.stuffed += stuffed
        self.unstuffed += dots - stuffed
        pieces = seg.split(b"\r\n")
        pieces.pop()
        first = len(pieces[0]) + self.carry
        longest = max(first, *map(len, pieces)) + 2
        self.longest = max(self.longest, longest)
        if longest > MAX_TEXT_LINE:
            lengths = [first, *map(len, pieces[1:])]
            starts = [self.line_start, *([True] * (len(pieces) - 1))]
            self.too_long += sum(
                length + 2 - (start and piece.startswith(b"..")) > MAX_TEXT_LINE
                for length, piece, start in zip(lengths, pieces, starts, strict=True)
            )
        self.carry = 0
        if not self.header_done:
            self._header(seg)
        self.line_start = True

    def fragment(self, frag: bytes) -> None:
        """Count *frag*: part of a line, with no CRLF in it."""
        if not frag:
            return
        self._octets(frag)
        if self.line_start and frag[:1] == b".":
            is_stuffed = frag[1:2] == b"."
            self.stuffed += is_stuffed
            self.unstuffed += not is_stuffed
        self.carry += len(frag)
        if not self.header_done:
            self._header(frag, whole=False)
        self.line_start = False

    def _octets(self, data: bytes) -> None:
        self.started = True
        self.octets += len(data)
        self.bare_lf += data.count(b"\n")
        self.bare_cr += data.count(b"\r")
        if b"\0" in data:
            self.nul += data.count(b"\0")
        if not data.isascii():
            self.eight_bit += len(data) - len(data.translate(None, _HIGH))

    def _header(self, data: bytes, *, whole: bool = True) -> None:
        if whole and self.line_start and data.startswith(b"\r\n"):
            self.header_done = self.header_complete = True
            return
        end = data.find(b"\r\n\r\n") if whole else -1
        part = data if end < 0 else data[: end + 2]
        room = MAX_HEADER_OCTETS - len(self.header)
        self.header += part[:room]
        if end >= 0 or len(part) > room:
            self.header_done, self.header_complete = True, end >= 0 and len(part) <= room

    def to_json(self) -> dict[str, Any]:
        """MessageData.to_json's dict, made without the MessageData."""
        header = bytes(self.header)
        lines = header.split(b"\r\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return {
            "octets": self.octets,
            "size": self.octets - self.stuffed - self.unstuffed,
            "lines": self.lines,
            "longest": self.longest,
            "too_long": self.too_long,
            "bare_lf": self.bare_lf,
            "bare_cr": self.bare_cr,
            "nul": self.nul,
            "eight_bit": self.eight_bit,
            "stuffed": self.stuffed,
            "unstuffed": self.unstuffed,
            "header_eight_bit": len(header) - len(header.translate(None, _HIGH)),
            "header": [[shown(line[:MAX_SHOWN_OCTETS]), len(line)] for line in lines],
            "header_complete": self.header_complete,
            "ended": self.ended,
            "ids": list(self.ids),
        }


# A kept event: ("C", kind, raw, at, octets, ending, bare_cr, replies, message),
# ("S", line, at) or ("note", text, at).
_Event = tuple


class SessionRecorder:
    """Records one connection. Feed it, then call :meth:`closed`; :meth:`build` makes the record
    (and may run in another thread once ``closed`` has been called)."""

    def __init__(self, session_id: str, peer: str, port: int, started_at: float, now: float):
        self.session_id, self.peer, self.port = session_id, peer, port
        self.started_at, self._clock = started_at, now
        self._events: list[_Event] = []
        self._messages: list[_Message] = []
        self._dropped = 0
        self._replies = 0  # final reply lines sent, the greeting included
        self._units = 0  # client commands, secrets and messages sent, each owed a reply
        self._partial: _Partial | None = None
        self._held: _Held | None = None
        self._message: _Message | None = None
        self._secret_next = False
        self._auth_seen = False
        self._secret_words: set[str] = set()
        self._last_code = ""
        self._last_client = self._last_at = now
        self._mail_seen = False
        self._tls = False
        self._ended_at = now
        self._ended_by: EndedBy = "client"

    # --- what the server read ---

    def received(self, data: bytes, at: float) -> None:
        self._last_client = self._last_at = at
        self._feed(data, at, self._replies)

    def _feed(self, data: bytes, at: float, replies: int) -> None:
        while data:
            if self._held is not None:
                self._hold(data, at, replies)
                return
            if self._message is not None:
                data = self._data(data, at, replies)
            else:
                data = self._line_bytes(data, at, replies)

    def _hold(self, data: bytes, at: float, replies: int) -> None:
        held = self._held
        assert held is not None
        held.chunks.append((data, at, replies))
        held.octets += len(data)
        if held.octets > MAX_HELD:  # no reply in sight: read them as commands
            self._release()

    def _line_bytes(self, data: bytes, at: float, replies: int) -> bytes:
        if self._partial is None:
            self._partial = _Partial(at, replies)
        end = data.find(b"\n")
        self._partial.add(data if end < 0 else data[: end + 1])
        if end < 0:
            return b""
        line, self._partial = self._partial, None
        self._client_line(line)
        return data[end + 1 :]

    def _client_line(self, line: _Partial, *, closed: bool = False) -> None:
        ending = "" if closed else "CRLF" if line.tail == b"\r\n" else "LF"
        body = line.kept[: len(line.kept) - (2 if ending == "CRLF" else 1 if ending else 0)]
        body = body[:MAX_SHOWN_OCTETS]
        bare_cr = line.bare_cr - (ending == "CRLF")
        verb = body.split(b" ", 1)[0].upper()
        kind = "command"
        if self._secret_next or (self._auth_seen and verb not in _VERBS):
            kind, raw = "secret", REDACTED.encode()
            if not self._secret_next and verb:
                self._secret_words.add(verb.decode("ascii", "replace"))
            self._secret_next = False
        elif verb == b"AUTH":
            self._auth_seen = True
            words = body.split(b" ")
            raw = b" ".join(words[:2]) + (b" " + REDACTED.encode() if len(words) > 2 else b"")
        else:
            raw = body
            self._mail_seen |= verb == b"MAIL"
        self._units += 1
        self._event(("C", kind, raw, line.at, line.octets, ending, bare_cr, line.replies, None))
        if not closed and (kind == "secret" or verb in _HOLDING):
            self._held = _Held(self._units, b"AUTH" if kind == "secret" else verb)

    def _data(self, data: bytes, at: float, replies: int) -> bytes:
        message = self._message
        assert message is not None
        if not message.started:
            message.at, message.replies, message.started = at, replies, True
        buf = message.pending + data if message.pending else data
        if message.line_start and buf[:3] == b".\r\n":
            end = 0
        else:
            found = buf.find(b"\r\n.\r\n")
            end = found + 2 if found >= 0 else -1
        if end >= 0:
            message.pending = b""
            if end:
                message.lines_of(buf[:end])
            self._end_message(ended=True)
            return buf[end + 3 :]
        last = buf.rfind(b"\r\n")
        cut = last + 2 if last >= 0 else 0
        if cut:
            message.lines_of(buf[:cut])
        pending = buf[cut:]
        if len(pending) > MAX_PENDING:  # a very long line: count it, keep its end
            message.fragment(pending[:-4])
            pending = pending[-4:]
        message.pending = pending
        return b""

    def _end_message(self, *, ended: bool) -> None:
        message = self._message
        assert message is not None
        self._message = None
        message.ended = ended
        self._units += 1
        index = len(self._messages)
        if index < MAX_MESSAGES:
            self._messages.append(message)
        event = ("C", "data", b"", message.at, message.octets, "CRLF" if ended else "", 0,
                 message.replies, index if index < MAX_MESSAGES else None)  # fmt: skip
        self._event(event)

    # --- what the server wrote ---

    def sent(self, reply: str | bytes, at: float) -> None:
        """One line the server wrote (aiosmtpd pushes one a call), without its CRLF."""
        line = reply if isinstance(reply, str) else reply.decode("utf-8", "replace")
        self._last_at = at
        self._event(("S", line, at))
        if line[3:4] == "-":
            return
        self._replies += 1
        self._last_code = line[:3]
        held = self._held
        if held is not None and self._replies == held.unit + 1:
            self._answered(held, line[:3])

    def _answered(self, held: _Held, code: str) -> None:
        if held.verb == b"DATA" and code == "354":
            self._message = _Message(0.0, self._replies)
        elif held.verb == b"AUTH" and code == "334":
            self._secret_next = True
        elif held.verb == b"STARTTLS" and code == "220":
            if held.octets:  # RFC 3207 §4: what came before the handshake is thrown away
                self.note(f"{held.octets:,} octets sent after STARTTLS, before TLS: discarded")
            held.chunks.clear()
        self._release()

    def _release(self) -> None:
        held, self._held = self._held, None
        for data, at, replies in held.chunks if held else ():
            self._feed(data, at, replies)

    def stored(self, ids: list[str]) -> None:
        """The store kept the message just ended as *ids*."""
        if self._messages:
            self._messages[-1].ids.extend(ids)

    def note(self, text: str, at: float | None = None) -> None:
        self._event(("note", text, self._last_at if at is None else at))

    def tls_started(self, at: float) -> None:
        self._tls = True
        self.note("TLS started: the session begins again (RFC 3207 §4.2)", at)

    # --- the end ---

    def closed(self, at: float, *, by_client: bool, idle_limit: float) -> None:
        """The connection is gone; *by_client* when the client closed or reset it."""
        self._ended_at = at
        if self._held is not None:
            self._release()
        if self._message is not None:
            self._message.fragment(self._message.pending)
            self._message.pending = b""
            self._end_message(ended=False)
            self.note("the connection closed in the middle of the message data", at)
        if self._partial is not None:
            self._client_line(self._partial, closed=True)
            self._partial = None
        if self._last_code == "221":
            self._ended_by = "quit"
        elif by_client:
            self._ended_by = "client"
        elif at - self._last_client >= idle_limit * 0.9:
            self._ended_by = "timeout"
        else:
            self._ended_by = "server"

    def _event(self, event: _Event) -> None:
        if len(self._events) < MAX_LINES:
            self._events.append(event)
        else:
            self._dropped += 1

    def build(self, wall_end: float) -> SessionRecord:
        """The record; *wall_end* is the Unix time the connection closed."""
        return SessionRecord.from_json(self.to_json(wall_end))

    def to_json(self, wall_end: float) -> dict[str, Any]:
        """The record as SessionRecord.to_json gives it, made without the objects between: this
        is what the session log's thread does for every session."""
        shown_before: tuple[dict[bytes, str], dict[bytes, str]] = ({}, {})  # escape each once
        return {
            "v": RECORD_VERSION,
            "id": self.session_id,
            "peer": self.peer,
            "port": self.port,
            "started_at": self.started_at,
            "ended_at": wall_end,
            "ended_by": self._ended_by,
            "outcome": self._outcome(),
            "tls": self._tls,
            "lines_dropped": self._dropped,
            "lines": [self._line(event, shown_before) for event in self._events],
            "messages": [message.to_json() for message in self._messages],
        }

    def _outcome(self) -> Outcome:
        if any(message.ids for message in self._messages):
            return "accepted"
        if self._ended_by in ("client", "timeout"):
            return "broken off"
        return "refused" if self._mail_seen else "no mail"

    def _line(self, event: _Event, shown_before: tuple[dict[bytes, str], ...]) -> list[Any]:
        """A WireLine's JSON row (WireLine.to_json) for a kept event."""
        side = event[0]
        if side == "S":
            _, line, at = event
            raw = line.encode("utf-8", "surrogateescape")
            text = shown_before[0].get(raw)
            if text is None:
                text = shown_before[0][raw] = self._reply_text(raw)
            return ["S", "reply", text, self._offset(at), len(raw) + 2, "CRLF", 0, 0, None]
        if side == "note":
            return ["note", "note", event[1], self._offset(event[2]), 0, "", 0, 0, None]
        _, kind, raw, at, octets, ending, bare_cr, replies, message = event
        if kind == "data":
            size = self._messages[message].octets if message is not None else octets
            text = f"<{size:,} bytes of message data>"
        else:
            text = shown_before[1].get(raw)
            if text is None:
                text = shown_before[1][raw] = shown(raw)
        return ["C", kind, text, self._offset(at), octets, ending, bare_cr, replies, message]

    def _reply_text(self, raw: bytes) -> str:
        text = shown(raw[:MAX_SHOWN_OCTETS])
        for word in self._secret_words:  # "500 … "WORD" not recognized" echoes it
            text = text.replace(word, REDACTED)
        return text

    def _offset(self, at: float) -> float:
        """Seconds since the connection opened, to the microsecond (as the JSON keeps them)."""
        return round(at - self._clock, 6) if at > self._clock else 0.0
