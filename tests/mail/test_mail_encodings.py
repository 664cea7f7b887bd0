"""The encoders on their own: quoted-printable, base64, encoded-words, RFC 2231, dates."""

from __future__ import annotations

import binascii
import quopri
import re
from datetime import UTC, datetime, timedelta, timezone
from itertools import count

import pytest
from mail_oracle import decode_word

from app.mail import (
    address_is_ascii,
    build_message,
    format_date,
    make_message_id,
    message_needs_smtputf8,
    needs_smtputf8,
)
from app.mail.base64wrap import encode_base64
from app.mail.body import encode_text, to_crlf
from app.mail.dates import FALLBACK_DOMAIN, check_message_id
from app.mail.encodedword import clusters, encoded_words
from app.mail.fold import HeaderFolder
from app.mail.headers import unstructured
from app.mail.multipart import Part, choose_boundary, multipart
from app.mail.quotedprintable import encode_qp
from app.mail.rfc2231 import parameter

# --- quoted-printable (RFC 2045 §6.7) ---------------------------------------------------------


def qp_lines(encoded: bytes) -> list[bytes]:
    return encoded.split(b"\r\n")


def test_qp_escapes_equals_and_uses_uppercase_hex() -> None:
    assert encode_qp("a=b é\r\n".encode()) == b"a=3Db =C3=A9\r\n"


def test_qp_encodes_blanks_at_the_end_of_a_line_only() -> None:
    assert encode_qp(b"a b \r\nc\t\r\nd ") == b"a b=20\r\nc=09\r\nd=20"


def test_qp_soft_breaks_keep_lines_within_76() -> None:
    encoded = encode_qp(b"x" * 200)
    lines = qp_lines(encoded)
    assert [len(line) for line in lines] == [76, 76, 50]
    assert all(line.endswith(b"=") for line in lines[:-1])
    assert quopri.decodestring(encoded) == b"x" * 200


@pytest.mark.parametrize("offset", range(70, 80))
def test_qp_never_splits_an_escape(offset: int) -> None:
    data = b"a" * offset + "é".encode() * 30
    encoded = encode_qp(data)
    for line in qp_lines(encoded):
        assert len(line) <= 76
        assert not re.search(rb"=(?![0-9A-F]{2}|$)", line), line
    assert quopri.decodestring(encoded) == data


def test_qp_soft_end_adds_a_final_soft_break_within_76() -> None:
    encoded = encode_qp(b"y" * 76, soft_end=True)
    assert encoded.endswith(b"=\r\n")
    assert all(len(line) <= 76 for line in qp_lines(encoded))
    assert quopri.decodestring(encoded) == b"y" * 76


def test_qp_soft_end_leaves_text_ending_in_crlf_alone() -> None:
    assert encode_qp(b"done\r\n", soft_end=True) == b"done\r\n"


def test_qp_hard_line_breaks_stay_crlf() -> None:
    assert encode_qp(b"one\r\n\r\ntwo\r\n") == b"one\r\n\r\ntwo\r\n"


# --- text bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "crlf"),
    [("a\nb", "a\r\nb"), ("a\rb", "a\r\nb"), ("a\r\nb", "a\r\nb"), ("\r\r\n\n", "\r\n\r\n\r\n")],
)
def test_line_breaks_become_crlf(text: str, crlf: str) -> None:
    assert to_crlf(text) == crlf


def test_7bit_allows_998_octet_lines_but_not_999() -> None:
    assert encode_text("x" * 998 + "\n", ends_message=True)[0] == "7bit"
    assert encode_text("x" * 999 + "\n", ends_message=True)[0] == "quoted-printable"


def test_text_inside_a_multipart_need_not_end_in_a_line_break() -> None:
    assert encode_text("no newline", ends_message=False) == ("7bit", b"no newline")


