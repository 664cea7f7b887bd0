"""Download a maildrop into a local mailbox, resuming by UIDL: what ``fetchmail`` and ``mpop`` do.

Each message not yet seen (RFC 1939 §7: its unique id is not in the :class:`SeenLog`) is
retrieved, pipelined when the server offers it (RFC 2449), and stored as soon as it is whole; its
id is logged after it is stored. With ``delete`` every message now stored locally is marked
with DELE and removed at QUIT (RFC 1939 §6); if anything fails before QUIT, nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.mua.local import LocalMailbox, SeenLog
from app.pop3client import POP3Client

#: Messages stored between two syncs of the mailbox and the log: each message file is fsynced
#: before it is renamed into place; the directory entries and the ids follow in groups.
SYNC_EVERY = 64


@dataclass
class FetchResult:
    fetched: int = 0
    skipped: int = 0  # seen before
    deleted: int = 0
    #: The server has no UIDL: every run downloads every message (unless they are deleted).
    no_uidl: bool = False


def fetch(
    pop: POP3Client,
    mailbox: LocalMailbox,
    seen: SeenLog,
    *,
    delete: bool = False,
    progress: Callable[[FetchResult], None] | None = None,
) -> FetchResult:
    """Download what *seen* lacks into *mailbox* over *pop* (logged in); QUIT at the end."""
    result = FetchResult()
    sizes = pop.list()
    found = pop.unique_ids()
    result.no_uidl = found is None
    uids = found or {}
    wanted = [n for n in sizes if uids.get(n) not in seen or result.no_uidl]
    result.skipped = len(sizes) - len(wanted)
    try:
        for number, raw in pop.retrieve(wanted):
            mailbox.add(raw)
            if not result.no_uidl:
                seen.add(uids[number])
            result.fetched += 1
            if result.fetched % SYNC_EVERY == 0:
                _sync(mailbox, seen, result, progress)
    finally:
        _sync(mailbox, seen, result, progress)
    if delete and sizes:
        pop.dele_many(sorted(sizes))
        result.deleted = len(sizes)
    pop.quit()
    if not result.no_uidl:  # the log keeps only what is still on the server
        seen.keep_only(() if delete else uids.values())
    return result


def _sync(
    mailbox: LocalMailbox,
    seen: SeenLog,
    result: FetchResult,
    progress: Callable[[FetchResult], None] | None,
) -> None:
    mailbox.sync()  # the messages first: an id logged is a message kept
    seen.sync()
    if progress is not None:
        progress(result)
