"""The terminal client's view of a maildrop: numbers that stay put, and deletions kept until QUIT.

POP3 numbers messages afresh in every session (RFC 1939 §5), and the maildrop a session sees
does not change while it lasts, so seeing new mail means a new session. The numbers shown to the
person are ours: each unique id (UIDL, RFC 1939 §7) keeps the number it was first shown with,
new mail gets the next ones, and what left the server is said to have left, so that a refresh
never renumbers under anyone silently. Deletions are DELE'd at once, as RFC 1939 means them:
marks in this session that the server applies only at QUIT. A refresh ends the old session with
RSET and QUIT (nothing applied), and the new session marks the same messages again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.mua.display import list_line
from app.pop3client import POP3Client


@dataclass
class Entry:
    """One message as listed: our number for it, and where it is in the current session."""

    number: int
    uid: str | None
    pop_number: int
    size: int
    line: str
    deleted: bool = False


@dataclass
class Changes:
    """What a refresh found: new messages, and messages gone from the server (their numbers)."""

    new: int = 0
    gone: list[int] = field(default_factory=list)


class MailSession:
    """``open`` logs in and lists; ``read``, ``delete``; ``refresh``; ``quit`` or ``abandon``."""

    def __init__(self, connect: Callable[[], POP3Client], user: str, password: str) -> None:
        self._connect = connect
        self.user, self._password = user, password
        self.entries: dict[int, Entry] = {}
        self.pop: POP3Client | None = None
        #: The server lists no unique ids: numbers follow the server's, and may change.
        self.without_uidl = False
        self._listed = False  # a first list has nothing "new" in it

    @property
    def live(self) -> list[Entry]:
        """The messages listed: not marked for deletion, in number order."""
        return [e for e in sorted(self.entries.values(), key=lambda e: e.number) if not e.deleted]

    @property
    def marked(self) -> int:
        return sum(e.deleted for e in self.entries.values())

    def open(self) -> Changes:
        """Log in and (re)build the list; the first time, nothing counts as new."""
        pop = self._connect()
        try:
            pop.login(self.user, self._password)
            changes = self._listing(pop)
            pop.dele_many(e.pop_number for e in self.entries.values() if e.deleted)
        except BaseException:
            pop.close()
            raise
        self.pop = pop
        return changes

    def refresh(self) -> Changes:
        self.abandon()
        return self.open()

    def read(self, number: int) -> bytes:
        return self._session().retr(self.entries[number].pop_number)

    def delete(self, number: int) -> None:
        entry = self.entries[number]
        self._session().dele(entry.pop_number)
        entry.deleted = True

    def quit(self) -> int:
        """QUIT: the server removes what was marked (RFC 1939 §6); how many that was."""
        marked = self.marked
        self._session().quit()
        self.pop = None
        return marked

    def abandon(self) -> None:
        """End the session applying nothing: RSET, QUIT (or just close, mid-response)."""
        if self.pop is not None:
            self.pop.close()
            self.pop = None

    def _session(self) -> POP3Client:
        if self.pop is None:
            raise RuntimeError("the session is not open")
        return self.pop

    def _listing(self, pop: POP3Client) -> Changes:
        sizes = pop.list()
        found = pop.unique_ids()
        self.without_uidl = found is None
        uids = found or {}
        first, self._listed = not self._listed, True
        known = {e.uid: e for e in self.entries.values()} if not self.without_uidl else {}
        keys = {n: uids.get(n) for n in sizes}
        fresh = [n for n in sizes if self.without_uidl or keys[n] not in known]
        headers = dict(pop.tops(fresh, 0))
        changes = Changes(
            gone=sorted(e.number for e in known.values() if e.uid not in keys.values())
        )
        entries: dict[int, Entry] = {}
        next_number = 1 if self.without_uidl else max(self.entries, default=0) + 1
        for pop_number in sizes:
            entry = known.get(keys[pop_number])
            if entry is None:
                number = pop_number if self.without_uidl else next_number
                next_number += not self.without_uidl
                entry = Entry(
                    number,
                    keys[pop_number],
                    pop_number,
                    sizes[pop_number],
                    list_line(number, headers[pop_number]),
                )
                changes.new += 1
            entry.pop_number = pop_number
            entries[entry.number] = entry
        self.entries = entries
        if first:
            changes.new = 0
        return changes
