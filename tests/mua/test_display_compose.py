"""What the terminal shows of a message and what it makes of a typed one: no sockets here."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.mail import build_message
from app.mua.compose import IncorrectFormat, parse_draft
from app.mua.display import html_to_text, list_line, message_lines, received_at

HTML_ONLY = (
    b"From: =?utf-8?q?Ren=C3=A9e?= <renee@example.org>\r\nTo: ada@example.org\r\n"
    b"Subject: =?utf-8?b?UsOpc3VsdGF0cw==?=\r\nDate: Tue, 01 Dec 2026 09:05:00 +0000\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b"<html><head><title>hidden</title><style>p{}</style></head><body><p>Hello <b>Ada</b></p>"
    b"<ul><li>one</li><li>two</li></ul><script>alert(1)</script></body></html>\r\n"
)


def test_an_html_only_message_reads_as_text_with_decoded_fields() -> None:
    lines = message_lines(HTML_ONLY)
    assert lines[0] == "From: Renée <renee@example.org>"
    assert "Subject: Résultats" in lines
    text = "\n".join(lines)
    assert "Hello Ada" in text
    assert "* one\n" in text
    assert "alert" not in text
    assert "hidden" not in text


def test_attachments_are_listed_by_name_and_size() -> None:
    raw = build_message(
        sender="quizmail@example.org",
        to="ada@example.org",
        subject="results",
        text="See attached.",
        attachments=[
            ("results.csv", "text/csv", b"a,b\n" * 300),
            ("café.json", "application/json", b"{}"),
        ],
    )
    lines = message_lines(raw)
    assert "Attachments:" in lines
    assert "  results.csv (text/csv, 1.2 KiB)" in lines
    assert "  café.json (application/json, 2 B)" in lines


def test_control_characters_from_mail_are_shown_not_obeyed() -> None:
    raw = b"From: x@example.org\r\nSubject: \x1b]0;owned\x07 title\r\n\r\nbody \x1b[2J here\r\n"
    shown = "\n".join(message_lines(raw))
    assert "\x1b" not in shown
    assert "\x07" not in shown
    assert "^[]0;owned^G title" in shown
    assert "\x1b" not in list_line(1, raw)


def test_the_list_line_takes_the_newest_received_date() -> None:
    raw = (
        b"Received: from relay by capture.test; Wed, 02 Dec 2026 18:22:00 +0000\r\n"
        b"Received: from older; Tue, 01 Dec 2026 01:00:00 +0000\r\n"
        b"From: Ada <ada@example.org>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
        b"Subject: hi\r\n\r\n"
    )
    when = received_at(raw)
    assert when is not None
    assert when == datetime(2026, 12, 2, 18, 22, tzinfo=UTC)  # shown in local time
    line = list_line(7, raw)
    assert line.startswith("  7. ada@example.org ")
    assert line.endswith("  hi")
    assert received_at(b"Subject: none\r\n\r\n") is None
    assert "(no date)" in list_line(1, b"Subject: none\r\n\r\n")


def test_html_to_text_keeps_paragraphs() -> None:
    assert html_to_text("<p>one</p><p>two<br>three</p>") == "one\n\ntwo\nthree\n"


def test_a_correct_draft() -> None:
    draft = parse_draft(
        [
            "From: bob@example.org",
            "To: ada@example.org, eve@example.org",
            "Subject: hi",
            "",
            "Hello",
            ".",
        ]
    )
    assert draft.sender == "bob@example.org"
    assert draft.to == ["ada@example.org", "eve@example.org"]
    assert draft.subject == "hi"
    assert draft.text == "Hello\n.\n"


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (["Subject: x", "From: a@b.c", "To: d@e.f"], "expected a From: line"),
        (["From: a@b.c", "Subject: x", "To: d@e.f"], "expected a To: line"),
        (["From: a", "To: d@e.f", "Subject: x"], "not an address"),
        (["From: a@b.c", "To: d@e.f, nobody", "Subject: x"], "'nobody' is not an address"),
        (["From: a@b.c", "To:", "Subject: x"], "is not an address"),
        (["From: a@b.c", "To: d@e.f"], "come first"),
        (["From: a@b.c\r\nBcc: x@y.z", "To: d@e.f", "Subject: x"], "From:"),
    ],
)
def test_incorrect_formats(lines: list[str], reason: str) -> None:
    with pytest.raises(IncorrectFormat, match=reason):
        parse_draft(lines)


@given(st.lists(st.text(max_size=20), max_size=6))
def test_any_typing_is_a_draft_or_incorrect_format(lines: list[str]) -> None:
    with contextlib.suppress(IncorrectFormat):
        parse_draft(lines)