# --- base64 (RFC 2045 §6.8) -------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 114, 1000, 100_000])
def test_base64_lines_are_76_and_decode_exactly(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    encoded = encode_base64(data)
    lines = encoded.split(b"\r\n")
    assert all(len(line) == 76 for line in lines[:-1])
    assert len(lines[-1]) <= 76
    assert binascii.a2b_base64(encoded) == data


# --- RFC 2047 encoded-words -------------------------------------------------------------------

ENCODED_WORD = re.compile(r"=\?utf-8\?([qb])\?([^?]*)\?=")


@pytest.mark.parametrize(
    "text", ["ü" * 100, "日本語" * 30, "😀" * 40, "e\u0301" * 50, "👩‍👩‍👧‍👦" * 10, "a" * 200]
)
def test_encoded_words_are_75_or_less_and_hold_whole_characters(text: str) -> None:
    words = encoded_words(text)
    assert all(len(word) <= 75 for word in words)
    pieces = [decode_word(word).decode("utf-8") for word in words]  # each word decodes alone
    assert "".join(pieces) == text


def test_encoded_words_keep_combining_marks_with_their_base() -> None:
    for word in encoded_words("e\u0301" * 50):
        assert decode_word(word).decode().startswith("e")


def test_zwj_sequences_stay_in_one_word() -> None:
    family = "👩‍👩‍👧‍👦"
    for word in encoded_words("x" * 20 + family * 5):
        text = decode_word(word).decode()
        assert text.count(family) * len(family) == len(text.replace("x", ""))


def test_clusters_group_marks_modifiers_and_flags() -> None:
    assert clusters("e\u0301a") == ["e\u0301", "a"]
    assert clusters("👍🏽!") == ["👍🏽", "!"]
    assert clusters("❤️x") == ["❤️", "x"]


def test_mostly_ascii_text_uses_q_and_cjk_uses_b() -> None:
    assert encoded_words("Quiz results for Zoë")[0].startswith("=?utf-8?q?")
    assert encoded_words("日本語のテキスト")[0].startswith("=?utf-8?b?")


def test_q_encoding_leaves_only_phrase_safe_characters() -> None:
    # RFC 2047 §5 rule 3: letters, digits and "!*+-/" may stand for themselves in a phrase.
    word = encoded_words('Zoë a_b=c?d"e(f)g,h.i and many more plain words')[0]
    payload = ENCODED_WORD.fullmatch(word).group(2)  # type: ignore[union-attr]
    assert re.fullmatch(r"(?:[A-Za-z0-9!*+\-/_]|=[0-9A-F]{2})*", payload)


def test_first_word_fits_the_room_left_on_the_line() -> None:
    words = encoded_words("ü" * 40, first_max=30)
    assert len(words[0]) <= 30
    assert all(len(word) <= 75 for word in words)


def test_no_empty_encoded_word_when_the_first_room_is_tiny() -> None:
    words = encoded_words("😀😀", first_max=13)
    assert all(decode_word(word) for word in words)


# --- folding and unstructured headers ---------------------------------------------------------


def test_folding_never_leaves_the_name_alone_on_its_line() -> None:
    folder = HeaderFolder("X-" + "n" * 60)
    folder.add(" ", "w" * 40)
    assert folder.text().startswith("X-" + "n" * 60 + ": " + "w" * 40)


def test_unstructured_folds_before_blanks_within_78() -> None:
    subject = ("alpha beta gamma " * 20).strip()
    text = unstructured("Subject", subject)
    lines = text.split("\r\n")[:-1]
    assert len(lines) > 3
    assert all(len(line) <= 78 for line in lines)
    assert all(line.startswith(" ") for line in lines[1:])
    assert text.replace("\r\n ", " ") == f"Subject: {subject}\r\n"  # RFC 5322 §2.2.3 unfolding


def test_unstructured_encodes_leading_and_trailing_blanks() -> None:
    assert unstructured("Subject", " x") == "Subject: =?utf-8?q?_x?=\r\n"
    assert unstructured("Subject", "x ") == "Subject: =?utf-8?q?x_?=\r\n"


def test_unstructured_keeps_ascii_words_next_to_encoded_ones() -> None:
    assert unstructured("Subject", "Quiz für Ada") == "Subject: Quiz =?utf-8?q?f=C3=BCr?= Ada\r\n"


# --- RFC 2231 parameters ----------------------------------------------------------------------


def test_parameter_forms() -> None:
    assert parameter("charset", "utf-8") == ["charset=utf-8"]
    assert parameter("filename", "my results.csv") == ['filename="my results.csv"']
    assert parameter("filename", "ü.txt") == ["filename*=utf-8''%C3%BC.txt"]
    assert parameter("filename", 'a"b') == ["filename*=utf-8''a%22b"]
    # A quoted "<…>" would be unquoted twice by Python's Message.get_filename, losing the brackets.
    assert parameter("filename", "<a.txt>") == ["filename*=utf-8''%3Ca.txt%3E"]
    assert parameter("filename", "a <b>.txt") == ['filename="a <b>.txt"']
    # RFC 2047 §5: no encoded-word in a quoted-string, nor text a reader would decode as one.
    assert parameter("filename", "=?utf-8?q?x?=.txt") == [
        "filename*=utf-8''%3D%3Futf-8%3Fq%3Fx%3F%3D.txt"
    ]
    assert parameter("filename", "a=b?.txt") == ['filename="a=b?.txt"']


def test_long_parameter_continues_without_splitting_characters() -> None:
    pieces = parameter("filename", "é" * 60)
    assert pieces[0].startswith("filename*0*=utf-8''")
    assert [piece.split("=", 1)[0] for piece in pieces] == [
        f"filename*{index}*" for index in range(len(pieces))
    ]
    values = [piece.split("=", 1)[1].removeprefix("utf-8''") for piece in pieces]
    for value in values:  # each segment is whole characters
        assert re.fullmatch(r"(?:%C3%A9)+", value)
    assert all(len(" " + piece + ";") <= 78 for piece in pieces)


# --- multipart boundaries (RFC 2046 §5.1.1) ---------------------------------------------------


def test_boundary_found_in_a_part_is_skipped() -> None:
    tokens = (f"token{n}" for n in count())
    parts = [b"text with =_qmtoken0 inside", b"and =_qmtoken1 here"]
    assert choose_boundary(parts, lambda: next(tokens)) == "=_qmtoken2"


def test_boundary_is_at_most_70_characters() -> None:
    assert len(choose_boundary([], lambda: "x" * 100)) == 70


def test_no_boundary_left_raises() -> None:
    with pytest.raises(RuntimeError, match="boundary"):
        choose_boundary([b"=_qmsame"], lambda: "same")


def test_multipart_body_has_delimiters_and_a_closing_one() -> None:
    part = multipart("mixed", [Part("Content-Type: text/plain\r\n", b"one")])
    boundary = re.search(r'boundary="([^"]+)"', part.headers).group(1)  # type: ignore[union-attr]
    assert (
        part.body
        == f"--{boundary}\r\nContent-Type: text/plain\r\n\r\none\r\n--{boundary}--".encode()
    )


# --- Date and Message-ID ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2026, 11, 23, 9, 5, 0, tzinfo=UTC), "Mon, 23 Nov 2026 09:05:00 +0000"),
        (
            datetime(2024, 2, 29, 23, 59, 59, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "Thu, 29 Feb 2024 23:59:59 +0530",
        ),
        (
            datetime(
                2000, 1, 2, 3, 4, 5, 999999, tzinfo=timezone(timedelta(hours=-9, minutes=-30))
            ),
            "Sun, 02 Jan 2000 03:04:05 -0930",
        ),
        (
            datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=1, seconds=30))),
            "Mon, 01 Jun 2026 10:59:30 +0000",
        ),
    ],
)
def test_format_date_is_rfc5322_with_english_names_and_numeric_zone(
    when: datetime, expected: str
) -> None:
    assert format_date(when) == expected


