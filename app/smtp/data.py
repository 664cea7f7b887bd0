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
    if _is_normal(message):
        return message  # the usual case: checked in two passes instead of rewritten
    return _ANY_LINE_BREAK.sub(CRLF, message)


# Every CR marked "x" in one copy, every LF marked "x" in another, all else ".": the line ends
# are all CRLF exactly when the LF marks are the CR marks moved one place on. bytes.translate
# and == run at memory speed, where counting CR, LF and CRLF takes three slower scans.
_CR_MARKS = bytes(0x78 if byte == 0x0D else 0x2E for byte in range(256))
_LF_MARKS = bytes(0x78 if byte == 0x0A else 0x2E for byte in range(256))


def _is_normal(message: bytes) -> bool:
    """Whether every CR in *message* is followed by LF and every LF preceded by CR."""
    if message[-1:] == b"\r" or message[:1] == b"\n":
        return False
    return message.translate(_CR_MARKS)[:-1] == message.translate(_LF_MARKS)[1:]


def dot_stuff(message: bytes) -> bytes:
    """Double the "." that starts any line (RFC 5321 §4.5.2); *message* has CRLF line ends."""
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def check_line_lengths(stuffed: bytes) -> None:
    """Refuse any line over :data:`MAX_LINE` octets including its CRLF (§4.5.3.1.6)."""
    if _lines_are_short(stuffed):
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


# A line that fits, CRLF included, has its LF within MAX_LINE octets of its start, and a last
# line without one (its CRLF is added) leaves room for it.
_WINDOW = MAX_LINE
_LAST_LINE = MAX_LINE - len(CRLF)


def _lines_are_short(stuffed: bytes) -> bool:
    """Prove every line fits with few memrchr calls; False means "find the culprit".

    From the start of a line, the last LF within the window ends every line that starts there
    or later in the window; the next window starts after it. No LF in a full window is a line
    too long. A long message of short lines takes one call per window, not one per line.
    """
    start, end = 0, len(stuffed)
    while end - start > _LAST_LINE:
        last = stuffed.rfind(b"\n", start, start + _WINDOW)
        if last < 0:
            return False
        start = last + 1
    return True


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


def header_section(data: bytes) -> bytes:
    """The header section of *data* (CRLF line ends, as :func:`prepare` makes them).

    RFC 5322 §2.1: the header fields run up to the first empty line; without one, all of it.
    """
    if data.startswith(CRLF):
        return b""  # an empty line first: no header fields
    end = data.find(CRLF + CRLF)
    return data if end < 0 else data[:end]


def encode_content(message: bytes) -> bytes:
    """Normalise, check, stuff and terminate *message* so it can follow a 354 reply."""
    return prepare(message)[1]
