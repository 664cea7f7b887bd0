"""Quoted-printable (RFC 2045 §6.7) for text bodies whose lines are already CRLF-terminated."""

from __future__ import annotations

import re

from app.mail.limits import MAX_QP_LINE

# RFC 2045 §6.7 rule 2: octets 33-60 and 62-126 may stand for themselves; rule 3: so may space
# and tab, except at the end of a line. CR and LF here are always the CRLF of a hard line break.
_UNSAFE = re.compile(rb"[^\t\r\n\x20-\x3c\x3e-\x7e]")
_TRAILING_BLANK = re.compile(rb"[ \t](?=\r\n|\Z)")
_ESCAPES = {bytes([octet]): b"=%02X" % octet for octet in range(256)}  # rule 1: uppercase hex
_EQUALS = ord("=")
_SOFT_BREAK = b"=\r\n"  # RFC 2045 §6.7 rule 5


def _escape(match: re.Match[bytes]) -> bytes:
    return _ESCAPES[match.group()]


def _wrap(line: bytes, last_max: int) -> bytes:
    """Rule 5: soft breaks keep each line within 76 characters, never inside an =XX escape."""
    if len(line) <= last_max:
        return line
    pieces = []
    start = 0
    while len(line) - start > last_max:
        cut = start + MAX_QP_LINE - 1  # leave room for the "=" of the soft break
        if line[cut - 1] == _EQUALS:
            cut -= 1
        elif line[cut - 2] == _EQUALS:
            cut -= 2
        pieces.append(line[start:cut])
        start = cut
    pieces.append(line[start:])
    return _SOFT_BREAK.join(pieces)


def encode_qp(data: bytes, *, soft_end: bool = False) -> bytes:
    """Quoted-printable of data, whose line breaks must all be CRLF.

    With soft_end, data that does not end in CRLF gets a final soft break, so the encoded
    text ends with CRLF yet decodes without a line break the original did not have.
    """
    encoded = _TRAILING_BLANK.sub(_escape, _UNSAFE.sub(_escape, data))
    if not soft_end and len(encoded) <= MAX_QP_LINE:
        return encoded
    lines = encoded.split(b"\r\n")
    if not soft_end and max(map(len, lines)) <= MAX_QP_LINE:  # fast path: nothing to wrap
        return encoded
    add_soft_end = soft_end and lines[-1] != b""
    last = lines.pop()
    wrapped = [_wrap(line, MAX_QP_LINE) for line in lines]
    wrapped.append(_wrap(last, MAX_QP_LINE - 1 if add_soft_end else MAX_QP_LINE))
    return b"\r\n".join(wrapped) + (_SOFT_BREAK if add_soft_end else b"")
