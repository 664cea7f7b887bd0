"""The Status page: mail the outbox has not delivered, quiz files that failed to load."""

from __future__ import annotations

import random
import re
import shutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.capture import CaptureServer, RecipientPolicy
from app.config import PROJECT_ROOT
from app.notify import Notifier
from app.outbox import Outbox
from app.quiz import Result, grade, load_quiz, new_attempt
from app.report import Student
from app.store.message_view import utc_text

from .helpers import PASSWORD, log_in

SUBMITTED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
BROKEN_QUIZ = "title: Broken\nquestions:\n  - id: q1\n    text: No options at all?\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    """An app whose questions directory holds the shipped quizzes and one broken file."""
    questions = tmp_path / "questions"
    shutil.copytree(PROJECT_ROOT / "questions", questions)
    (questions / "broken.yaml").write_text(BROKEN_QUIZ)
    return create_app(
        {
            "TESTING": True,
            "VAR_DIR": str(tmp_path / "var"),
            "QUESTIONS_DIR": str(questions),
            "INSTRUCTOR_PASSWORD": PASSWORD,
            "SMTP_TIMEOUT": 5.0,
        }
    )


@pytest.fixture
def result() -> Result:
    quiz = load_quiz(PROJECT_ROOT / "questions" / "smtp.yaml")
    attempt = new_attempt(quiz, random.Random(3), SUBMITTED_AT)
    return grade(quiz, attempt, {}, SUBMITTED_AT)


@pytest.fixture
def refusing_relay(app: Flask, tmp_path: Path) -> Iterator[int]:
    """A real capture server that takes mail for school.example only (550 for the rest)."""
    port = free_port()
    policy = RecipientPolicy.from_options(["school.example"], None)
    with CaptureServer(tmp_path / "relay-mail", "127.0.0.1", port, policy):
        yield port


def email(app: Flask, result: Result, address: str, port: int) -> None:
    """What "Email my results" does: on disk first, then one attempt at the relay on *port*."""
    app.config["SMTP_PORT"] = port
    notifier = Notifier.from_config(app.config)
    notifier.email_results(result, Student(address, "Ada Lovelace"))
    notifier.close()


def cell_texts(page: str) -> list[list[str]]:
    body = page.split('<table class="outbox">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr class=[^>]*>(.*?)</tr>", body, flags=re.S)
    cells = (re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S) for row in rows)
    return [[" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in row] for row in cells]


def test_the_outbox_lists_failed_and_retrying_mail_with_the_reason(
    app: Flask, client: FlaskClient, result: Result, refusing_relay: int
) -> None:
    email(app, result, "ada@students.example", refusing_relay)  # 550: failed for good
    email(app, result, "bob@school.example", free_port())  # nobody listens: retried later
    log_in(client)
    page = client.get("/instructor/status").get_data(as_text=True)
    failed, retrying = cell_texts(page)
    assert failed[:2] == ["Failed", "ada@students.example"]
    assert failed[2].startswith("Your results:")
    assert "550" in failed[5]
    assert failed[6] == "never: not retried"
    assert retrying[:2] == ["Retrying", "bob@school.example"]
    assert retrying[4] == "1"
    assert retrying[5] != "—"  # why: the connection was refused
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", retrying[6]), retrying[6]
    assert "1 failed, 1 retrying, 0 queued" in " ".join(page.split())


def test_quiz_files_that_failed_to_load_are_listed(client: FlaskClient) -> None:
    log_in(client)
    page = client.get("/instructor/status").get_data(as_text=True)
    problems = re.findall(r"<li><code>([^<]+)</code></li>", page)
    assert problems
    assert all(re.match(r".*broken\.yaml:\d+: ", problem) for problem in problems), problems


def test_the_navigation_counts_what_needs_attention(
    app: Flask, client: FlaskClient, result: Result
) -> None:
    log_in(client)
    mailbox = client.get("/instructor/mailbox").get_data(as_text=True)
    problems = len(re.findall(r"<li><code>", client.get("/instructor/status").get_data(True)))
    expected = f'<span class="nav-count">{problems}<span class="visually-hidden"> need'
    assert expected in mailbox
    email(app, result, "bob@school.example", free_port())
    later = client.get("/instructor/gradebook").get_data(as_text=True)
    assert f'<span class="nav-count">{problems + 1}<span' in later
    assert '<a href="/instructor/status" class="nav-status"' in later


def test_a_calm_status_page(tmp_path: Path) -> None:
    app = create_app(
        {"TESTING": True, "VAR_DIR": str(tmp_path / "var"), "INSTRUCTOR_PASSWORD": PASSWORD}
    )
    client = app.test_client()
    log_in(client)
    page = client.get("/instructor/status").get_data(as_text=True)
    assert "Nothing needs your attention." in page
    assert "The outbox is empty" in page
    assert "Every quiz file loaded." in page
    assert 'class="nav-count"' not in page


def test_the_status_page_needs_the_login(client: FlaskClient) -> None:
    response = client.get("/instructor/status")
    assert response.status_code == 302
    assert "/instructor/login" in response.headers["Location"]


def test_mail_not_tried_yet_is_due_since_it_was_queued(app: Flask, client: FlaskClient) -> None:
    outbox = Outbox(app.config["OUTBOX_DIR"])
    message_id = outbox.enqueue(b"Subject: hi\r\n\r\nhi\r\n", "q@example.org", ["ada@example.org"])
    record = outbox.lookup(message_id)
    assert record is not None
    log_in(client)
    (queued,) = cell_texts(client.get("/instructor/status").get_data(as_text=True))
    assert queued[0] == "Queued"
    assert queued[4] == "0"
    assert queued[6] == queued[3] == utc_text(datetime.fromtimestamp(record.queued_at, UTC))
