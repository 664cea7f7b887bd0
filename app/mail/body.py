"""Text bodies: CRLF line breaks, then 7bit when the text allows, else quoted-printable."""

from __future__ import annotations

import re

from app.mail.limits import MAX_LINE
from app.mail.quotedprintable import encode_qp

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# RFC 2045 §2.7: 7bit data is short lines of US-ASCII. We also send control characters and
# blanks at a line's end encoded, since gateways strip or mangle them (RFC 2045 §6.7 rule 3).
_NOT_7BIT = re.compile(r"[^\t\r\n\x20-\x7e]|[ \t](?:\r\n|\Z)")


def to_crlf(text: str) -> str:
    """Every line break (CRLF, LF or bare CR) as CRLF (RFC 5322 §2.3, RFC 5321 §2.3.8)."""
    if "\r" not in text:
        return text.replace("\n", "\r\n")
    return _LINE_BREAK.sub("\r\n", text)


def is_7bit(text: str) -> bool:
    """Whether CRLF text can travel as itself: printable ASCII in lines of ≤ 998 octets."""
    if _NOT_7BIT.search(text):
        return False
    return len(text) <= MAX_LINE or max(map(len, text.split("\r\n"))) <= MAX_LINE


def encode_text(text: str, *, ends_message: bool) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, body) for text.

    A body that ends the whole message must end in CRLF (RFC 5321 §4.1.1.4 adds one otherwise,
    changing the text), so unless the text ends with a line break it goes quoted-printable with
    a final soft break.
    """
    crlf = to_crlf(text)
    needs_end = ends_message and crlf != "" and not crlf.endswith("\r\n")
    if not needs_end and is_7bit(crlf):
        return "7bit", crlf.encode("ascii")
    return "quoted-printable", encode_qp(crlf.encode("utf-8"), soft_end=ends_message)
