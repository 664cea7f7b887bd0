"""build_message end to end: every message parsed by the stdlib oracle and checked line by line."""

from __future__ import annotations

import email
import email.policy
import os
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from mail_oracle import (
    addresses,
    addresses_rfc2047,
    attachment_data,
    checked,
    parse,
    same_text,
    text_body,
)

from app.mail import build_message

SENDER = ("Ada Lovelace", "ada@example.org")


def build(**overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "sender": SENDER,
        "to": "bob@example.com",
        "subject": "Your results",
        "text": "You scored 8/10.\n",
    }
    fields.update(overrides)
    return build_message(**fields)


def head(raw: bytes) -> bytes:
    return raw.partition(b"\r\n\r\n")[0]


HARD_SUBJECTS = [
    "Grüße — your results 📬",
    "测验结果：十分之八",
    "نتيجة الاختبار: ٨ من ١٠",  # right-to-left
    "שלום עולם and English",
    "e\u0301" * 60,  # combining acute accents
    "👩‍👩‍👧‍👦 family 🏳️‍🌈 flags 🇫🇷🇩🇪",  # ZWJ sequences and regional indicators
    "word " * 60,  # 300 characters of plain words
    "ü" * 300,
    "x" * 300,  # one word longer than any line
    "  leading blanks",
    "trailing blanks  ",
    "inner\t\ttabs and   spaces",
    "wide" + " " * 100 + "gap",
    "\t\t\t",
    " ",
    "",
    "=?utf-8?q?looks_encoded?= but is not",
    "line\u2028separator and NEL\x85 and C1\x9b",
    "x" * 60 + "\t    " + "é" * 40,  # blanks carried to the line of an encoded-word count
]


@pytest.mark.parametrize("subject", HARD_SUBJECTS)
def test_subject_round_trips_exactly(subject: str) -> None:
    message = checked(build(subject=subject))
    assert str(message["subject"]) == subject


def test_ascii_subject_is_left_readable() -> None:
    raw = build(subject="Your results for SMTP and Internet mail")
    assert b"Subject: Your results for SMTP and Internet mail\r\n" in raw


def test_long_subject_folds_at_whitespace_within_78() -> None:
    raw = build(subject="word " * 59 + "end")
    lines = head(raw).split(b"\r\n")
    subject_lines = [line for line in lines if line.startswith((b"Subject:", b" "))]
    assert len(subject_lines) > 3
    assert all(len(line) <= 78 for line in subject_lines)
    assert subject_lines[0] != b"Subject:"  # never folded straight after the colon


def test_non_ascii_subject_uses_encoded_words_of_75_or_less() -> None:
    raw = build(subject="ü" * 300)
    words = re.findall(rb"=\?utf-8\?[qb]\?[^?]*\?=", head(raw))
    assert len(words) > 4
    assert all(len(word) <= 75 for word in words)
    assert b"\xc3" not in head(raw)


@pytest.mark.parametrize("blank", ["\t    ", " " * 8, "\t" * 8, " \t"])
def test_blanks_before_an_encoded_word_on_a_new_line_are_counted(blank: str) -> None:
    # RFC 2047 §2: a line holding an encoded-word is at most 76 characters, blanks included.
    subject = "x" * 60 + blank + "é" * 40
    raw = build(subject=subject)
    for line in head(raw).split(b"\r\n"):
        assert len(line) <= (76 if b"=?" in line else 78), line
    assert str(checked(raw)["subject"]) == subject


HARD_NAMES = [
    "Ada Lovelace",
    'Ada "The Countess" Lovelace',
    "Lovelace, Ada",
    "back\\slash",
    'both "quote" and \\ and, comma',
    "A. Lovelace (Countess)",
    "Zoë Ångström",
    "日本 太郎",
    "محمد",
    "e\u0301cole",
    "=?utf-8?q?Mallory?=",
    "Zoë\u3000wide space",
    "line\u2028separator",
]


