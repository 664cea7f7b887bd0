"""Maildrops over the capture server's :class:`~app.mailstore.MailStore`.

The snapshot is taken at login (RFC 1939 §8 leaves it to the server): a message that arrives
during a session shows in the next one. A message's UIDL unique-id is its MailStore id (the
Maildir key), stable across sessions and restarts (RFC 1939 §7).

Reading: ``MailStore.get_bytes`` goes through the stdlib ``mailbox`` module, which lists the
whole Maildir on every lookup. A session instead finds its files once, at login (the store's
documented layout: ``ROOT/mailbox_name(address)/{new,cur}/KEY[:info]``), and reads them
directly; a file moved since (new/ → cur/) is read through ``get_bytes``. A Maildir file never
changes once delivered, so its length seen at login sizes the one ``os.read`` a RETR needs
(about half the cost of ``open().read()``, which builds a buffered file object and stats it).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from app.pop3.protocol import Maildrop, MaildropMessage, wire_size

if TYPE_CHECKING:
    from app.mailstore import MailStore

__all__ = ["open_maildrop", "unique_id"]

#: RFC 1939 §7 UIDL: 1 to 70 characters in the range 0x21 to 0x7E.
_UID_MAX = 70
_READ_MORE = 64 * 1024


def unique_id(message_id: str) -> str:
    """The UIDL unique-id of a store message: its id, or a digest of it if the id will not do."""
    if 0 < len(message_id) <= _UID_MAX and all("!" <= c <= "~" for c in message_id):
        return message_id
    return hashlib.sha256(message_id.encode()).hexdigest()[:_UID_MAX]


def find_mailbox(store: MailStore, address: str) -> str | None:
    """The store's name for *address*'s mailbox: exact match first, else ignoring case."""
    names = store.mailboxes()
    if address in names:
        return address
    return next((name for name in names if name.lower() == address.lower()), None)


def open_maildrop(store: MailStore, address: str) -> Maildrop:
    """The messages of *address*'s mailbox as they are now, oldest first (none: empty)."""
    from app.mailstore import mailbox_name

    recipient = find_mailbox(store, address)
    if recipient is None:
        return Maildrop([], store.remove)
    paths = _files(store.root / mailbox_name(recipient))
    by_uid = {unique_id(key): key for key in store.keys(recipient)}
    messages = [_message(store, uid, key, paths.get(key)) for uid, key in by_uid.items()]
    return Maildrop(messages, lambda uid: store.remove(by_uid[uid]))


def _files(maildir: Path) -> dict[str, str]:
    """Maildir key → file, from one listing of new/ and cur/ (a key drops its ``:info``)."""
    found: dict[str, str] = {}
    for sub in ("new", "cur"):
        try:
            with os.scandir(maildir / sub) as entries:
                found.update((e.name.split(":", 1)[0], e.path) for e in entries)
        except FileNotFoundError:
            continue
    return found


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


def _message(store: MailStore, uid: str, key: str, path: str | None) -> MaildropMessage:
    stored: int | None = None  # the file's length, once read

    def load() -> bytes:
        nonlocal stored
        if path is not None:
            try:
                raw = read_file(path, stored)
            except FileNotFoundError:
                pass
            else:
                stored = len(raw)
                return raw
        return store.get_bytes(key)

    return MaildropMessage(uid, wire_size(load()), load)
