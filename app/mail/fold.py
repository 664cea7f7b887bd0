"""Laying out one header field within 78 characters a line (RFC 5322 §2.1.1, §2.2.3)."""

from __future__ import annotations

from app.mail.encodedword import OVERHEAD, encoded_words
from app.mail.limits import MAX_ENCODED_WORD, MAX_ENCODED_WORD_LINE, MAX_HEADER_LINE

CRLF = "\r\n"
MIN_FIRST_WORD = OVERHEAD + 12  # room for one 4-octet character in Q ("=XX" four times)


def width(text: str) -> int:
    """Length in octets as sent: RFC 6532 §3.4 counts UTF-8 header lines in octets."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class HeaderFolder:
    """One header field, folded by putting CRLF before whitespace (RFC 5322 §2.2.3).

    Never folds straight after the colon (the parser would keep that whitespace, see
    python/cpython#144156), so a continuation line always carries a word after its blank.
    A line holding an encoded-word stops at 76 characters (RFC 2047 §2), others at 78.
    """

    def __init__(self, name: str) -> None:
        self._lines: list[str] = []
        self._line = name + ":"
        self._started = False
        self._line_encoded = False

    def _limit(self, encoded: bool) -> int:
        return MAX_ENCODED_WORD_LINE if encoded or self._line_encoded else MAX_HEADER_LINE

    def add(self, sep: str, text: str, *, encoded: bool = False) -> None:
        """Append sep + text, folding before sep when the line would grow past its limit."""
        too_long = width(self._line) + len(sep) + width(text) > self._limit(encoded)
        if self._started and sep and too_long:
            self._lines.append(self._line)
            self._line, self._line_encoded = sep + text, encoded
        else:
            self._line += sep + text
            self._line_encoded = self._line_encoded or encoded
        self._started = True

    def add_encoded(self, sep: str, text: str) -> None:
        """Append text as encoded-words; whitespace between them is not part of the text.

        Each line holding one stays within 76 characters (RFC 2047 §2), counting the blanks in
        front of the word: when the first word starts a new line, sep travels with it there
        (RFC 5322 §2.2.3 folds before whitespace and unfolding keeps it), so a run of several
        blanks leaves less room for that word.
        """
        room = MAX_ENCODED_WORD_LINE - width(self._line) - len(sep)
        if self._started and room < MIN_FIRST_WORD:
            room = MAX_ENCODED_WORD_LINE - len(sep)  # the first word starts a new line after sep
        for word in encoded_words(text, min(room, MAX_ENCODED_WORD)):
            self.add(sep, word, encoded=True)
            sep = " "

    def text(self) -> str:
        """The field with CRLF line endings, ending in CRLF."""
        return CRLF.join([*self._lines, self._line]) + CRLF
