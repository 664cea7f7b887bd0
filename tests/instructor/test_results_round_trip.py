"""The whole path: a graded attempt emailed by our SMTP client to the capture server, then read
back by the gradebook — the contract between notify and the instructor pages, kept by real code."""

import random
import socket
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from app.capture import CaptureServer
from app.config import PROJECT_ROOT
from app.notify import Notifier
from app.quiz import grade, load_quiz, new_attempt, render_markdown
from app.report import Student

SUBMITTED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_emailed_results_appear_in_the_gradebook(app: Flask, instructor: FlaskClient) -> None:
    quiz = load_quiz(PROJECT_ROOT / "questions" / "smtp.yaml")
    attempt = new_attempt(quiz, random.Random(7), SUBMITTED_AT)
    first = next(q for q in quiz.questions if q.id == attempt.question_ids[0])
    answers = {first.id: [o.id for o in first.options if o.correct]}  # one right, the rest blank
    result = grade(quiz, attempt, answers, SUBMITTED_AT)
    port = free_port()
    app.config["SMTP_PORT"] = port
    with CaptureServer(Path(app.config["MAILBOX_DIR"]), "127.0.0.1", port, hostname="capture.test"):
        notifier = Notifier.from_config(app.config)
        notifier.email_results(result, Student("ada@example.org", "Ada Lovelace"))
        notifier.close()
    page = instructor.get(f"/instructor/gradebook?quiz={quiz.id}").get_data(as_text=True)
    assert "Ada Lovelace" in page
    assert f"<td>{result.points:g} / {result.max_points:g}</td>" in page
    text = render_markdown(first.text)  # the question as the quiz file words it, not its id
    assert f'<th scope="row" class="question">{text}</th><td>1</td><td>100 %</td>' in page
