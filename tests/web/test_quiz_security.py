"""Signed attempts: tampering, a changed quiz, expiry, the time limit and CSRF get a clear 400."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from quiz_taking import QuizTaker, ServerClock, questions_dir, quiz_site

from app.web import submissions

QUIZ = """\
title: Timed
time_limit: 10m
questions:
  - id: q
    text: Pick a.
    options: [{id: a, text: A, correct: true}, {id: b, text: B}]
  - id: r
    text: Pick b.
    options: [{id: a, text: A}, {id: b, text: B, correct: true}]
"""


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    return questions_dir(tmp_path, timed=QUIZ)


def make_app(tmp_path: Path, questions: Path, csrf: bool) -> Flask:
    return quiz_site(tmp_path / "var", questions, csrf=csrf)


@pytest.fixture
def app(tmp_path: Path, questions: Path) -> Flask:
    return make_app(tmp_path, questions, csrf=False)


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match, name
    return match.group(1)


def start(client: FlaskClient) -> str:
    return field(client.get("/quiz/timed", follow_redirects=True).get_data(as_text=True), "attempt")


def result_token(html: str) -> str:
    match = re.search(r"results\?token=([^\"&]+)", html)
    assert match, "the results page links to itself by its result token"
    return match.group(1)


def post(client: FlaskClient, data: dict[str, str]) -> tuple[int, str]:
    """Submit past the summary step; answers in *data* are already form values."""
    response = client.post("/quiz/timed/submit", data={"confirm": "1", **data})
    return response.status_code, response.get_data(as_text=True)


def answer(quiz_taker: QuizTaker, answers: dict[str, str]) -> tuple[int, str]:
    """A new attempt answered (question id → option id) and submitted."""
    response = quiz_taker.submit("timed", answers)
    return response.status_code, response.get_data(as_text=True)


def assert_refused(status: int, html: str, title: str) -> None:
    assert status == 400
    assert f'<h1 id="error-title">{title}</h1>' in html
    assert "Traceback" not in html


def resign(app: Flask, token: str, change: dict[str, object]) -> str:
    """A token as an attacker who knew the key would forge it (used to reach later checks)."""
    serializer = URLSafeSerializer(app.config["SECRET_KEY"], salt=submissions.ATTEMPT_SALT)
    return serializer.dumps({**serializer.loads(token), **change})


def test_a_tampered_attempt_is_refused(client: FlaskClient) -> None:
    token = start(client)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert_refused(*post(client, {"attempt": forged}), "This submission is not valid")
    assert_refused(*post(client, {}), "This submission is not valid")


def test_an_attempt_signed_with_another_key_is_refused(client: FlaskClient) -> None:
    token = URLSafeSerializer("another key", salt=submissions.ATTEMPT_SALT).dumps(
        {"id": "x", "quiz": "timed", "v": "0", "t": 0}
    )
    assert_refused(*post(client, {"attempt": token}), "This submission is not valid")


def edit_quiz(app: Flask, questions: Path, text: str | None) -> None:
    """Write (or, with None, remove) the quiz file, and let the catalog see it at once."""
    path = questions / "timed.yaml"
    if text is None:
        path.unlink()
    else:
        path.write_text(text)
    with app.app_context():
        submissions.current_catalog().recheck()


def test_an_attempt_begun_before_an_edit_is_graded_on_its_own_version(
    app: Flask, quiz_taker: QuizTaker, questions: Path
) -> None:
    page = quiz_taker.open("timed")
    edit_quiz(app, questions, QUIZ.replace("Pick a.", "Pick the letter a."))
    html = quiz_taker.submit(page, {"q": "a", "r": "b"}).get_data(as_text=True)
    assert "2 / 2</strong> points" in html
    assert "Pick a." in html
    assert "Pick the letter a." not in html
    edit_quiz(app, questions, QUIZ.replace("Pick a.", "Pick the letter A."))
    again = quiz_taker.client.get(f"/quiz/timed/results?token={result_token(html)}")
    assert again.status_code == 200  # a results link given out before the edits still works
    assert "Pick a." in again.get_data(as_text=True)


def test_an_attempt_at_a_removed_quiz_is_still_graded_and_its_results_stay_readable(
    app: Flask, quiz_taker: QuizTaker, questions: Path
) -> None:
    page = quiz_taker.open("timed")
    edit_quiz(app, questions, None)
    assert quiz_taker.client.get("/quiz/timed").status_code == 404  # no new attempts
    html = quiz_taker.submit(page, {"q": "a"}).get_data(as_text=True)
    assert "1 / 2</strong> points" in html
    assert (
        quiz_taker.client.get(f"/quiz/timed/results?token={result_token(html)}").status_code == 200
    )


def test_an_attempt_whose_version_is_no_longer_kept_is_refused(
    app: Flask, client: FlaskClient, questions: Path, tmp_path: Path
) -> None:
    token = start(client)
    edit_quiz(app, questions, QUIZ.replace("Pick a.", "Pick A."))
    for stored in (tmp_path / "var" / "quiz-versions").rglob("*.yaml"):
        if "Pick a." in stored.read_text():
            stored.write_text("damaged")
    assert_refused(*post(client, {"attempt": token}), "This quiz has changed")
    edit_quiz(app, questions, None)
    assert_refused(*post(client, {"attempt": token}), "This quiz is no longer available")


def test_an_attempt_for_another_quiz_is_refused(app: Flask, questions: Path) -> None:
    (questions / "other.yaml").write_text(QUIZ)
    client = app.test_client()
    token = field(
        client.get("/quiz/other", follow_redirects=True).get_data(as_text=True), "attempt"
    )
    assert_refused(*post(client, {"attempt": token}), "This submission is not valid")


def test_a_submission_just_inside_the_time_limit_is_graded(
    quiz_taker: QuizTaker, server_clock: ServerClock
) -> None:
    page = quiz_taker.open("timed")
    server_clock.advance(minutes=10, seconds=20)
    html = quiz_taker.submit(page, {"q": "a", "r": "b"}).get_data(as_text=True)
    assert "2 / 2</strong> points" in html
    assert 'class="note"' not in html


def test_the_deadline_comes_from_the_signed_start_not_the_form(
    app: Flask, quiz_taker: QuizTaker, server_clock: ServerClock
) -> None:
    page = quiz_taker.open("timed")
    server_clock.advance(minutes=30)
    with app.app_context():
        quiz, attempt = submissions.load_attempt(page.fields["attempt"], now=server_clock.now)
    assert attempt.started_at <= server_clock.now - timedelta(minutes=29)
    data = page.form({"q": "a", "r": "b"}) | {"started_at": ["0"], "confirm": ["1"]}
    html = quiz_taker.client.post("/quiz/timed/submit", data=data).get_data(as_text=True)
    assert "0 / 2</strong> points" in html  # the answers arrived late: none were given in time
    assert quiz.time_limit == timedelta(minutes=10)


def test_an_expired_attempt_is_refused(
    app: Flask, server_clock: ServerClock, questions: Path
) -> None:
    (questions / "timed.yaml").write_text(QUIZ.replace("time_limit: 10m\n", ""))
    client = app.test_client()
    token = start(client)
    server_clock.advance(hours=25)
    assert_refused(*post(client, {"attempt": token}), "This quiz page has expired")


def test_a_tampered_result_token_is_refused(client: FlaskClient, quiz_taker: QuizTaker) -> None:
    _, html = answer(quiz_taker, {"q": "b"})
    token = result_token(html)
    good = client.get(f"/quiz/timed/results?token={token}")
    assert good.status_code == 200
    bad = client.get(f"/quiz/timed/results?token={token[:-2]}xx")
    assert_refused(bad.status_code, bad.get_data(as_text=True), "This submission is not valid")


def test_an_expired_result_token_is_refused(client: FlaskClient, server_clock: ServerClock) -> None:
    _, html = post(client, {"attempt": start(client)})
    token = result_token(html)
    server_clock.advance(days=91)
    response = client.get(f"/quiz/timed/results?token={token}")
    assert_refused(
        response.status_code, response.get_data(as_text=True), "These results have expired"
    )


def test_load_submission_regrades_what_was_submitted(app: Flask, quiz_taker: QuizTaker) -> None:
    _, html = answer(quiz_taker, {"q": "a", "r": "a"})
    token = result_token(html)
    with app.test_request_context():
        submission = submissions.load_submission(token)
    assert submission.answers == {"q": ("a",), "r": ("a",)}
    assert (submission.result.points, submission.result.max_points) == (1, 2)
    assert submission.quiz.id == "timed"
    assert isinstance(submission.submitted_at, datetime)


def test_a_forged_score_in_the_form_is_ignored(client: FlaskClient) -> None:
    """Only the server's grade of the signed attempt counts."""
    status, html = post(client, {"attempt": start(client), "points": "2", "percentage": "100"})
    assert status == 200
    assert "0 / 2</strong> points" in html