@pytest.mark.parametrize("name", HARD_NAMES)
@pytest.mark.parametrize("field", ["to", "cc"])
def test_display_names_round_trip(name: str, field: str) -> None:
    raw = build(**{field: [(name, "bob@example.com"), "carol@example.net"]})
    message = checked(raw)
    assert addresses(message, field) == [(name, "bob@example.com"), ("", "carol@example.net")]


@pytest.mark.parametrize("name", HARD_NAMES)
def test_sender_display_name_round_trips(name: str) -> None:
    message = checked(build(sender=(name, "ada@example.org")))
    assert addresses(message, "from") == [(name, "ada@example.org")]


@pytest.mark.parametrize(
    "name", ["Александр Сергеевич Пушкин из Москвы", "日本" * 40, "é" * 90, "ü" * 100]
)
def test_long_display_names_span_several_encoded_words(name: str) -> None:
    raw = build(to=[(name, "bob@example.com")])
    checked(raw)
    assert head(raw).count(b"=?utf-8?") > 1
    assert addresses_rfc2047(raw, "to") == [(name, "bob@example.com")]


def test_long_non_ascii_name_without_spaces_is_split_only_between_encoded_words() -> None:
    # 100 "ü" need several encoded-words; RFC 2047 §6.2 joins them without the blank between
    # them. Python 3.11's parser keeps that blank (python/cpython#128110), so a plain parse
    # shows spaces that were never sent; read per the RFC the name is exact.
    name = "ü" * 100
    raw = build(to=[(name, "bob@example.com")])
    checked(raw)
    field = head(raw).partition(b"To:")[2].partition(b"<")[0]
    assert re.fullmatch(rb"(?: =\?utf-8\?[qb]\?[^?\s]+\?=(?:\r\n)?)+ ", field)
    assert addresses_rfc2047(raw, "to") == [(name, "bob@example.com")]


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("x" * 100, "x" * 100),
        ("x" * 200, "x" * 200),
        ("Dr." + "x" * 97, '"Dr.' + "x" * 97 + '"'),  # "." is a special: a quoted-string
        ("Ada " + "y" * 100 + " Lovelace", "y" * 100),
        ("Lovelace, Ada " + "z" * 60 + " (Countess) of Somewhere", '"(Countess)"'),
    ],
)
@pytest.mark.parametrize("field", ["to", "sender"])
def test_long_ascii_display_name_is_never_split_inside_a_word(
    name: str, token: str, field: str
) -> None:
    # Printable ASCII needs no encoded-word, so none is used: a word longer than a line stays
    # whole as an atom or quoted-string on a line of its own (≤ 998, RFC 5322 §2.1.1), and the
    # field folds only at the name's own spaces. The stdlib parser then reads it back exactly.
    address = "bob@example.com" if field == "to" else "ada@example.org"
    raw = build(**{field: [(name, address)] if field == "to" else (name, address)})
    message = checked(raw, wide=[word.encode() for word in name.split()])
    assert b"=?" not in head(raw)
    assert token.encode() in head(raw)
    assert addresses(message, "to" if field == "to" else "from") == [(name, address)]


def test_ascii_display_name_as_long_as_a_line_allows_is_encoded_beyond() -> None:
    fits, too_long = "x" * (998 - len("To: ")), "x" * (998 - len("To: ") + 1)
    raw = build(to=[(fits, "bob@example.com"), (too_long, "carol@example.net")])
    message = checked(raw, wide=[fits.encode()])
    assert f"To: {fits}\r\n".encode() in raw
    assert addresses_rfc2047(raw, "to") == [
        (fits, "bob@example.com"),
        (too_long, "carol@example.net"),
    ]
    assert addresses(message, "to")[0] == (fits, "bob@example.com")


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        (" padded ", "padded"),
        ("two  spaces", "two spaces"),
        ("tab\there", "tab here"),
        ("\tZoë  Å\t", "Zoë Å"),
        ("  ", ""),
        ("Zoë \u3000\x85Å", "Zoë Å"),  # Unicode whitespace joins a run that holds a blank
        ("Å \x85", "Å"),
        ("山田\u3000太郎", "山田\u3000太郎"),  # a run without a blank is kept
    ],
)
def test_display_name_blank_runs_become_one_space(name: str, sent: str) -> None:
    # RFC 5322 §3.2.2: blanks in a phrase mean one space; readers collapse them, so do we.
    message = checked(build(to=[(name, "bob@example.com")]))
    assert addresses(message, "to") == [(sent, "bob@example.com")]


