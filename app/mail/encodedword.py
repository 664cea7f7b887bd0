"""RFC 2047 encoded-words: UTF-8 text in Q or B encoding, whole characters per word."""

from __future__ import annotations

import binascii
import unicodedata
from collections.abc import Callable, Iterator

from app.mail.limits import MAX_ENCODED_WORD

_Q_PREFIX = "=?utf-8?q?"
_B_PREFIX = "=?utf-8?b?"
_SUFFIX = "?="
OVERHEAD = len(_Q_PREFIX) + len(_SUFFIX)  # RFC 2047 §2: "=?" charset "?" encoding "?" … "?="
# RFC 2047 §5 rule 3: in a phrase, Q may leave only letters, digits and "!*+-/" unencoded; using
# the same set in unstructured text keeps one encoder valid in both places.
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_TABLE = tuple(
    chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}"  # RFC 2047 §4.2 rule 2: "_"
    for b in range(256)
)
_Q_COST = tuple(len(q) for q in _Q_TABLE)
_ZWJ = "\u200d"
_EXTENDING_CATEGORIES = frozenset({"Mn", "Me", "Mc"})


def q_encode(data: bytes) -> str:
    """RFC 2047 §4.2: the Q encoding of data."""
    return "".join(map(_Q_TABLE.__getitem__, data))


def b_encode(data: bytes) -> str:
    """RFC 2047 §4.1: the B encoding (base64) of data."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _q_length(weight: int) -> int:
    return weight


def _b_length(weight: int) -> int:
    return 4 * ((weight + 2) // 3)


def _q_weight(data: bytes) -> int:
    return sum(map(_Q_COST.__getitem__, data))


def _extends_cluster(char: str, previous: str) -> bool:
    """Whether char belongs with the character before it (a rough grapheme cluster rule)."""
    if _ZWJ in (previous, char):
        return True
    if "\ufe00" <= char <= "\ufe0f" or "\U0001f3fb" <= char <= "\U0001f3ff":
        return True  # variation selectors and emoji skin-tone modifiers
    if "\U000e0020" <= char <= "\U000e007f":
        return True  # emoji tag sequences (subdivision flags)
    return unicodedata.category(char) in _EXTENDING_CATEGORIES


def clusters(text: str) -> list[str]:
    """Split text into user-perceived characters, so an encoded-word never splits one."""
    if text.isascii():
        return list(text)
    result: list[str] = []
    previous = ""
    for char in text:
        if result and _extends_cluster(char, previous):
            result[-1] += char
        else:
            result.append(char)
        previous = char
    return result


def _pieces(text: str, fits: Callable[[bytes], bool]) -> Iterator[bytes]:
    """UTF-8 clusters of text; a cluster too long for one word comes as single code points."""
    for cluster in clusters(text):
        data = cluster.encode("utf-8")
        if fits(data):
            yield data
        else:
            yield from (char.encode("utf-8") for char in cluster)


def encoded_words(text: str, first_max: int = MAX_ENCODED_WORD) -> list[str]:
    """Encode text as encoded-words of at most 75 characters (the first at most first_max).

    Q or B is chosen by which is shorter for the whole text (RFC 2047 §4). Words hold whole
    clusters (RFC 2047 §5: "a multi-octet character may not be split across adjacent
    encoded-words"; we keep combining marks and emoji sequences whole too) and are never empty.
    """
    data = text.encode("utf-8")
    use_q = _q_weight(data) <= _b_length(len(data))
    weight = _q_weight if use_q else len
    length = _q_length if use_q else _b_length
    encode, prefix = (q_encode, _Q_PREFIX) if use_q else (b_encode, _B_PREFIX)
    if length(weight(data)) <= first_max - OVERHEAD:  # fast path: it all fits in one word
        return [prefix + encode(data) + _SUFFIX]
    limit = MAX_ENCODED_WORD - OVERHEAD
    chunks = _chunk(_pieces(text, lambda d: length(weight(d)) <= limit), weight, length, first_max)
    return [prefix + encode(chunk) + _SUFFIX for chunk in chunks]


def _chunk(
    pieces: Iterator[bytes],
    weight: Callable[[bytes], int],
    length: Callable[[int], int],
    first_max: int,
) -> list[bytes]:
    """Group pieces greedily into payloads whose encoded length fits each word."""
    limit = max(first_max, 0) - OVERHEAD
    chunks: list[bytes] = []
    current: list[bytes] = []
    used = 0
    for piece in pieces:
        cost = weight(piece)
        if length(used + cost) > limit:
            if current:
                chunks.append(b"".join(current))
            current, used, limit = [], 0, MAX_ENCODED_WORD - OVERHEAD
        current.append(piece)
        used += cost
    if current:
        chunks.append(b"".join(current))
    return chunks
