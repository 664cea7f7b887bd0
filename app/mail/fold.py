"""Laying out one header field within 78 characters a line (RFC 5322 §2.1.1, §2.2.3)."""

from __future__ import annotations

from app.mail.encodedword import OVERHEAD, encoded_words
from app.mail.limits import MAX_ENCODED_WORD, MAX_HEADER_LINE

CRLF = "\r\n"


def width(text: str) -> int:
    """Length in octets as sent: RFC 6532 §3.4 counts UTF-8 header lines in octets."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class HeaderFolder:
    """One header field, folded by putting CRLF before whitespace (RFC 5322 §2.2.3).

    Never folds straight after the colon (the parser would keep that whitespace, see
    python/cpython#144156), so a continuation line always carries a word after its blank.
    """

    def __init__(self, name: str) -> None:
        self._lines: list[str] = []
        self._line = name + ":"
        self._started = False

    def add(self, sep: str, text: str) -> None:
        """Append sep + text, folding before sep when the line would pass 78 characters."""
        too_long = width(self._line) + len(sep) + width(text) > MAX_HEADER_LINE
        if self._started and sep and too_long:
            self._lines.append(self._line)
            self._line = sep + text
        else:
            self._line += sep + text
        self._started = True

    def add_encoded(self, sep: str, text: str) -> None:
        """Append text as encoded-words; whitespace between them is not part of the text."""
        room = MAX_HEADER_LINE - width(self._line) - len(sep)
        if self._started and room < OVERHEAD + 12:  # 12: room for one 4-octet character in Q
            room = MAX_ENCODED_WORD
        for word in encoded_words(text, min(room, MAX_ENCODED_WORD)):
            self.add(sep, word)
            sep = " "

    def text(self) -> str:
        """The field with CRLF line endings, ending in CRLF."""
        return CRLF.join([*self._lines, self._line]) + CRLF
