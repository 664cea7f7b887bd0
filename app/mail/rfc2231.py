"""MIME parameters: token, quoted-string or RFC 2231 extended values with continuations."""

from __future__ import annotations

import re

from app.mail.checks import refuse_controls

# RFC 2045 §5.1: token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>; we leave
# out "'", "*" and "%" too, which RFC 2231 §4 gives meaning to and parsers then misread.
_TOKEN = re.compile(r"[!#$&+\-.0-9A-Z^_`a-z{|}~]+")
# A quoted-string we are willing to write: printable ASCII without the two characters that need
# escaping (RFC 2045 §5.1 leaves quoted-pair handling to RFC 822, which parsers treat unevenly),
# and without blanks at either end (parsers strip them). Nor a value holding "=?": RFC 2047 §5
# says an encoded-word must not appear in a quoted-string, yet parsers (Python's among them)
# decode one there anyway, so `filename="=?utf-8?q?x?=.txt"` would read back as "x.txt". Nor a
# value in angle brackets: the compat32 Message.get_filename unquotes a quoted value a second
# time with email.utils.unquote, which also strips a surrounding "<" and ">", so
# `filename="<a>"` reads back as "a"; it leaves an RFC 2231 value as decoded. Under
# email.policy.default, get_filename strips a surrounding pair of quotes or angle brackets
# from any value, RFC 2231 ones included (a value '"é"' comes back as "é", python/cpython#90738);
# only the parsed header's params hold such a name exactly.
_QUOTABLE = re.compile(r"(?!<.*>\Z)(?!.*=\?)[\x20\x21\x23-\x5b\x5d-\x7e]+")
# RFC 2231 §7: attribute-char := any token character except "*", "'" and "%"
_ATTRIBUTE_CHARS = frozenset(
    b"!#$&+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
_PERCENT = tuple(chr(b) if b in _ATTRIBUTE_CHARS else f"%{b:02X}" for b in range(256))
MAX_SEGMENT = 48  # our choice: "  filename*12*=" plus a 48-character value stays within 78
_CHARSET_PREFIX = "utf-8''"  # RFC 2231 §4: charset "'" language "'" value


def percent_encode(text: str) -> str:
    """RFC 2231 §4: each octet outside attribute-char as "%" and two uppercase hex digits."""
    return "".join(map(_PERCENT.__getitem__, text.encode("utf-8")))


def _segments(text: str) -> list[str]:
    """Percent-encoded pieces of text, each at most MAX_SEGMENT long, whole characters only."""
    segments: list[str] = []
    current = _CHARSET_PREFIX
    for char in text:
        encoded = percent_encode(char)
        if len(current) + len(encoded) > MAX_SEGMENT:
            segments.append(current)
            current = ""
        current += encoded
    return [*segments, current]


def parameter(name: str, value: str) -> list[str]:
    """The `name=value` pieces for one parameter, each to sit on its own folded line.

    A token goes bare, printable ASCII as a quoted-string, anything else (non-ASCII, quotes,
    backslashes, "=?" that readers would decode as an RFC 2047 encoded-word, long values) as
    RFC 2231 §4 `name*=utf-8''…`, split by §3 continuations.
    """
    refuse_controls(name, value)
    if len(value) <= MAX_SEGMENT and _TOKEN.fullmatch(value):
        return [f"{name}={value}"]
    if len(value) <= MAX_SEGMENT and _QUOTABLE.fullmatch(value) and value == value.strip(" "):
        return [f'{name}="{value}"']
    segments = _segments(value)
    if len(segments) == 1:
        return [f"{name}*={segments[0]}"]
    return [f"{name}*{index}*={segment}" for index, segment in enumerate(segments)]
