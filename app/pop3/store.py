"""Maildrops over the capture server's :class:`~app.store.MailStore`.

The snapshot is taken at login (RFC 1939 §8 leaves it to the server): a message that arrives
during a session shows in the next one. A message's UIDL unique-id is its MailStore id (the
Maildir key), stable across sessions and restarts (RFC 1939 §7).

Which mailbox: the one of the login's address as :func:`app.addresses.mailbox_key` tells
addresses apart (case ignored), as the store files mail; ``ODD@example.org`` and
``odd@example.org`` are one mailbox, which may lie in several Maildirs in an older store.

Reading: ``MailStore.get_bytes`` goes through the stdlib ``mailbox`` module, which lists the
whole Maildir on every lookup. A session instead finds its files once, at login (the store's
documented layout: ``ROOT/NAME/{new,cur}/KEY[:info]`` for each Maildir ``MailStore.maildirs``
names), and reads them directly; a file moved since (new/ → cur/) is read through ``get_bytes``.

A Maildir file never changes once delivered (only its name gains flags), so what one login
learns of it holds for the next: its length as stored, which sizes the one ``os.read`` a RETR
needs (about half the cost of ``open().read()``, which builds a buffered file object and stats
it), and its size as sent, which takes a read and two scans of the whole file to work out
(about 25 µs for 20 KB). :class:`Maildrops` keeps both per message across sessions, so only the
first login after a start, or after new mail, reads the files that are new to it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.addresses import mailbox_key
from app.pop3.protocol import Maildrop, MaildropMessage, wire_size

if TYPE_CHECKING:
    from app.store import MailStore

__all__ = ["Maildrops", "open_maildrop", "unique_id"]

#: RFC 1939 §7 UIDL: 1 to 70 characters in the range 0x21 to 0x7E.
_UID_MAX = 70
_READ_MORE = 64 * 1024


def unique_id(message_id: str) -> str:
    """The UIDL unique-id of a store message: its id, or a digest of it if the id will not do."""
    if 0 < len(message_id) <= _UID_MAX and all("!" <= c <= "~" for c in message_id):
        return message_id
    return hashlib.sha256(message_id.encode()).hexdigest()[:_UID_MAX]


class Maildrops:
    """Opens the maildrops of one store, remembering the sizes of its messages across sessions.

    Calls may come from several threads at once (logins to different mailboxes): each mailbox's
    sizes are replaced whole, by a dict holding only the messages of the latest snapshot.
    """

    def __init__(self, store: MailStore) -> None:
        self.store = store
        self._sizes: dict[str, dict[str, _Sizes]] = {}  # mailbox key → message uid → sizes

    def __call__(self, address: str) -> Maildrop:
        """The messages of *address*'s mailbox as they are now, oldest first (none: empty)."""
        store, mailbox = self.store, mailbox_key(address)
        by_uid = {unique_id(key): key for key in store.keys(mailbox)}  # refreshes the index
        paths = {key: path for maildir in store.maildirs(mailbox) for key, path in _files(maildir)}
        known = self._sizes.get(mailbox, {})
        messages = [_message(store, uid, key, paths.get(key), known) for uid, key in by_uid.items()]
        self._sizes[mailbox] = {m.uid: known[m.uid] for m in messages if m.uid in known}
        return Maildrop(messages, lambda uid: store.remove(by_uid[uid]))


def open_maildrop(store: MailStore, address: str) -> Maildrop:
    """The messages of *address*'s mailbox as they are now, oldest first (none: empty)."""
    return Maildrops(store)(address)


def _files(maildir: Path) -> Iterator[tuple[str, str]]:
    """(Maildir key, file) from one listing of new/ and cur/ (a key drops its ``:info``)."""
    for sub in ("new", "cur"):
        try:
            with os.scandir(maildir / sub) as entries:
                yield from [(e.name.split(":", 1)[0], e.path) for e in entries]
        except FileNotFoundError:
            continue


def read_file(path: str, expected: int | None = None) -> bytes:
    """The whole file: one ``os.read`` of *expected* octets (else of its size now), then one more
    to see the end of the file."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = [os.read(fd, os.fstat(fd).st_size if expected is None else expected)]
        while chunk := os.read(fd, _READ_MORE):  # longer than expected: read on to the end
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class _Sizes:
    stored: int  # octets in the file
    sent: int  # octets with CRLF line endings: the size LIST reports


def _message(
    store: MailStore, uid: str, key: str, path: str | None, known: dict[str, _Sizes]
) -> MaildropMessage:
    """The message, its size from *known* if there, else read (and then added to *known*)."""
    sizes = known.get(uid) if path is not None else None
    stored = sizes.stored if sizes is not None else None

    def load() -> bytes:
        if path is not None:
            try:
                return read_file(path, stored)
            except FileNotFoundError:
                pass
        return store.get_bytes(key)

    if sizes is None:
        raw = load()
        sizes = _Sizes(len(raw), wire_size(raw))
        if path is not None:
            known[uid] = sizes
        stored = sizes.stored
    return MaildropMessage(uid, sizes.sent, load)