def test_display_name_with_specials_is_a_quoted_string_with_escapes() -> None:
    raw = build(to=[('Ada "The" \\ Lovelace, PhD', "ada@example.org")])
    assert b'To: "Ada \\"The\\" \\\\ Lovelace, PhD" <ada@example.org>\r\n' in raw


def test_text_that_looks_encoded_is_never_quoted_or_left_bare() -> None:
    raw = build(to=[("=?utf-8?q?Mallory?=", "m@example.org")], subject="=?utf-8?q?hi?=")
    block = head(raw)
    assert b'"=?' not in block
    assert b"=?utf-8?q?Mallory?=" not in block
    assert b"=?utf-8?q?hi?=" not in block


def test_several_recipients_fold_between_addresses() -> None:
    recipients = [(f"Student Number {n}", f"student{n}@example.org") for n in range(12)]
    raw = build(to=recipients)
    message = checked(raw)
    assert addresses(message, "to") == recipients
    assert head(raw).count(b"\r\n ") >= 5


def test_non_ascii_address_stays_utf8_and_is_not_encoded() -> None:
    raw = build(to=[("Zoë", "zoë@exämple.org")])
    block = head(raw)
    assert "<zoë@exämple.org>".encode() in block
    # RFC 6532 headers are UTF-8: read them as text, as an SMTPUTF8 server would.
    message = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
    assert [(a.display_name, a.addr_spec) for a in message["to"].addresses] == [
        ("Zoë", "zoë@exämple.org")
    ]


BODIES = [
    "",
    "no final newline",
    "ends with newline\n",
    ".\n.leading dot\n..two dots\n",
    "From the start of a line\nFrom here too\n",
    "trailing spaces   \ntrailing tab\t\nlast line trailing  ",
    "x" * 5000 + "\n",
    "é" * 5000,
    "mixed\r\nCRLF\nLF\rCR\r\n\rend",
    "= signs =3D and =\n",
    "nul \x00 and bell \x07 and escape \x1b\n",
    "Grüße 👋 日本語 مرحبا e\u0301\n",
    "\n\n\n",
    "a" * 75 + "é" + "b" * 75 + "=" + "c" * 73 + "\n",
]


@pytest.mark.parametrize("text", BODIES)
@pytest.mark.parametrize("with_html", [False, True])
def test_text_body_round_trips(text: str, with_html: bool) -> None:
    html = f"<p>{text}</p>" if with_html else None
    message = checked(build(text=text, html=html))
    assert same_text(text_body(message), text)
    if html is not None:
        assert same_text(text_body(message, "html"), html)


def test_plain_ascii_body_travels_as_7bit() -> None:
    raw = build(text="Score: 8/10\nPassed.\n")
    assert b"Content-Transfer-Encoding: 7bit\r\n\r\nScore: 8/10\r\nPassed.\r\n" in raw


@pytest.mark.parametrize(
    "text", ["Grüße\n", "x" * 999 + "\n", "trailing \n", "bell\x07\n", "no newline at end"]
)
def test_body_needing_encoding_is_quoted_printable(text: str) -> None:
    raw = build(text=text)
    assert b"Content-Transfer-Encoding: quoted-printable" in raw
    checked(raw)


def test_body_without_final_newline_ends_in_a_soft_break() -> None:
    raw = build(text="no newline at end")
    assert raw.endswith(b"\r\n\r\nno newline at end=\r\n")
    assert text_body(parse(raw)) == "no newline at end"


def test_text_only_message_is_a_single_text_plain_part() -> None:
    message = checked(build())
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"


def test_html_makes_multipart_alternative_text_first() -> None:
    message = checked(build(html="<p>Hi</p>"))
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]


