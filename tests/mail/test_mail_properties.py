"""Round-trip properties over arbitrary Unicode: what goes in comes back from the parser."""

from __future__ import annotations

import binascii
import quopri
import re
import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mail_oracle import (
    ENCODED_WORD,
    addresses_rfc2047,
    attachment_data,
    checked,
    decode_word,
    same_text,
    text_body,
)

from app.mail import build_message
from app.mail.base64wrap import encode_base64
from app.mail.encodedword import encoded_words
from app.mail.quotedprintable import encode_qp

# Decision (RFC 5322 §3.2.5): header text carries VCHAR, WSP and any non-ASCII character; the C0
# controls other than TAB, and DEL, are refused with ValueError. Bodies carry anything.
REFUSED = "".join(chr(code) for code in range(32) if chr(code) != "\t") + "\x7f"
SHORT_HEADER_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters=REFUSED)
)
# Long values too, so that folding and several encoded-words per field get exercised.
HEADER_TEXT = SHORT_HEADER_TEXT | st.lists(SHORT_HEADER_TEXT, min_size=2, max_size=15).map(" ".join)
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)))
# More than the default 100, and more still under a profile that asks for more (thorough).
EXAMPLES = settings(max_examples=max(150, settings().max_examples), deadline=None)


def build(**overrides: object) -> bytes:
    fields: dict[str, object] = {
        "sender": "ada@example.org",
        "to": "bob@example.com",
        "subject": "Results",
        "text": "Body\n",
    }
    fields.update(overrides)
    return build_message(**fields)  # type: ignore[arg-type]


def one_space(name: str) -> str:
    """Display names as documented: whitespace runs with a blank as one space, none at the ends."""
    return re.sub(r"\s*[ \t]\s*", " ", name).strip(" ")


@EXAMPLES
@given(subject=HEADER_TEXT)
def test_any_subject_round_trips(subject: str) -> None:
    message = checked(build(subject=subject))
    assert str(message["subject"]) == subject


# Subjects that put runs of blanks and tabs in front of non-ASCII words, at every position on
# a line: the blanks travel with the word when it starts a new line, and count there.
BLANK_RUN = st.text(" \t", min_size=1, max_size=12)
MIXED_WORD = st.text(string.ascii_letters, max_size=70) | st.text(
    st.characters(min_codepoint=0xA0, blacklist_categories=("Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=40,
)
BLANKS_AND_NON_ASCII = st.lists(st.tuples(MIXED_WORD, BLANK_RUN), min_size=1, max_size=8).map(
    lambda pairs: "".join(word + blank for word, blank in pairs)
)


@EXAMPLES
@given(subject=BLANKS_AND_NON_ASCII, tail=MIXED_WORD)
@example(subject="x" * 60 + "\t    ", tail="é" * 40)
def test_header_lines_fit_with_blank_runs_before_encoded_words(subject: str, tail: str) -> None:
    # RFC 5322 §2.1.1: lines of at most 78 octets; RFC 2047 §2: encoded-words of at most 75.
    raw = build(subject=subject + tail)
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        assert len(line) <= 78, line
        assert all(len(word) <= 75 for word in ENCODED_WORD.findall(line)), line
    assert str(checked(raw)["subject"]) == subject + tail


def long_ascii_words(*names: str) -> list[bytes]:
    """The words of printable-ASCII names as sent (quoted-pairs escaped) that may exceed a line.

    Such a name is never encoded, so a word too long for 78 characters stands whole on a line
    of its own (RFC 5322 §2.1.1 allows 998).
    """
    words = [word for name in names for word in one_space(name).split(" ")]
    escaped = [re.sub(r'(["\\])', r"\\\1", word) for word in words if word.isascii()]
    return [word.encode() for word in escaped if len(word) > 60]


@EXAMPLES
@given(name=HEADER_TEXT, other=HEADER_TEXT)
def test_any_display_names_round_trip(name: str, other: str) -> None:
    raw = build(sender=(other, "ada@example.org"), to=[(name, "bob@example.com")])
    checked(raw, wide=long_ascii_words(name, other))
    assert addresses_rfc2047(raw, "to") == [(one_space(name), "bob@example.com")]
    assert addresses_rfc2047(raw, "from") == [(one_space(other), "ada@example.org")]


@EXAMPLES
@given(text=ANY_TEXT, html=st.none() | ANY_TEXT)
def test_any_bodies_round_trip(text: str, html: str | None) -> None:
    message = checked(build(text=text, html=html))
    assert same_text(text_body(message), text)
    if html is not None:
        assert same_text(text_body(message, "html"), html)


@EXAMPLES
@given(filename=HEADER_TEXT.filter(str.strip), data=st.binary(max_size=2000))
@example(filename="<>", data=b"")  # a quoted "<…>" lost its brackets (unquoted twice)
@example(filename="=?utf-8?q?x?=.txt", data=b"")  # decoded as an encoded-word when quoted
def test_any_attachment_round_trips(filename: str, data: bytes) -> None:
    message = checked(build(attachments=[(filename, "application/octet-stream", data)]))
    assert attachment_data(message) == [(filename.strip(), "application/octet-stream", data)]


@EXAMPLES
@given(value=HEADER_TEXT, name=st.text(string.ascii_letters + "-", min_size=1, max_size=20))
def test_any_extra_header_value_round_trips(value: str, name: str) -> None:
    message = checked(build(headers=[(f"X-{name}", value)]))
    assert str(message[f"X-{name}"]) == value


@settings(max_examples=max(60, settings().max_examples // 2), deadline=None)
@given(before=HEADER_TEXT, control=st.sampled_from(REFUSED), after=HEADER_TEXT)
def test_control_characters_in_header_text_are_refused(
    before: str, control: str, after: str
) -> None:
    with pytest.raises(ValueError, match="subject"):
        build(subject=before + control + after)


@EXAMPLES
@given(data=st.binary(max_size=3000), soft_end=st.booleans())
def test_quoted_printable_decodes_to_its_input(data: bytes, soft_end: bool) -> None:
    crlf = re.sub(rb"\r\n|\r|\n", b"\r\n", data)  # the encoder's contract: CRLF breaks only
    encoded = encode_qp(crlf, soft_end=soft_end)
    for line in encoded.split(b"\r\n"):
        assert len(line) <= 76
        assert not line.endswith((b" ", b"\t"))
    assert re.fullmatch(rb"[\t\r\n\x20-\x7e]*", encoded)
    assert quopri.decodestring(encoded) == crlf


@EXAMPLES
@given(data=st.binary(max_size=3000))
def test_base64_decodes_to_its_input(data: bytes) -> None:
    encoded = encode_base64(data)
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert binascii.a2b_base64(encoded) == data


@EXAMPLES
@given(text=ANY_TEXT.filter(bool), first_max=st.integers(0, 75))
def test_encoded_words_hold_whole_characters(text: str, first_max: int) -> None:
    words = encoded_words(text, first_max)
    assert all(len(word) <= 75 for word in words)
    decoded = [decode_word(word).decode("utf-8") for word in words]  # each whole UTF-8 alone
    assert "".join(decoded) == text
