"""Review options and closing: when the key shows, on the page and in the email; a closed quiz.

Through Flask's test client, with the server's clock moved by the test; the email's parts come
from the same report the web app sends.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from quiz_taking import QuizTaker, ServerClock, questions_dir, quiz_site

from app.report import Student, render_report
from app.web import submissions

CLOSES = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
QUIZ = """\
title: Held back
{settings}
questions:
  - id: relay
    text: Which port relays mail?
    options:
      - {{id: p25, text: "25", correct: true}}
      - {{id: p110, text: "110", feedback: "FEEDBACK-POP3"}}
    explanation: EXPLANATION-RELAY
  - id: tls
    type: multiple
    text: Which ports speak TLS from the first byte?
    options:
      - {{id: p465, text: "465", correct: true}}
      - {{id: p993, text: "993", correct: true}}
      - {{id: p587, text: "587"}}
"""
KEY_SIGNS = ("Correct answer", "FEEDBACK-POP3", "EXPLANATION-RELAY", "badge-", "points</span>")


def quiz_app(tmp_path: Path, settings: str) -> tuple[Flask, QuizTaker]:
    questions = questions_dir(tmp_path, held=QUIZ.format(settings=settings))
    app = quiz_site(tmp_path / "var", questions)
    return app, QuizTaker(app, app.test_client())


@pytest.fixture
def at_noon_before_close(server_clock: ServerClock) -> ServerClock:
    server_clock.now = CLOSES - timedelta(hours=3)
    return server_clock


def results_of(taker: QuizTaker) -> str:
    response = taker.submit("held", {"relay": "p110", "tls": ["p465"]})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def email_parts(app: Flask, html: str, sent_at: datetime) -> tuple[str, str, dict[str, object]]:
    token = re.findall(r"results\?token=([^\"&]+)", html)[0]
    with app.test_request_context():
        result = submissions.load_submission(token).result
    report = render_report(result, Student("ada@example.org"), sent_at)
    return report.text, report.html, json.loads(report.json)


def test_by_default_the_review_shows_the_key(tmp_path: Path) -> None:
    _, taker = quiz_app(tmp_path, "")
    html = results_of(taker)
    assert [sign for sign in KEY_SIGNS if sign not in html] == []


def test_review_never_shows_only_the_students_answers(tmp_path: Path) -> None:
    app, taker = quiz_app(tmp_path, "review: never")
    html = results_of(taker)
    assert [sign for sign in KEY_SIGNS if sign in html] == []
    assert "This quiz does not show the correct answers" in html
    assert html.count("Your answer") == 2
    assert "0.5 / 2</strong> points" in html  # the total is always shown
    text, email_html, document = email_parts(app, html, datetime.now(UTC))
    for part in (text, email_html):
        assert "Correct answer" not in part
        assert "EXPLANATION-RELAY" not in part
    questions = document["questions"]
    assert isinstance(questions, list)
    assert [q["correct"] for q in questions] == [None, None]


def test_after_close_the_key_waits_for_the_close(
    tmp_path: Path, at_noon_before_close: ServerClock
) -> None:
    app, taker = quiz_app(tmp_path, f"closes: {CLOSES.isoformat()}\nreview: after_close")
    before = results_of(taker)
    assert [sign for sign in KEY_SIGNS if sign in before] == []
    assert "once the quiz closes, at" in before
    assert "2030-06-01 12:00 UTC" in before
    text, _, _ = email_parts(app, before, at_noon_before_close.now)
    assert "Correct answer" not in text
    assert "once\nthe quiz closes, at 2030-06-01 12:00 UTC" in text

    at_noon_before_close.now = CLOSES + timedelta(minutes=1)
    link = re.findall(r'href="(/quiz/held/results\?token=[^"]+)"', before)[0]
    after = taker.client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert [sign for sign in KEY_SIGNS if sign not in after] == []
    text, _, document = email_parts(app, after, at_noon_before_close.now)
    assert "Correct answer: 25" in text
    questions = document["questions"]
    assert isinstance(questions, list)
    assert questions[0]["correct"] == ["25"]


def test_a_closed_quiz_starts_no_attempt(tmp_path: Path, server_clock: ServerClock) -> None:
    _, taker = quiz_app(tmp_path, f"closes: {CLOSES.isoformat()}")
    server_clock.now = CLOSES
    response = taker.client.get("/quiz/held")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "This quiz is closed" in page
    assert "closed at 2030-06-01 12:00 UTC" in page
    listing = taker.client.get("/").get_data(as_text=True)
    assert "Closed</span>" in listing
    assert 'href="/quiz/held"' not in listing


def test_an_attempt_under_way_ends_at_the_close(
    tmp_path: Path, at_noon_before_close: ServerClock
) -> None:
    _, taker = quiz_app(tmp_path, f"closes: {CLOSES.isoformat()}\ntime_limit: 1h")
    at_noon_before_close.now = CLOSES - timedelta(minutes=10)
    page = taker.open("held")
    assert f'datetime="{CLOSES.isoformat()}"' in page.html  # the deadline is the close
    taker.submit(page, {"relay": "p25"}, confirm=False)  # the summary step saves the answers
    at_noon_before_close.now = CLOSES + timedelta(minutes=5)
    html = taker.submit(page, {"relay": "p25", "tls": ["p465", "p993"]}).get_data(as_text=True)
    assert "1 / 2</strong> points" in html
    assert "saved before the deadline" in html


def test_all_or_nothing_is_said_on_the_question_and_in_the_review(tmp_path: Path) -> None:
    _, taker = quiz_app(tmp_path, "scoring: all-or-nothing")
    take = taker.open("held").html
    assert "All the right options are needed for the points: there is no partial credit." in take
    review = results_of(taker)
    assert "All correct options were needed for the points: there is no partial credit." in review
    _, partial = quiz_app(tmp_path / "partial", "scoring: partial")
    assert "Each right option earns a share" in partial.open("held").html


def test_an_unanswered_question_reads_not_answered(tmp_path: Path) -> None:
    _, taker = quiz_app(tmp_path, "")
    html = taker.submit("held", {"relay": "p110"}).get_data(as_text=True)
    assert re.findall(r'class="badge badge-(\w+)">([^<]+)<', html) == [
        ("incorrect", "Incorrect"),
        ("unanswered", "Not answered"),
    ]