def test_attachments_make_multipart_mixed_around_the_alternative() -> None:
    csv = ("results.csv", "text/csv", b"question,points\nsmtp-port,1\n")
    message = checked(build(html="<p>Hi</p>", attachments=[csv]))
    assert message.get_content_type() == "multipart/mixed"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["multipart/alternative", "text/csv"]
    assert attachment_data(message) == [csv]


def test_attachments_without_html_follow_the_text_directly() -> None:
    message = checked(build(attachments=[("a.bin", "application/octet-stream", b"\x00")]))
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "application/octet-stream"]


def test_text_attachment_gets_utf8_charset_only_when_it_is_utf8() -> None:
    good = ("a.csv", "text/csv", "ü,1\n".encode())
    bad = ("b.csv", "text/csv", b"\xff\xfe")
    message = checked(build(attachments=[good, bad]))
    charsets = [part.get_content_charset() for part in message.iter_attachments()]
    assert charsets == ["utf-8", None]


def test_five_megabyte_binary_attachment_round_trips() -> None:
    data = os.urandom(5 * 1024 * 1024)
    raw = build(attachments=[("blob.bin", "application/octet-stream", data)])
    message = checked(raw)
    assert attachment_data(message) == [("blob.bin", "application/octet-stream", data)]


FILE_NAMES = [
    "results.csv",
    "résumé.pdf",
    "测验结果.csv",
    "emoji 📎 file.txt",
    'quote" and back\\slash.txt',
    "spaces in name.txt",
    "tab\tinside.txt",
    "long-" + "x" * 150 + ".bin",
    "长文件名" * 30 + ".txt",
    "e\u0301" * 40 + ".txt",
    "<>",  # the stdlib strips "<" and ">" from a quoted value a second time
    "<results.csv>",
    "<",
    "a <b> c.txt",
    "=?utf-8?q?x?=.txt",  # RFC 2047 §5: readers decode an encoded-word even in a quoted-string
    "report =?utf-8?b?eA==?= final.pdf",
    "=?",
]


@pytest.mark.parametrize("filename", FILE_NAMES)
def test_attachment_file_names_round_trip(filename: str) -> None:
    attachment = (filename, "application/octet-stream", b"\x00\x01data")
    message = checked(build(attachments=[attachment]))
    assert attachment_data(message) == [attachment]


@pytest.mark.parametrize("filename", ["<>", "<results.csv>", '"quoted"', "a <b> c.txt"])
def test_bracketed_file_names_survive_the_legacy_get_filename(filename: str) -> None:
    # The compat32 Message.get_filename unquotes a quoted-string value twice, stripping "<…>"
    # or '"…"' again; such names go as RFC 2231 values, which it does not unquote.
    raw = build(attachments=[(filename, "application/octet-stream", b"")])
    legacy = email.message_from_bytes(raw)
    assert [part.get_filename() for part in legacy.walk()][-1] == filename


def test_file_name_blanks_at_the_ends_are_dropped() -> None:
    message = checked(build(attachments=[(" \tresults.csv\u3000", "text/csv", b"")]))
    assert attachment_data(message) == [("results.csv", "text/csv", b"")]


def test_blank_file_name_is_refused() -> None:
    with pytest.raises(ValueError, match=r"attachments\[0\] filename must not be empty"):
        build(attachments=[("  ", "text/csv", b"")])


def test_non_ascii_file_name_uses_rfc2231() -> None:
    raw = build(attachments=[("résumé.pdf", "application/pdf", b"%PDF")])
    assert b"filename*=utf-8''r%C3%A9sum%C3%A9.pdf" in raw


def test_long_file_name_uses_rfc2231_continuations() -> None:
    raw = build(attachments=[("长文件名" * 30 + ".txt", "text/plain", b"x")])
    assert b"filename*0*=utf-8''" in raw
    assert b"filename*1*=" in raw


def test_every_line_ends_in_crlf_and_fits_998() -> None:
    raw = build(text="a\rb\nc" + "y" * 3000, html="<p>" + "z" * 3000)
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_required_headers_are_present() -> None:
    message = checked(build(html="<p>x</p>"))
    for name in ("Date", "From", "To", "Subject", "Message-ID", "MIME-Version"):
        assert message[name] is not None, name
    assert str(message["mime-version"]) == "1.0"


