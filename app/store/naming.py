"""Mailbox names: each mailbox's Maildir is named for its address, reversibly and safely.

A mailbox is an address as :func:`app.addresses.mailbox_key` tells addresses apart (case
ignored): mail for ``Ada@Example.org`` and for ``ada@example.org`` goes to one Maildir, named
for the key. A store written before that may hold the same mailbox in several Maildirs (one per
spelling of the local part); :func:`address_of_mailbox` reads each of them back.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import quote, unquote

from app.addresses import mailbox_key

__all__ = [
    "MAX_NAME_BYTES",
    "address_of_mailbox",
    "cached_mailbox_name",
    "is_mailbox",
    "mailbox_name",
]

#: Longest file name ext4, XFS and btrfs accept (NAME_MAX).
MAX_NAME_BYTES = 255

_UNSAFE_IN_NAME = re.compile(r"[\x00-\x1f\x7f%/]")


def mailbox_name(address: str) -> str:
    """A file-system-safe, reversible directory name for the mailbox of *address* (its key).

    Percent-encoding (ASCII only) when that fits in one directory entry; otherwise, as for a long
    internationalized address (RFC 6531: up to 254 octets of UTF-8, up to three times as many once
    percent-encoded), the UTF-8 itself with only ``%``, ``/``, controls and a leading ``.``
    encoded. Either way the name decodes back with ``unquote``, and each address has one name.

    Raises ValueError when not even that fits (longer than RFC 5321 §4.5.3.1.3 allows a path).
    """
    key = mailbox_key(address)
    name = _encoded_name(key) if key else None
    if name is None:
        raise ValueError(f"address cannot be a mailbox name: {address!r}")
    return name


def _encoded_name(address: str) -> str | None:
    """*address* as a directory name (see mailbox_name), or None if it is too long for one."""
    for encoded in (quote(address, safe="@+=,"), _UNSAFE_IN_NAME.sub(_percent, address)):
        # never ".", "..", or a hidden file such as the index
        name = "%2E" + encoded[1:] if encoded.startswith(".") else encoded
        if len(name.encode()) <= MAX_NAME_BYTES:
            return name
    return None


def _percent(match: re.Match[str]) -> str:
    return f"%{ord(match[0]):02X}"


def address_of_mailbox(name: str) -> str | None:
    """The address whose mailbox is called *name*, or None for a name we would not have made.

    A name made before mailboxes were named by their key (``Ada@example.org``) is still one:
    the address as it was spelt then, whose key is the mailbox's.
    """
    address = unquote(name)
    return address if address and _encoded_name(address) == name else None


#: mailbox_name() of each recipient, for deliveries (it percent-encodes character by character).
cached_mailbox_name = functools.lru_cache(maxsize=4096)(mailbox_name)


@functools.lru_cache(maxsize=4096)
def is_mailbox(name: str) -> bool:
    """Whether the directory entry *name* is a mailbox (cached: refresh asks on every read)."""
    return address_of_mailbox(name) is not None
