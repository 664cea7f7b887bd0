"""Numbers in words for people: one helper, used by the pages, the CLI and the POP3 replies."""

from __future__ import annotations

__all__ = ["counted"]


def counted(count: int, noun: str, nouns: str | None = None) -> str:
    """A count and its noun in the right number: ``1 message``, ``0 messages``, ``2 messages``;
    *nouns* when the plural is not the noun and an "s" (``other mailboxes``)."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"
