"""One SMTP session as the capture server saw it: what the session log keeps of a connection.

Pure data, no I/O. The capture server's recorder (``app.capture.recorder``) builds a
:class:`SessionRecord` from the bytes it read and wrote; the session log (``app.store.sessions``)
stores it as JSON; the pages, the CLI and the conformance check (``app.conformance``) read it.

What is kept is safe to show anywhere: every line is :func:`shown` (control characters,
invalid UTF-8 and invisible formatting escaped, so a peer can neither forge a line nor hide
one) and cut to :data:`MAX_SHOWN_OCTETS`. AUTH secrets are never kept, only their length; the
message data is kept as counts (octets, lines, bare line ends, dot-stuffing) and its header
section, never its body.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "MAX_SHOWN_OCTETS",
    "OUTCOMES",
    "RECORD_VERSION",
    "REDACTED",
    "EndedBy",
    "MessageData",
    "Outcome",
    "SessionRecord",
    "WireLine",
    "shown",
]

#: Of a longer line, this many octets are kept (a 10 MB line is kept as its start and its length).
MAX_SHOWN_OCTETS = 400
#: What stands for an AUTH secret, as app.smtp's own transcript writes it.
REDACTED = "<redacted>"
RECORD_VERSION = 1
#: The octets of each kind of line end a WireLine names.
ENDING_OCTETS = {"CRLF": 2, "LF": 1, "": 0}

Side = Literal["C", "S", "note"]
#: ``command``: a client command line; ``secret``: an AUTH line, kept as REDACTED and a length;
#: ``data``: the message data, kept as a summary; ``reply``: a server line; ``note``: ours.
Kind = Literal["command", "secret", "data", "reply", "note"]
#: ``quit``: the server answered QUIT; ``client``: the client closed (or reset) the connection
#: without it; ``server``: the server closed it (421, too many bad commands, shutdown);
#: ``timeout``: nothing came from the client for the server's idle limit.
EndedBy = Literal["quit", "client", "server", "timeout"]
Outcome = Literal["accepted", "refused", "broken off", "no mail"]
OUTCOMES: tuple[Outcome, ...] = ("accepted", "refused", "broken off", "no mail")

_PLAIN = re.compile(rb"[\x20-\x5b\x5d-\x7e]*")  # printable ASCII but the backslash
_SPECIAL = re.compile(r"[\\\x00-\x1f\x7f-\x9f\udc80-\udcff]")
_NAMED = {"\\": "\\\\", "\t": "\\t", "\r": "\\r", "\n": "\\n", "\x00": "\\0"}
#: Unicode that would change how a line reads without being seen: bidi controls, zero-width
#: characters, line separators, unassigned and private-use code points.
_HIDDEN_CATEGORIES = frozenset({"Cf", "Co", "Cn", "Zl", "Zp", "Cs"})


def shown(raw: bytes) -> str:
    """*raw* as text that shows every octet: UTF-8 is decoded, anything else escaped.

    ``\\`` → ``\\\\``; TAB, CR, LF, NUL → ``\\t \\r \\n \\0``; other controls and octets that are
    not UTF-8 → ``\\xNN``; invisible formatting (bidi overrides, zero-width spaces) → ``\\u202E``.
    The escaping is unambiguous, so a line can never pass for another.
    """
    if _PLAIN.fullmatch(raw):
        return raw.decode("ascii")
    text = _SPECIAL.sub(_escape, raw.decode("utf-8", "surrogateescape"))
    if text.isascii():
        return text
    return "".join(
        f"\\u{ord(char):04X}"
        if not char.isascii() and unicodedata.category(char) in _HIDDEN_CATEGORIES
        else char
        for char in text
    )


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an octet that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02X}"
    return _NAMED.get(char) or f"\\x{code:02X}"


@dataclass(frozen=True, slots=True)
class WireLine:
    """One line of the dialogue.

    *text* is :func:`shown` and at most :data:`MAX_SHOWN_OCTETS` of the line; *octets* is its
    length on the wire, line end included. *ending* is ``CRLF``, ``LF`` (a bare line feed) or
    ``""`` (the connection closed before the line ended). *bare_cr* counts CRs not followed by
    LF inside it. *replies* is how many replies the server had sent when the line's first octet
    arrived: a client line that came before the reply to the one before it was pipelined, and
    one that came with *replies* = 0 came before the greeting. A ``data`` line's *message* is
    its index in :attr:`SessionRecord.messages`.
    """

    side: Side
    kind: Kind
    text: str
    at: float = 0.0
    octets: int = 0
    ending: str = "CRLF"
    bare_cr: int = 0
    replies: int = 0
    message: int | None = None

    @property
    def cut(self) -> bool:
        """Whether more of the line arrived than *text* shows."""
        body = self.octets - ENDING_OCTETS.get(self.ending, 0)
        return self.kind in ("command", "reply") and body > MAX_SHOWN_OCTETS

    @property
    def transcript(self) -> str:
        """The line as ``C: …`` / ``S: …`` (app.smtp.transcript's form), a note as ``-- …``."""
        if self.side == "note":
            return f"-- {self.text}"
        more = f" … [{self.octets:,} octets in all]" if self.cut else ""
        return f"{self.side}: {self.text}{more}"

    def to_json(self) -> list[Any]:
        return [
            self.side,
            self.kind,
            self.text,
            self.at,
            self.octets,
            self.ending,
            self.bare_cr,
            self.replies,
            self.message,
        ]

    @classmethod
    def from_json(cls, row: list[Any]) -> WireLine:
        side, kind, text, at, octets, ending, bare_cr, replies, message = row
        return cls(side, kind, str(text), float(at), int(octets), str(ending), int(bare_cr),
                   int(replies), None if message is None else int(message))  # fmt: skip


@dataclass(frozen=True, slots=True)
class MessageData:
    """What the session log keeps of one message's data (between 354 and the final ".").

    *octets* is the data as sent (stuffing dots included, the final "." line not); *size* is the
    message after un-stuffing, which is what a ``SIZE=`` parameter declares (RFC 1870 §4).
    *longest* and *too_long* measure lines with their CRLF, not counting a stuffing dot
    (RFC 5321 §4.5.3.1.6). *stuffed* counts lines sent as ``..``: a dot-stuffed line, or a line
    that began with ".." and was not stuffed — nobody can tell which. *unstuffed* counts lines
    sent as "." and more text, which a client that stuffs never sends. *header* is the header
    section's lines, shown, with their octets; *header_complete* says the empty line that ends it
    arrived within what is kept. *ended* says the final "." arrived. *ids* are the message ids the
    store gave the copies.
    """

    octets: int = 0
    size: int = 0
    lines: int = 0
    longest: int = 0
    too_long: int = 0
    bare_lf: int = 0
    bare_cr: int = 0
    nul: int = 0
    eight_bit: int = 0
    stuffed: int = 0
    unstuffed: int = 0
    header: tuple[tuple[str, int], ...] = ()
    header_complete: bool = True
    header_eight_bit: int = 0
    ended: bool = True
    ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _MESSAGE_NUMBERS}
        data.update(
            header=[list(line) for line in self.header],
            header_complete=self.header_complete,
            ended=self.ended,
            ids=list(self.ids),
        )
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessageData:
        return cls(
            **{name: int(data.get(name, 0)) for name in _MESSAGE_NUMBERS},
            header=tuple((str(text), int(octets)) for text, octets in data.get("header", ())),
            header_complete=bool(data.get("header_complete", True)),
            ended=bool(data.get("ended", True)),
            ids=tuple(str(i) for i in data.get("ids", ())),
        )