# --- CSRF ----------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(tmp_path: Path, questions: Path) -> FlaskClient:
    return make_app(tmp_path, questions, csrf=True).test_client()


def test_a_submit_without_the_csrf_token_is_refused(csrf_client: FlaskClient) -> None:
    token = start(csrf_client)
    status, html = post(csrf_client, {"attempt": token, "answer-q": "a"})
    assert_refused(status, html, "Form expired")


def test_a_submit_with_a_wrong_csrf_token_is_refused(csrf_client: FlaskClient) -> None:
    token = start(csrf_client)
    status, html = post(csrf_client, {"attempt": token, "csrf_token": "forged"})
    assert_refused(status, html, "Form expired")


def test_a_submit_with_the_csrf_token_is_graded(
    tmp_path: Path, questions: Path, csrf_client: FlaskClient
) -> None:
    taker = QuizTaker(make_app(tmp_path, questions, csrf=True), csrf_client)
    page = taker.open("timed")
    assert "csrf_token" in page.fields
    response = taker.submit(page, {"q": "a"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "1 / 2</strong> points" in html


@pytest.mark.parametrize(
    "change",
    [{"id": 7}, {"id": None}, {"t": "yesterday"}, {"t": 1e300}, {"v": 3}, {"quiz": ["timed"]}],
)
def test_resigned_payload_with_bad_fields_is_refused(
    app: Flask, client: FlaskClient, change: dict[str, object]
) -> None:
    forged = resign(app, start(client), change)
    status, html = post(client, {"attempt": forged})
    assert status == 400
    assert "Traceback" not in html


def resign_result(app: Flask, token: str, change: dict[str, object]) -> str:
    serializer = URLSafeSerializer(app.config["SECRET_KEY"], salt=submissions.RESULT_SALT)
    return serializer.dumps({**serializer.loads(token), **change})


@pytest.mark.parametrize(
    "change", [{"answers": 5}, {"answers": None}, {"at": 1e300}, {"at": "now"}, {"attempt": 3}]
)
def test_resigned_result_with_bad_fields_is_refused(
    app: Flask, quiz_taker: QuizTaker, change: dict[str, object]
) -> None:
    _, html = answer(quiz_taker, {"q": "a"})
    forged = resign_result(app, result_token(html), change)
    response = quiz_taker.client.get(f"/quiz/timed/results?token={forged}")
    assert_refused(
        response.status_code, response.get_data(as_text=True), "This submission is not valid"
    )
