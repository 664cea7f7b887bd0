"""The student's side of "Email my results" through Flask's test client: take the quiz, press the
button, follow the redirect; and an app whose relay is a real aiosmtpd server (notify_support)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from notify_support import ANSWERS, QUESTIONS_DIR, LocalRelay
from quiz_taking import QuizTaker
from werkzeug.test import TestResponse

from app import create_app
from app.notify import Deliverer
from app.outbox import Outbox
from app.web.results_email import notifier

ADA = "ada@example.org"
HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
LOCATION = re.compile(r"/results/email/([A-Za-z0-9_-]{22})$")


def results_app(tmp_path: Path, relay: LocalRelay) -> Iterator[Flask]:
    """The app for an ``app`` fixture: the test quizzes, mail to *relay*, closed at the end."""
    app = create_app(
        {
            "TESTING": True,
            "VAR_DIR": str(tmp_path / "var"),
            "QUESTIONS_DIR": str(QUESTIONS_DIR),
            "SMTP_PORT": relay.port,
            "SMTP_TIMEOUT": 5.0,
        }
    )
    yield app
    with app.app_context():
        notifier().close()  # the connection kept for a next message


@dataclass
class ResultsPage:
    html: str
    token: str
    csrf: str


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page)}


def take_and_submit(client: FlaskClient) -> ResultsPage:
    """Open the quiz, answer as ANSWERS says, submit: the results page with the email form."""
    response = QuizTaker(client.application, client).submit("smtp", ANSWERS)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    fields = hidden_fields(page)
    return ResultsPage(page, fields["token"], fields["csrf_token"])


def press_email(client: FlaskClient, results: ResultsPage, **fields: str) -> TestResponse:
    data = {"csrf_token": results.csrf, "token": results.token, "email": ADA, **fields}
    return client.post("/results/email", data=data)


def status_page_of(client: FlaskClient, response: TestResponse) -> tuple[str, str]:
    """Follow the POST's 303: the delivery id and the status page."""
    assert response.status_code == 303
    match = LOCATION.search(response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1), status_page(client, match.group(1))


def status_page(client: FlaskClient, delivery_id: str) -> str:
    page = client.get(f"/results/email/{delivery_id}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def later_deliverer(app: Flask) -> Deliverer:
    """The app's deliverer, an hour in the future: every retry is due, no sleeping."""
    outbox = Outbox(app.config["OUTBOX_DIR"], clock=lambda: time.time() + 3600)
    return Deliverer(outbox, Deliverer.from_config(app.config).relay)