_MESSAGE_NUMBERS = (
    "octets", "size", "lines", "longest", "too_long", "bare_lf", "bare_cr", "nul", "eight_bit",
    "stuffed", "unstuffed", "header_eight_bit",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One connection to the capture server, from accept to close.

    *started_at* and *ended_at* are Unix times; a line's *at* counts from *started_at*. Past
    the recorder's limit lines are no longer kept, only counted (*lines_dropped*).
    """

    id: str
    peer: str
    port: int
    started_at: float
    ended_at: float
    ended_by: EndedBy
    outcome: Outcome
    lines: tuple[WireLine, ...] = ()
    messages: tuple[MessageData, ...] = ()
    lines_dropped: int = 0
    tls: bool = False

    @property
    def started(self) -> datetime:
        return datetime.fromtimestamp(self.started_at, UTC)

    @property
    def ended(self) -> datetime:
        return datetime.fromtimestamp(self.ended_at, UTC)

    @property
    def duration(self) -> float:
        return max(0.0, self.ended_at - self.started_at)

    @property
    def message_ids(self) -> tuple[str, ...]:
        return tuple(i for message in self.messages for i in message.ids)

    @property
    def transcript(self) -> list[str]:
        """The dialogue as ``C: …`` / ``S: …`` lines (notes as ``-- …``)."""
        return [line.transcript for line in self.lines]

    def to_json(self) -> dict[str, Any]:
        return {
            "v": RECORD_VERSION,
            "id": self.id,
            "peer": self.peer,
            "port": self.port,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "ended_by": self.ended_by,
            "outcome": self.outcome,
            "tls": self.tls,
            "lines_dropped": self.lines_dropped,
            "lines": [line.to_json() for line in self.lines],
            "messages": [message.to_json() for message in self.messages],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionRecord:
        """The record *data* holds; ValueError (or KeyError, TypeError) when it is not one."""
        if data.get("v") != RECORD_VERSION:
            raise ValueError(f"not a session record of version {RECORD_VERSION}")
        return cls(
            id=str(data["id"]),
            peer=str(data["peer"]),
            port=int(data["port"]),
            started_at=float(data["started_at"]),
            ended_at=float(data["ended_at"]),
            ended_by=data["ended_by"],
            outcome=data["outcome"],
            tls=bool(data.get("tls", False)),
            lines_dropped=int(data.get("lines_dropped", 0)),
            lines=tuple(WireLine.from_json(row) for row in data["lines"]),
            messages=tuple(MessageData.from_json(m) for m in data["messages"]),
        )
