"""Raw messages and results payloads built for tests, and logging in through the real form."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from flask.testing import FlaskClient

PASSWORD = "correct horse battery staple"


def build_message(
    *,
    sender: str = "QuizMail <quizmail@example.org>",
    to: str = "ada@example.org",
    subject: str = "Hello",
    text: str | None = "Plain body",
    html: str | None = None,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    attached_messages: tuple[EmailMessage, ...] = (),
    date: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A raw message as the capture server would store it (the stdlib builds it: tests only)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date or datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text or "")
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, mime_type, data in attachments:
        maintype, subtype = mime_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    for attached in attached_messages:  # message/rfc822, as a forwarded email
        message.add_attachment(attached)
    return message.as_bytes()


def email_message(subject: str | None, text: str = "Inner body", **headers: str) -> EmailMessage:
    """A message to attach to another (``attached_messages``); no Subject when *subject* is None."""
    message = EmailMessage()
    message["From"] = "Bob <bob@example.org>"
    message["To"] = "ada@example.org"
    if subject is not None:
        message["Subject"] = subject
    for name, value in headers.items():
        message[name] = value
    message.set_content(text)
    return message


def results_payload(
    *,
    student: str = "ada@example.org",
    name: str = "Ada Lovelace",
    quiz: str = "smtp",
    attempt_id: str = "a1",
    points: float = 8.0,
    max_points: float = 10.0,
    submitted_at: str = "2026-11-23T10:00:00Z",
    sent_at: str | None = None,
    correct: tuple[bool, ...] = (True, False),
) -> dict[str, Any]:
    """A ``quizmail.results/1`` payload as docs/results-json.md describes it."""
    percentage = 100 * points / max_points
    return {
        "schema": "quizmail.results/1",
        "quiz": {"id": quiz, "title": quiz.upper() + " quiz", "version": "3f2a9c1e"},
        "student": {"email": student, "name": name},
        "attempt_id": attempt_id,
        "submitted_at": submitted_at,
        "sent_at": sent_at or submitted_at.replace(":00Z", ":05Z"),
        "score": {
            "points": points,
            "max_points": max_points,
            "percentage": percentage,
            "passed": percentage >= 60,
            "pass_mark": 60.0,
        },
        "questions": [
            {
                "id": f"q{i + 1}",
                "type": "single",
                "chosen": ["a"],
                "correct": ["a" if ok else "b"],
                "points": 1.0 if ok else 0.0,
                "max_points": 1.0,
                "is_correct": ok,
            }
            for i, ok in enumerate(correct)
        ],
    }


def results_email(payload: dict[str, Any], to: str | None = None) -> bytes:
    """A results email carrying *payload* as ``results.json``."""
    return build_message(
        to=to or payload["student"]["email"],
        subject=f"Your results: {payload['quiz']['title']}",
        attachments=(
            ("results.csv", "text/csv", b"question,correct\n"),
            ("results.json", "application/json", json.dumps(payload).encode()),
        ),
    )


def csrf_token(client: FlaskClient, url: str = "/instructor/login") -> str:
    """The CSRF token of the form on the page at *url*."""
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def log_in(client: FlaskClient, password: str = PASSWORD) -> Any:
    token = csrf_token(client)
    return client.post("/instructor/login", data={"password": password, "csrf_token": token})
