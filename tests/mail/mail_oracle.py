"""The test oracle: the standard library's parser plus our own line checks.

The stdlib parser flags structural defects but not over-long encoded-words, quoted-printable
lines or base64 lines; `check_lines` covers those (RFC 2045 §6.7, §6.8, RFC 2047 §2).
"""

from __future__ import annotations

import binascii
import email
import email.policy
import quopri
import re
from collections.abc import Iterator, Sequence
from email.message import EmailMessage

MAX_LINE = 998
MAX_HEADER_LINE = 78
ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=")
BAD_QP_ESCAPE = re.compile(rb"=(?![0-9A-F]{2}|$)")
LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def parse(raw: bytes) -> EmailMessage:
    """Parse raw with the modern policy and require no defects anywhere."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert_no_defects(message)
    return message


def assert_no_defects(message: EmailMessage) -> None:
    for part in message.walk():
        assert part.defects == [], (part.get_content_type(), part.defects)
        for name, header in part.items():
            assert header.defects == (), (name, str(header), header.defects)


def same_text(a: str, b: str) -> bool:
    return LINE_BREAKS.sub("\n", a) == LINE_BREAKS.sub("\n", b)


def split_parts(raw: bytes, parsed: EmailMessage) -> Iterator[tuple[bytes, bytes, EmailMessage]]:
    """(header block, body, parsed part) for raw and, recursively, each of its parts."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    assert separator, "no blank line after the header block"
    yield head, body, parsed
    if parsed.is_multipart():
        boundary = parsed.get_boundary()
        assert boundary is not None
        assert 1 <= len(boundary) <= 70
        pieces = body.split(b"--" + boundary.encode("ascii"))
        children = parsed.get_payload()
        assert isinstance(children, list)
        # The boundary occurs only as delimiters: preamble, each part, then the closing "--".
        assert len(pieces) == len(children) + 2, "boundary occurs inside a part"
        assert pieces[0] == b""
        assert pieces[-1] in (b"--", b"--\r\n")
        for piece, child in zip(pieces[1:-1], children, strict=True):
            assert piece.startswith(b"\r\n")
            assert piece.endswith(b"\r\n")
            yield from split_parts(piece[2:-2], child)


def check_header_lines(head: bytes, *, wide: Sequence[bytes] = ()) -> None:
    """Header lines within 78 octets (unless they carry a `wide` token), 76 when they hold an
    encoded-word (RFC 2047 §2), which is itself at most 75 characters."""
    for line in head.split(b"\r\n"):
        assert len(line) <= MAX_LINE
        words = ENCODED_WORD.findall(line)
        if not any(token in line for token in wide):
            assert len(line) <= (76 if words else MAX_HEADER_LINE), line
        for word in words:
            assert len(word) <= 75, word
    unfolded = head.replace(b"\r\n ", b" ").replace(b"\r\n\t", b"\t")
    for match in ENCODED_WORD.finditer(unfolded):  # RFC 2047 §5: words stand apart
        before = unfolded[match.start() - 1 : match.start()]
        after = unfolded[match.end() : match.end() + 1]
        assert before in (b" ", b"\t"), unfolded
        assert after in (b" ", b"\t", b"\r", b"", b","), unfolded


def check_body(body: bytes, part: EmailMessage) -> None:
    encoding = part.get("content-transfer-encoding", "7bit").lower()
    lines = body.split(b"\r\n")
    if encoding == "quoted-printable":
        for line in lines:
            assert len(line) <= 76, line
            assert not line.endswith((b" ", b"\t")), line
            assert not BAD_QP_ESCAPE.search(line), line
        assert quopri.decodestring(body) == part.get_payload(decode=True)
    elif encoding == "base64":
        assert all(len(line) <= 76 for line in lines)
        assert binascii.a2b_base64(body) == part.get_payload(decode=True)
    elif not part.is_multipart():
        assert encoding == "7bit"
        assert body.isascii()
        assert all(len(line) <= MAX_LINE for line in lines)


def check_lines(raw: bytes, parsed: EmailMessage, *, wide: Sequence[bytes] = ()) -> None:
    """Line rules the stdlib parser does not check, over every part."""
    assert raw.endswith(b"\r\n")
    assert b"\r" not in raw.replace(b"\r\n", b""), "bare CR"
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF"
    for line in raw.split(b"\r\n"):
        assert len(line) <= MAX_LINE
    for head, body, part in split_parts(raw, parsed):
        check_header_lines(head, wide=wide)
        check_body(body, part)


def checked(raw: bytes, *, wide: Sequence[bytes] = ()) -> EmailMessage:
    """Parse raw with no defects and with every line rule met."""
    message = parse(raw)
    check_lines(raw, message, wide=wide)
    return message


def text_body(message: EmailMessage, subtype: str = "plain") -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def attachment_data(message: EmailMessage) -> list[tuple[str | None, str, bytes]]:
    """(file name, type, data) of each attachment, the name from Content-Disposition's params.

    Not EmailMessage.get_filename(): under the modern policy it re-reads the decoded parameter
    as a quoted-string and unquotes it twice (email.utils.unquote, the double unquoting of
    python/cpython#90738), so a name such as "<a>" or '"a"' loses its outer brackets or quotes
    however it was sent. The parsed header's params hold it exactly.
    """
    found = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        filename = part["content-disposition"].params.get("filename")
        found.append((filename, part.get_content_type(), data))
    return found


def addresses(message: EmailMessage, field: str) -> list[tuple[str, str]]:
    header = message[field]
    return [(address.display_name, address.addr_spec) for address in header.addresses]


# python/cpython#128110 (fixed upstream in 2026, not in the 3.11 we run): the parser keeps the
# blanks between adjacent encoded-words of a display name, although RFC 2047 §6.2 says they are
# ignored. To read display names the RFC's way we first merge each chain of adjacent
# encoded-words into one (semantics-preserving: §6.2 concatenates their decoded octets).
_EW_PARTS = re.compile(rb"=\?utf-8\?([qb])\?([^?\s]*)\?=", re.IGNORECASE)
_EW_CHAIN = re.compile(rb"=\?utf-8\?[qb]\?[^?\s]*\?=(?:[ \t]+=\?utf-8\?[qb]\?[^?\s]*\?=)+", re.I)


def _decoded_octets(encoding: bytes, payload: bytes) -> bytes:
    if encoding.lower() == b"q":
        return binascii.a2b_qp(payload, header=True)
    return binascii.a2b_base64(payload)


def decode_word(word: str) -> bytes:
    """The octets one encoded-word carries (RFC 2047 §4), decoded on its own."""
    match = _EW_PARTS.fullmatch(word.encode("ascii"))
    assert match, word
    return _decoded_octets(*match.groups())


def _merge_chain(match: re.Match[bytes]) -> bytes:
    octets = b"".join(_decoded_octets(*word) for word in _EW_PARTS.findall(match.group()))
    return b"=?utf-8?b?" + binascii.b2a_base64(octets, newline=False) + b"?="


def addresses_rfc2047(raw: bytes, field: str) -> list[tuple[str, str]]:
    """(display name, addr-spec) pairs of field, adjacent encoded-words read per RFC 2047 §6.2."""
    head = raw.partition(b"\r\n\r\n")[0]
    unfolded = head.replace(b"\r\n ", b" ").replace(b"\r\n\t", b"\t")
    return addresses(parse(_EW_CHAIN.sub(_merge_chain, unfolded) + b"\r\n\r\n"), field)
