"""The dialogue as people read it: "C: …" for what we sent, "S: …" for what the server said.

Most transcripts are never read (a message that went through is only counted), so recording keeps
what was already at hand (the bytes written, the :class:`Reply`, the event to summarise) and the
lines are made only when someone reads them, each entry once.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate

from app.smtp.events import Event
from app.smtp.replies import Reply
from app.smtp.writer import describe

CRLF = b"\r\n"

# An entry: bytes written (one or more command lines, exactly as on the wire), an event whose
# line is a summary (secrets, the message), a reply, or a note ("-- …") of our own.
Entry = bytes | Event | Reply | str


class Transcript:
    """The recent lines of one connection.

    Past ``max_lines`` the oldest entries go, down to half as many lines: a worker may keep one
    connection for thousands of messages. The newest entry always stays, however long.

    Each entry is also filed under ``tag``, the number of the message it belongs to (``None``
    for the connection's own lines), at the time it is added: with PIPELINING one write and its
    replies mix two messages (RFC 2920 §3.1), and each message's lines are still told apart.
    """

    def __init__(self, max_lines: int) -> None:
        self.max_lines = max_lines
        self._entries: list[Entry] = []
        self._counts: list[int] = []  # the number of lines of each entry
        self._tags: list[int | None] = []  # the message each entry belongs to
        self.tag: int | None = None
        self._lines: list[str] = []  # the lines of the first _made entries
        self._made = 0
        self._total = 0

    def sent(self, data: bytes) -> None:
        """Command lines went out as *data*, each ending in CRLF."""
        self._add(data, data.count(CRLF))

    def summarised(self, event: Event) -> None:
        """*event* went out; its line says what it was without what it carried."""
        self._add(event, 1)

    def received(self, reply: Reply) -> None:
        self._add(reply, len(reply.wire))

    def note(self, text: str) -> None:
        self._add(text, 1)

    def lines(self) -> list[str]:
        """Every line kept, oldest first (a new list: the caller may keep or change it)."""
        for entry in self._entries[self._made :]:
            self._lines.extend(_lines_of(entry))
        self._made = len(self._entries)
        return list(self._lines)

    def lines_of(self, tag: int) -> list[str]:
        """The lines kept of the entries filed under *tag*, oldest first."""
        tagged = zip(self._entries, self._tags, strict=True)
        return [
            line for entry, entry_tag in tagged if entry_tag == tag for line in _lines_of(entry)
        ]

    def _add(self, entry: Entry, count: int) -> None:
        self._entries.append(entry)
        self._counts.append(count)
        self._tags.append(self.tag)
        self._total += count
        if self._total > self.max_lines:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        # Lines before each entry's end, so that the cut is found without a loop in Python.
        ends = list(accumulate(self._counts))
        dropped = min(bisect_left(ends, self._total - self.max_lines // 2) + 1, len(ends) - 1)
        made = min(dropped, self._made)
        lines, made_lines = (ends[dropped - 1] if dropped else 0), (ends[made - 1] if made else 0)
        del self._entries[:dropped], self._counts[:dropped], self._tags[:dropped]
        del self._lines[:made_lines]
        self._made -= made
        self._total -= lines


def _lines_of(entry: Entry) -> list[str]:
    if isinstance(entry, bytes):
        # Exactly as on the wire; UTF-8 only with SMTPUTF8, which the core checks was offered.
        return ["C: " + line for line in entry.decode("utf-8").split("\r\n")[:-1]]
    if isinstance(entry, Reply):
        return ["S: " + line for line in entry.wire]
    if isinstance(entry, str):
        return [entry]
    return ["C: " + describe(entry)]