def test_format_date_names_every_day_and_month_in_english() -> None:
    days = [format_date(datetime(2026, 11, 23 + n, tzinfo=UTC))[:3] for n in range(7)]
    assert days == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    months = [
        format_date(datetime(2026, month, 1, tzinfo=UTC)).split()[2] for month in range(1, 13)
    ]
    assert months == [
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
    ]


def test_format_date_refuses_a_string() -> None:
    with pytest.raises(TypeError, match="date must be a datetime"):
        format_date("2026-11-23")  # type: ignore[arg-type]


def test_format_date_refuses_years_before_1900() -> None:
    with pytest.raises(ValueError, match="1900"):
        format_date(datetime(1899, 12, 31, tzinfo=UTC))


def test_format_date_defaults_to_now_in_utc() -> None:
    assert format_date().endswith(" +0000")


@pytest.mark.parametrize(
    ("domain", "right"),
    [
        ("example.org", "example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("[192.0.2.1]", "[192.0.2.1]"),
    ],
)
def test_make_message_id_uses_the_domain(domain: str, right: str) -> None:
    message_id = make_message_id(domain)
    assert re.fullmatch(rf"<[0-9a-f]+\.[0-9a-f]{{16}}@{re.escape(right)}>", message_id)
    assert check_message_id(message_id) == message_id  # our own ids meet RFC 5322 §3.6.4


@pytest.mark.parametrize("domain", ["a..b.example", "bad domain", "[a]b]", "", "a@b"])
def test_make_message_id_falls_back_for_an_unusable_domain(domain: str) -> None:
    message_id = make_message_id(domain)
    assert message_id.endswith(f"@{FALLBACK_DOMAIN}>")
    assert check_message_id(message_id) == message_id


def test_make_message_id_is_unique() -> None:
    assert len({make_message_id("example.org") for _ in range(1000)}) == 1000


# --- SMTPUTF8 ---------------------------------------------------------------------------------


def test_needs_smtputf8_only_for_non_ascii_addresses() -> None:
    assert address_is_ascii("ada@example.org")
    assert not address_is_ascii("zoë@example.org")
    assert not needs_smtputf8(["a@example.org", ("Zoë Ünïcode", "zoe@example.org")])
    assert needs_smtputf8(["a@example.org", ("Zoe", "zoe@exämple.org")])
    assert needs_smtputf8("zoë@example.org")
    assert not needs_smtputf8(("Zoë", "zoe@example.org"))


def test_message_needs_smtputf8_only_for_a_non_ascii_address() -> None:
    fields = {"sender": ("Zoë", "zoe@example.org"), "subject": "Grüße", "text": "Grüße 👋\n"}
    ascii_only = build_message(to=("Åsa", "asa@example.org"), **fields)
    utf8 = build_message(to=("Åsa", "åsa@example.org"), **fields)
    assert ascii_only.isascii()
    assert not message_needs_smtputf8(ascii_only)
    assert message_needs_smtputf8(utf8)