def test_date_is_given_date_in_rfc5322_form() -> None:
    when = datetime(2026, 11, 23, 10, 0, 5, tzinfo=timezone(timedelta(hours=-5)))
    message = checked(build(date=when))
    assert message["date"].datetime == when
    assert b"Date: Mon, 23 Nov 2026 10:00:05 -0500\r\n" in build(date=when)


def test_default_date_is_now() -> None:
    message = checked(build())
    assert abs(message["date"].datetime - datetime.now(UTC)) < timedelta(minutes=5)


def test_message_id_uses_the_sender_domain_and_is_unique() -> None:
    first, second = checked(build()), checked(build())
    assert str(first["message-id"]).endswith("@example.org>")
    assert first["message-id"] != second["message-id"]


def test_given_message_id_is_used_with_angle_brackets() -> None:
    assert checked(build(message_id="abc.123@quiz.example"))["message-id"] == (
        "<abc.123@quiz.example>"
    )


def test_extra_headers_as_mapping_or_pairs() -> None:
    extra = {"X-Quiz-Id": "smtp", "Reply-To": "teacher@example.org", "X-Note": "Grüße 👋"}
    for headers in (extra, list(extra.items())):
        message = checked(build(headers=headers))
        for name, value in extra.items():
            assert str(message[name]) == value


def test_long_word_in_an_extra_header_stays_whole_within_998() -> None:
    # A URL cannot fold; in a structured field it must not be encoded either (RFC 2047 §5).
    url = "<https://quiz.example.org/unsubscribe/" + "a" * 200 + ">"
    raw = build(headers={"List-Unsubscribe": url})
    message = checked(raw, wide=[url.encode()])
    assert f"List-Unsubscribe: {url}\r\n".encode() in raw
    assert str(message["list-unsubscribe"]) == url


def test_reply_to_takes_addresses_like_to() -> None:
    teacher = ("Prof. Zoë Ångström, PhD", "zoe@example.org")
    message = checked(build(headers={"Reply-To": [teacher, "office@example.org"]}))
    assert addresses(message, "reply-to") == [teacher, ("", "office@example.org")]
    assert addresses(checked(build(headers={"Sender": teacher})), "sender") == [teacher]


def test_address_field_given_as_text_is_kept_when_ascii() -> None:
    message = checked(build(headers={"Reply-To": "Teacher <t@example.org>"}))
    assert addresses(message, "reply-to") == [("Teacher", "t@example.org")]


def test_non_ascii_address_in_reply_to_text_stays_utf8() -> None:
    raw = build(headers={"Reply-To": "zoë@example.org"})
    assert "Reply-To: zoë@example.org\r\n".encode() in raw


@pytest.mark.parametrize("name", ["Reply-To", "In-Reply-To", "References"])
def test_non_ascii_text_in_structured_fields_is_refused(name: str) -> None:
    # RFC 2047 §5: an encoded-word may not stand in an addr-spec or a msg-id.
    with pytest.raises(ValueError, match=f"header {name} is structured"):
        build(headers={name: "Zoë <zoe@example.org>"})


@pytest.mark.parametrize(
    ("name", "value", "sent"),
    [
        ("In-Reply-To", " <a@b.example>", "<a@b.example>"),
        ("In-Reply-To", "<a@b.example>\t ", "<a@b.example>"),
        ("References", "<a@b.example>" + " " * 9 + "<c@d.example>", "<a@b.example> <c@d.example>"),
        ("References", "<a@b.example>\t\t<c@d.example>", "<a@b.example> <c@d.example>"),
        ("Resent-Message-ID", "  <a@b.example>  ", "<a@b.example>"),
    ],
)
def test_structured_fields_never_get_encoded_words(name: str, value: str, sent: str) -> None:
    # RFC 2047 §5: no encoded-word in a msg-id; blanks at the ends and runs of them carry no
    # meaning in a structured field (RFC 5322 §3.2.2), so they are dropped and collapsed.
    raw = build(headers={name: value})
    assert f"{name}: {sent}\r\n".encode() in raw
    assert b"=?" not in head(raw)
    assert str(checked(raw)[name]) == sent


