"""Header fields: unstructured text (RFC 5322 §3.2.5 + RFC 2047), parameters, extra fields."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from app.mail.fold import CRLF, HeaderFolder
from app.mail.limits import MAX_HEADER_LINE, MAX_RAW_SPACE
from app.mail.rfc2231 import parameter

Chunk = tuple[str, str, bool]  # (whitespace before it, text, whether it travels encoded)

_BLANKS = re.compile(r"([ \t]+)")
_PRINTABLE_WORD = re.compile(r"[\x21-\x7e]+")
# RFC 5322 §3.6.8: field-name := 1*ftext; ftext := %d33-57 / %d59-126 (printable except ":")
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
# Fields build_message writes itself; a caller's extra header may not replace or repeat them.
STRUCTURAL = frozenset({"date", "from", "to", "cc", "bcc", "subject", "message-id", "mime-version"})
MAX_SUBJECT_WORD = MAX_HEADER_LINE - 1 - MAX_RAW_SPACE  # a longer word would not fit any line


def _is_raw_word(word: str, max_raw: int) -> bool:
    """A word that can appear as itself: printable ASCII that no parser reads as encoded."""
    return len(word) <= max_raw and bool(_PRINTABLE_WORD.fullmatch(word)) and "=?" not in word


def unstructured_chunks(text: str, max_raw: int) -> list[Chunk]:
    """Split text into raw words and runs to encode, keeping every blank that matters.

    RFC 2047 §6.2: blanks between two encoded-words are dropped when decoding, so blanks inside
    an encoded run are encoded with it; leading and trailing blanks (which unfolding would lose)
    and long runs of blanks (which would not fold) likewise go inside encoded-words.
    """
    if not text:
        return []
    parts = _BLANKS.split(text)
    words, blanks = parts[0::2], parts[1::2]  # text alternates words and blanks; words may be ""
    raw = _raw_words(words, blanks, max_raw)
    chunks: list[Chunk] = []
    for index, word in enumerate(words):
        blank = blanks[index - 1] if index else ""
        if not raw[index] and index and not raw[index - 1]:
            chunks[-1] = (chunks[-1][0], chunks[-1][1] + blank + word, True)
        else:
            chunks.append((blank, word, not raw[index]))
    return chunks


def _raw_words(words: list[str], blanks: list[str], max_raw: int) -> list[bool]:
    """Which words may go as themselves: not those beside a blank that cannot stay raw."""
    raw = [_is_raw_word(word, max_raw) for word in words]
    for index, blank in enumerate(blanks):
        at_edge = not words[index] or not words[index + 1]  # a leading or trailing blank
        if at_edge or len(blank) > MAX_RAW_SPACE:
            raw[index] = raw[index + 1] = False
    return raw


def unstructured(name: str, text: str, max_raw: int = MAX_SUBJECT_WORD) -> str:
    """A folded unstructured field (Subject, Comments, X-…) carrying text exactly."""
    folder = HeaderFolder(name)
    for blank, chunk, encoded in unstructured_chunks(text, max_raw):
        (folder.add_encoded if encoded else folder.add)(blank or " ", chunk)
    return folder.text()


def with_parameters(name: str, value: str, parameters: Iterable[tuple[str, str]]) -> str:
    """A field such as Content-Type: value followed by `; name=value` parameters, folded."""
    return _with_parameters(name, value, tuple(parameters))


@functools.lru_cache(maxsize=256)  # the same few Content-Type fields recur in every message
def _with_parameters(name: str, value: str, parameters: tuple[tuple[str, str], ...]) -> str:
    pieces = [value]
    for key, parameter_value in parameters:
        pieces.extend(parameter(key, parameter_value))
    folder = HeaderFolder(name)
    for index, piece in enumerate(pieces):
        folder.add(" ", piece + (";" if index < len(pieces) - 1 else ""))
    return folder.text()


def simple(name: str, value: str) -> str:
    """A field whose value we generated ourselves and know to be short and safe."""
    return f"{name}: {value}{CRLF}"
