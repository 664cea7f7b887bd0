"""Words for people: counts in the right number (pages, CLI, POP3 replies), and text from mail
made safe to print on a terminal."""

from __future__ import annotations

import re

__all__ = ["LONE_SURROGATE", "counted", "visible"]

#: Half of a UTF-16 pair on its own: valid in JSON ("\\ud800") and in argv's undecodable bytes,
#: but no text any page, CSV or terminal can be written in.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def counted(count: int, noun: str, nouns: str | None = None) -> str:
    """A count and its noun in the right number: ``1 message``, ``0 messages``, ``2 messages``;
    *nouns* when the plural is not the noun and an "s" (``other mailboxes``)."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def visible(text: str, *, keep: str = "") -> str:
    """*text* with its control characters shown, as ``less`` and ``mutt`` show them: ``^[`` for
    ESC, ``^?`` for DEL, ``<U+009B>`` for a C1 control. A Subject holding ``ESC ] 0; … BEL`` must
    not retitle the terminal of whoever lists the mail; characters in *keep* (a line break in a
    message's text, say) pass as they are."""
    return "".join(
        _shown(char) if _is_control(char) and char not in keep else char for char in text
    )


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code < 0xA0


def _shown(char: str) -> str:
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return "^" + chr(code ^ 0x40)
    return f"<U+{code:04X}>"