def test_long_references_fold_between_ids() -> None:
    ids = [f"<{index}.{'r' * 30}@quiz.example>" for index in range(10)]
    raw = build(headers={"References": "  ".join(ids)})
    message = checked(raw)
    assert b"=?" not in head(raw)
    assert str(message["references"]) == " ".join(ids)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("References", "<=?x@y>", '"=?"'),
        ("In-Reply-To", "=?utf-8?q?a?= <a@b.example>", '"=?"'),
        ("In-Reply-To", " \t ", "empty"),
        ("References", "<" + "x" * 990 + "@b.example>", "too long"),
        ("Reply-To", "Ada =?utf-8?q?x?= <ada@example.org>", '"=?"'),
        ("Reply-To", "a@example.org, b@example.org", "list of addresses"),
        ("Reply-To", "Ada <Lovelace> <ada@example.org>", "name <address>"),
        ("Sender", "Ada <not an address>", "not an address"),
    ],
)
def test_structured_text_that_cannot_go_raw_is_refused(name: str, value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=f"header {name} .*{re.escape(reason)}"):
        build(headers={name: value})


@pytest.mark.parametrize(
    ("value", "sent", "mailbox"),
    [
        ("Ada Lovelace <ada@example.org> ", "Ada Lovelace <ada@example.org>", "Ada Lovelace"),
        ("  Ada \t Lovelace\t<ada@example.org>", "Ada Lovelace <ada@example.org>", "Ada Lovelace"),
        ('"Lovelace, Ada" <ada@example.org>', '"Lovelace, Ada" <ada@example.org>', "Lovelace, Ada"),
        ('"say \\"hi\\"" <ada@example.org>', '"say \\"hi\\"" <ada@example.org>', 'say "hi"'),
        ("Prof. Ada <ada@example.org>", '"Prof. Ada" <ada@example.org>', "Prof. Ada"),
        (" <ada@example.org> ", "ada@example.org", ""),
    ],
)
def test_reply_to_text_with_a_display_name_is_written_like_to(
    value: str, sent: str, mailbox: str
) -> None:
    raw = build(headers={"Reply-To": value})
    assert f"Reply-To: {sent}\r\n".encode() in raw
    assert addresses(checked(raw), "reply-to") == [(mailbox, "ada@example.org")]


@pytest.mark.parametrize(
    "name", ["From", "to", "SUBJECT", "Date", "Message-ID", "MIME-Version", "Content-Type", "Bcc"]
)
def test_extra_headers_cannot_override_structural_ones(name: str) -> None:
    with pytest.raises(ValueError, match="cannot be overridden"):
        build(headers={name: "x"})


@pytest.mark.parametrize("name", ["X Bad", "X:Bad", "", "X-Ü", "X-\x01"])
def test_extra_header_names_must_be_ftext(name: str) -> None:
    with pytest.raises(ValueError, match="header name"):
        build(headers={name: "x"})


INJECTIONS = ["\r", "\n", "\r\n", "\x00"]


