"""The message data after DATA: line ends normalised, dots stuffed, lines bounded, ended.

RFC 5321 §4.5.2 (transparency) and §4.5.3.1.6 (line length); SMTP smuggling (CVE-2023-51764,
-51765, -51766) is what happens when the first step is skipped.
"""

from __future__ import annotations

import re

from app.smtp.errors import LocalProtocolError

# RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF. We count the
# transparency dot as well, so that no line on the wire is longer (servers measure raw lines).
MAX_LINE = 1000

CRLF = b"\r\n"
_ANY_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def normalise_line_endings(message: bytes) -> bytes:
    """Every bare CR and bare LF becomes CRLF (RFC 5321 §2.3.8).

    This must happen before dot-stuffing: a bare LF followed by "." is how SMTP smuggling
    (CVE-2023-51764/5/6) hides a second message inside the first.
    """
    crlf = message.count(CRLF)
    if message.count(b"\r") == crlf and message.count(b"\n") == crlf:
        return message  # already normal: the usual case, three scans instead of a rewrite
    return _ANY_LINE_BREAK.sub(CRLF, message)


def dot_stuff(message: bytes) -> bytes:
    """Double the "." that starts any line (RFC 5321 §4.5.2); *message* has CRLF line ends."""
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def check_line_lengths(stuffed: bytes) -> None:
    """Refuse any line over :data:`MAX_LINE` octets including its CRLF (§4.5.3.1.6)."""
    if len(stuffed) <= MAX_LINE - len(CRLF) or _lf_in_every_block(stuffed):
        return
    lines = stuffed.split(CRLF)
    if max(map(len, lines)) + len(CRLF) <= MAX_LINE:
        return
    number, length = next(
        (n, len(line) + len(CRLF))
        for n, line in enumerate(lines, start=1)
        if len(line) + len(CRLF) > MAX_LINE
    )
    raise LocalProtocolError(
        f"message line {number} is {length} octets long with its CRLF; SMTP allows {MAX_LINE} "
        "(RFC 5321 §4.5.3.1.6): wrap or encode the body (quoted-printable or base64)"
    )


# A line too long has MAX_LINE - 1 octets or more without an LF; any such run covers a whole
# aligned block of _BLOCK octets. So an LF in every block proves all lines short, with one
# memchr per block instead of splitting the message into lines.
_BLOCK = MAX_LINE // 2


def _lf_in_every_block(stuffed: bytes) -> bool:
    blocks = range(0, len(stuffed) - _BLOCK + 1, _BLOCK)
    return all(stuffed.find(b"\n", start, start + _BLOCK) >= 0 for start in blocks)


def prepare(message: bytes) -> tuple[int, bytes]:
    """The message's size as SIZE counts it, and its bytes as sent after the 354 reply.

    RFC 1870 §3: the size counts CRLF line ends but neither stuffing dots nor the final dot.
    """
    normalised = normalise_line_endings(message)
    stuffed = dot_stuff(normalised)
    check_line_lengths(stuffed)
    if not stuffed or stuffed.endswith(CRLF):
        # RFC 5321 §4.1.1.4: the CRLF ending the last line is the first CRLF of CRLF.CRLF.
        return len(normalised), stuffed + b".\r\n"
    return len(normalised) + len(CRLF), stuffed + b"\r\n.\r\n"


def encode_content(message: bytes) -> bytes:
    """Normalise, check, stuff and terminate *message* so it can follow a 354 reply."""
    return prepare(message)[1]
