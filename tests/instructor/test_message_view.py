from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.store.message_view import (
    attachment_data,
    attachment_named,
    parse,
    parse_message,
    safe_filename,
    sanitize_html,
    utc_text,
)

from .helpers import build_message, email_message

HOSTILE_HTML = """<html><head><title>Secret title</title>
<style>p { color: navy }</style></head><body>
<p onclick="steal()" style="font-weight:bold">Hello</p>
<script>alert("xss")</script>
<img src="https://tracker.example/pixel.gif" onerror="alert(1)" alt="pixel">
<img src="data:image/png;base64,iVBORw0KGgo=" alt="inline">
<a href="javascript:alert(1)">bad link</a>
<a href=" JaVaScRiPt:alert(2)">sneaky link</a>
<a href="https://rfc-editor.org/rfc/rfc5321">good link</a>
<iframe src="https://evil.example/"></iframe><form action="https://evil.example/"></form>
</body></html>"""


def test_headers_are_decoded_in_order() -> None:
    raw = build_message(subject="Résultats du quiz", headers={"X-Quiz": "smtp"})
    view = parse_message(raw)
    names = [name for name, _ in view.headers]
    assert names[:4] == ["From", "To", "Subject", "Date"]
    assert ("X-Quiz", "smtp") in view.headers
    assert view.subject == "Résultats du quiz"
    assert view.sender == "QuizMail <quizmail@example.org>"
    assert view.to == "ada@example.org"


def test_text_and_html_parts_are_found() -> None:
    view = parse_message(build_message(text="Score: 8/10", html="<p>Score: <b>8</b>/10</p>"))
    assert view.text is not None
    assert view.text.strip() == "Score: 8/10"
    assert view.html is not None
    assert "<b>8</b>" in view.html


def test_message_without_html_has_none() -> None:
    assert parse_message(build_message()).html is None


@pytest.mark.parametrize(
    "inert",
    [
        "<script",
        "alert(",
        "onclick",
        "onerror",
        "javascript:",
        "tracker.example",
        "<iframe",
        "<form",
        "Secret title",
    ],
)
def test_sanitised_html_is_inert(inert: str) -> None:
    assert inert.lower() not in sanitize_html(HOSTILE_HTML).lower()


@pytest.mark.parametrize(
    "kept",
    [
        "<style>p { color: navy }</style>",
        'style="font-weight:bold"',
        'src="data:image/png;base64,iVBORw0KGgo="',
        'href="https://rfc-editor.org/rfc/rfc5321"',
        "bad link",
    ],
)
def test_sanitised_html_keeps_harmless_markup(kept: str) -> None:
    assert kept in sanitize_html(HOSTILE_HTML)


def test_attachments_are_listed_with_safe_names_and_sizes() -> None:
    raw = build_message(
        attachments=(
            ("results.json", "application/json", b"{}"),
            ("../../etc/passwd", "text/plain", b"x"),
        )
    )
    attachments = parse_message(raw).attachments
    assert [(a.index, a.filename, a.content_type, a.size) for a in attachments] == [
        (0, "results.json", "application/json", 2),
        (1, "passwd", "text/plain", 1),
    ]


def test_attachment_data_is_decoded() -> None:
    raw = build_message(attachments=(("data.bin", "application/octet-stream", bytes(range(256))),))
    found = attachment_data(raw, 0)
    assert found is not None
    attachment, data = found
    assert attachment.filename == "data.bin"
    assert data == bytes(range(256))


@pytest.mark.parametrize("index", [-1, 1, 99])
def test_missing_attachment_is_none(index: int) -> None:
    raw = build_message(attachments=(("a.txt", "text/plain", b"a"),))
    assert attachment_data(raw, index) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.csv", "report.csv"),
        ("..\\..\\windows\\evil.exe", "evil.exe"),
        ('a"b\r\nc.txt', "a_b_c.txt"),
        ("...", "fallback"),
        (None, "fallback"),
        ("résumé.pdf", "résumé.pdf"),
    ],
)
def test_safe_filename(name: str | None, expected: str) -> None:
    assert safe_filename(name, "fallback") == expected


def test_garbage_does_not_raise() -> None:
    view = parse_message(
        b"Subject: =?bogus-charset?q?x?=\r\nContent-Type: text/plain; charset=nope\r\n\r\n\xff\xfe"
    )
    assert view.text is not None
    assert view.attachments == []


@given(st.text())
def test_safe_filename_is_always_a_plain_name(name: str) -> None:
    cleaned = safe_filename(name, "fallback")
    assert cleaned
    assert len(cleaned) <= 200
    assert not set(cleaned) & set('/\\"\r\n\x00')
    assert not cleaned.startswith(".")


def test_times_are_shown_in_utc() -> None:
    moment = datetime(2026, 11, 23, 11, 30, 5, tzinfo=timezone(timedelta(hours=1)))
    assert utc_text(moment) == "2026-11-23 10:30:05 UTC"


def test_an_attached_message_is_one_attachment_named_by_its_subject() -> None:
    inner = email_message("Re: quiz 1/2 results")
    inner.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="inner.pdf")
    raw = build_message(attached_messages=(inner,))
    view = parse_message(raw)
    (listed,) = view.attachments  # the attached message's own parts are not listed apart
    assert listed.filename == "Re_ quiz 1_2 results.eml"
    assert listed.content_type == "message/rfc822"
    found = attachment_data(raw, 0)
    assert found is not None
    described, data = found
    assert described == listed
    assert data == inner.as_bytes()  # the attached message as it was sent: a valid .eml
    assert listed.size == len(data)
    assert parse_message(data).subject == "Re: quiz 1/2 results"
    assert attachment_named(parse(raw), "inner.pdf") is None


def test_an_attached_message_keeps_its_crlf_line_endings() -> None:
    inner = email_message("Crlf", text="line one\nline two\n")
    raw = build_message(attached_messages=(inner,)).replace(b"\n", b"\r\n")
    found = attachment_data(raw, 0)
    assert found is not None
    assert found[1] == inner.as_bytes().replace(b"\n", b"\r\n")


@pytest.mark.parametrize(
    ("inner", "filename"),
    [
        (email_message("Weekly ../report: 3/4"), "Weekly .._report_ 3_4.eml"),
        (email_message(None), "message.eml"),
        (email_message("   "), "message.eml"),
        (email_message("x" * 300), "x" * 196 + ".eml"),
    ],
)
def test_an_attached_message_without_a_file_name_is_named_safely(
    inner: EmailMessage, filename: str
) -> None:
    (listed,) = parse_message(build_message(attached_messages=(inner,))).attachments
    assert listed.filename == filename


def test_an_attached_message_with_a_file_name_keeps_it() -> None:
    message = EmailMessage()
    message["Subject"] = "Forward"
    message.set_content("See the attached email.")
    message.add_attachment(email_message("Inner"), filename="../original.eml")
    (listed,) = parse_message(message.as_bytes()).attachments
    assert listed.filename == "original.eml"