@pytest.mark.parametrize("bad", INJECTIONS)
@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("subject", lambda bad: {"subject": f"Hi{bad}Bcc: x@example.org"}),
        ("to[0] display name", lambda bad: {"to": [(f"Bob{bad}", "bob@example.com")]}),
        ("sender display name", lambda bad: {"sender": (f"Ada{bad}", "ada@example.org")}),
        ("to", lambda bad: {"to": f"bob@example.com{bad}"}),
        ("cc[0]", lambda bad: {"cc": [f"carol{bad}@example.com"]}),
        ("sender", lambda bad: {"sender": f"ada@example.org{bad}"}),
        ("attachments[0] filename", lambda bad: {"attachments": [(f"a{bad}", "text/plain", b"")]}),
        ("attachments[0] mime_type", lambda bad: {"attachments": [("a", f"text/x{bad}", b"")]}),
        ("header name", lambda bad: {"headers": {f"X-A{bad}": "v"}}),
        ("header X-A", lambda bad: {"headers": {"X-A": f"v{bad}X-B: w"}}),
        ("message_id", lambda bad: {"message_id": f"<a{bad}@b>"}),
    ],
)
def test_line_breaks_and_nul_are_refused_naming_the_field(
    field: str, overrides: Any, bad: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{field} must not contain CR, LF or NUL")):
        build(**overrides(bad))


@pytest.mark.parametrize("control", ["\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f"])
def test_control_characters_in_a_subject_are_refused(control: str) -> None:
    # Decision: RFC 5322 §3.2.5 text is VCHAR and WSP; obs-utext controls are not generated.
    with pytest.raises(ValueError, match="subject must not contain control characters"):
        build(subject=f"a{control}b")


@pytest.mark.parametrize("address", ["no-at-sign", "a@", "@b", "a b@c", "<a@b>", "a@b@c", 42])
def test_malformed_addresses_are_refused(address: object) -> None:
    with pytest.raises((ValueError, TypeError), match="to"):
        build(to=address)


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("subject", {"subject": "bad \ud800"}),
        ("text", {"text": "bad \udfff"}),
        ("html", {"html": "bad \ud800"}),
        ("to[0] display name", {"to": [("bad \ud800", "b@example.com")]}),
        ("attachments[0] filename", {"attachments": [("\ud800.txt", "text/plain", b"")]}),
        ("header X-A", {"headers": {"X-A": "\ud800"}}),
    ],
)
def test_lone_surrogates_are_refused_naming_the_field(field: str, overrides: Any) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{field} must not contain lone surrogates")):
        build(**overrides)


@pytest.mark.parametrize(
    "message_id",
    [
        "a@b@c.example",
        "a(b)@c.example",
        'a"b@c',
        "a,b@c",
        "a..b@c.example",
        ".a@c.example",
        "a.@c.example",
        "a@c..example",
        "a@.c.example",
        "a:b@c",
        "a;b@c",
        "a\\b@c",
        "a[b]@c",
        "<a b@c>",
        "<a@b",
        "a@[x]y]",
        "a@b>",
        "@c.example",
        "a@",
        "ü@c.example",
    ],
)
def test_message_id_must_be_dot_atoms_around_one_at(message_id: str) -> None:
    # RFC 5322 §3.6.4: id-left is dot-atom-text, id-right dot-atom-text or a no-fold-literal.
    with pytest.raises(ValueError, match=r"message_id must look like <unique@domain>"):
        build(message_id=message_id)


@pytest.mark.parametrize(
    "message_id",
    ["a.b@c.example", "<a.b@c.example>", "x!#$%&'*+-/=?^_`{|}~@y", "<id@[192.0.2.1]>", "a@[]"],
)
def test_valid_message_ids_are_kept(message_id: str) -> None:
    expected = message_id if message_id.startswith("<") else f"<{message_id}>"
    assert f"Message-ID: {expected}\r\n".encode() in build(message_id=message_id)
    assert str(checked(build(message_id=message_id))["message-id"]) == expected


def test_over_long_message_id_is_refused() -> None:
    with pytest.raises(ValueError, match="message_id"):
        build(message_id="<" + "x" * 990 + "@example.org>")


def test_attachment_may_be_given_as_a_list() -> None:
    message = checked(build(attachments=[["a.txt", "text/plain", b"hi"]]))
    assert attachment_data(message) == [("a.txt", "text/plain", b"hi")]


def test_to_needs_an_address() -> None:
    with pytest.raises(ValueError, match="to needs at least one address"):
        build(to=[])


def test_naive_date_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build(date=datetime(2026, 11, 23, 10, 0))


@pytest.mark.parametrize("mime_type", ["text", "multipart/mixed", "message/rfc822", "a b/c"])
def test_attachment_mime_type_must_be_a_leaf_type(mime_type: str) -> None:
    with pytest.raises(ValueError, match="mime_type"):
        build(attachments=[("a", mime_type, b"")])
