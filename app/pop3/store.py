"""Maildrops over the capture server's :class:`~app.mailstore.MailStore`.

The snapshot is taken at login (RFC 1939 §8 leaves it to the server): a message that arrives
during a session shows in the next one. A message's UIDL unique-id is its MailStore id, which is
stable across sessions and restarts (RFC 1939 §7).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from app.pop3.protocol import Maildrop, MaildropMessage, wire_size

if TYPE_CHECKING:
    from app.mailstore import MailStore

__all__ = ["open_maildrop", "unique_id"]

#: RFC 1939 §7 UIDL: 1 to 70 characters in the range 0x21 to 0x7E.
_UID_MAX = 70


def unique_id(message_id: str) -> str:
    """The UIDL unique-id of a store message: its id, or a digest of it if the id will not do."""
    if 0 < len(message_id) <= _UID_MAX and all("!" <= c <= "~" for c in message_id):
        return message_id
    return hashlib.sha256(message_id.encode()).hexdigest()[:_UID_MAX]


def open_maildrop(store: MailStore, address: str) -> Maildrop:
    """The messages of *address*'s mailbox as they are now, oldest first (none: empty)."""
    ids = store.keys(address) if address in store.mailboxes() else []
    by_uid = {unique_id(message_id): message_id for message_id in ids}
    messages = [_message(store, uid, message_id) for uid, message_id in by_uid.items()]
    return Maildrop(messages, lambda uid: store.remove(by_uid[uid]))


def _message(store: MailStore, uid: str, message_id: str) -> MaildropMessage:
    size = wire_size(store.get_bytes(message_id))
    return MaildropMessage(uid, size, lambda: store.get_bytes(message_id))
