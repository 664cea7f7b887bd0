"""Taking a quiz through Flask's test client, as a browser would: open, tick, submit.

The take page's option values are the attempt's own opaque keys; a test names options by their
ids in the quiz file, and :class:`QuizPage` maps them to the keys the server gave that page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import create_app
from app.quiz import Attempt
from app.web import submissions


@dataclass
class QuizPage:
    """A take page as the test client got it: its HTML, hidden fields and the attempt behind it."""

    quiz_id: str
    html: str
    fields: dict[str, str]
    attempt: Attempt
    keys: dict[tuple[str, str], str]  # (question id, option id) → the form value of the option

    def form(self, answers: Mapping[str, str | Iterable[str]]) -> dict[str, list[str]]:
        """The hidden fields plus *answers* (question id → option ids, as in the quiz file)."""
        data = {name: [value] for name, value in self.fields.items()}
        for qid, chosen in answers.items():
            ids = [chosen] if isinstance(chosen, str) else list(chosen)
            data[f"answer-{qid}"] = [self.keys.get((qid, oid), oid) for oid in ids]
        return data


class QuizTaker:
    """Opens quizzes and submits answers through the test client, as a browser would."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app, self.client = app, client

    def open(self, quiz_id: str) -> QuizPage:
        html = self.client.get(f"/quiz/{quiz_id}", follow_redirects=True).get_data(as_text=True)
        fields = dict(HIDDEN_FIELD.findall(html))
        with self.app.test_request_context():
            _, attempt = submissions.load_attempt(fields["attempt"])
            keys = submissions.option_keys(attempt)
        shown = zip(attempt.question_ids, attempt.option_ids, keys, strict=True)
        by_option = {
            (qid, oid): key
            for qid, option_ids, values in shown
            for oid, key in zip(option_ids, values, strict=True)
        }
        return QuizPage(quiz_id, html, fields, attempt, by_option)

    def submit(
        self,
        page: QuizPage | str,
        answers: Mapping[str, str | Iterable[str]] | None = None,
        *,
        confirm: bool = True,
    ) -> TestResponse:
        """Submit *answers* on *page* (or a new page of that quiz id), past the summary step."""
        page = self.open(page) if isinstance(page, str) else page
        data = page.form(answers or {})
        if confirm:
            data["confirm"] = ["1"]
        return self.client.post(f"/quiz/{page.quiz_id}/submit", data=data)


HIDDEN_FIELD = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


class ServerClock:
    """Stands in for the server's clock (``submissions.utcnow``), so minutes can pass in a test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = submissions.utcnow()
        monkeypatch.setattr(submissions, "utcnow", lambda: self.now)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def questions_dir(parent: Path, **quizzes: str) -> Path:
    """``parent/questions`` holding one file per keyword: ``ports="title: …"`` is ports.yaml."""
    directory = parent / "questions"
    directory.mkdir(parents=True, exist_ok=True)
    for quiz_id, text in quizzes.items():
        (directory / f"{quiz_id}.yaml").write_text(text)
    return directory


def quiz_site(var_dir: Path, questions: Path, *, csrf: bool = False) -> Flask:
    """The web app on its own VAR_DIR and questions, CSRF off unless asked for."""
    return create_app(
        {
            "TESTING": True,
            "VAR_DIR": str(var_dir),
            "QUESTIONS_DIR": str(questions),
            "WTF_CSRF_ENABLED": csrf,
        }
    )
