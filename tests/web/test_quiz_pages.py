"""Every student page through Flask's test client: list, take, submit, results, 404."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import ChoiceLoader, DictLoader
from quiz_taking import QuizTaker

from app import create_app

QUIZ = """\
title: Mail ports
description: Where *mail* services listen.
pass_mark: 50%
questions:
  - id: relay
    text: |
      Which port relays mail?

      ```
      telnet mx.example.org 25
      ```
    points: 2
    options:
      - {id: p25, text: "25", correct: true, feedback: "FEEDBACK-RIGHT"}
      - {id: p110, text: "110", feedback: "FEEDBACK-POP3"}
    explanation: EXPLANATION-RELAY
  - id: secure
    type: multiple
    text: Which ports use TLS from the first byte?
    options:
      - {id: p465, text: "465", correct: true}
      - {id: p993, text: "993", correct: true}
      - {id: p587, text: "587"}
  - id: udp
    type: true_false
    text: DNS answers over UDP.
    answer: true
    feedback: {false: "FEEDBACK-FALSE"}
"""
SECRETS = ("correct", "FEEDBACK", "EXPLANATION")
Submit = Callable[[Mapping[str, "str | list[str]"]], str]


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    questions = tmp_path / "questions"
    questions.mkdir()
    (questions / "ports.yaml").write_text(QUIZ)
    return create_app(
        {
            "TESTING": True,
            "VAR_DIR": str(tmp_path / "var"),
            "QUESTIONS_DIR": str(questions),
            "WTF_CSRF_ENABLED": False,
        }
    )


def attempt_token(html: str) -> str:
    match = re.search(r'name="attempt" value="([^"]+)"', html)
    assert match, "the quiz form carries a signed attempt"
    return match.group(1)


@pytest.fixture
def submit(quiz_taker: QuizTaker) -> Callable[[Answers], str]:
    """Answers (question id → option ids) in, the results page out."""

    def submit(answers: Answers) -> str:
        response = quiz_taker.submit("ports", answers)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    return submit


Answers = Mapping[str, str | list[str]]
PERFECT = {"relay": "p25", "secure": ["p465", "p993"], "udp": "true"}


def test_the_list_shows_every_quiz(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    shown = ['href="/quiz/ports"', "Mail ports", "Where <em>mail</em> services listen."]
    assert [text for text in [*shown, "3 questions", "Pass mark 50%"] if text not in html] == []


def test_the_take_page_is_an_accessible_form(client: FlaskClient) -> None:
    html = client.get("/quiz/ports", follow_redirects=True).get_data(as_text=True)
    counts = {"<fieldset": 3, "<legend>": 3, 'type="radio"': 4, 'type="checkbox"': 3}
    assert {tag: html.count(tag) for tag in counts} == counts
    assert html.count('<label class="option">') == 7
    assert "Question 1 of 3" in html
    assert "Select all that apply." in html
    assert "<pre><code>telnet mx.example.org 25" in html
    assert "0</span> of 3 answered" in html


def test_the_take_page_never_reveals_the_answers(client: FlaskClient) -> None:
    html = client.get("/quiz/ports", follow_redirects=True).get_data(as_text=True)
    for secret in SECRETS:
        assert secret not in html


def test_a_perfect_submission_scores_full_marks(submit: Submit) -> None:
    html = submit(PERFECT)
    assert "4 / 4</strong> points" in html
    assert "100%" in html
    assert "Passed" in html
    assert html.count("badge-correct") == 3


def test_the_review_shows_answers_feedback_and_explanation(submit: Submit) -> None:
    html = submit({"relay": "p110", "secure": "p465", "udp": "false"})
    assert "0.5 / 4</strong> points" in html
    assert "12%" in html
    assert "Not passed" in html
    assert "FEEDBACK-POP3" in html
    assert "FEEDBACK-FALSE" in html
    assert "EXPLANATION-RELAY" in html
    assert "FEEDBACK-RIGHT" not in html  # feedback is for the options the student chose
    assert "Partly correct" in html
    assert "Incorrect" in html
    assert html.count("Your answer") == 3
    assert html.count("Correct answer") == 4


def test_each_submission_reviews_its_own_choices(submit: Submit) -> None:
    """The review's pieces are shared between students; what one chose never shows for another."""
    wrong = submit({"relay": "p110", "secure": "p587", "udp": "false"})
    right = submit(PERFECT)
    assert (wrong.count("badge-incorrect"), right.count("badge-correct")) == (3, 3)
    assert "FEEDBACK-POP3" in wrong
    assert "FEEDBACK-POP3" not in right
    assert right.count('class="chosen correct"') == 4


def test_unanswered_questions_score_zero(submit: Submit) -> None:
    html = submit({})
    assert "0 / 4</strong> points" in html
    assert html.count("You did not answer this question.") == 3


def test_the_results_link_shows_the_same_results(client: FlaskClient, submit: Submit) -> None:
    html = submit(PERFECT)
    link = re.search(r'href="(/quiz/ports/results\?token=[^"]+)"', html)
    assert link
    again = client.get(link.group(1).replace("&amp;", "&"))
    assert again.status_code == 200
    assert '<meta name="referrer" content="no-referrer">' in again.get_data(as_text=True)
    assert "4 / 4</strong> points" in again.get_data(as_text=True)


def test_the_results_page_includes_the_email_form_with_its_context(app: Flask) -> None:
    form = '<form id="email">{{ quiz.id }} {{ result.points }} {{ token[:8] }}</form>'
    app.jinja_loader = ChoiceLoader([DictLoader({"quiz/_email_form.html": form}), app.jinja_loader])
    html = QuizTaker(app, app.test_client()).submit("ports", PERFECT).get_data(as_text=True)
    assert re.search(r'<form id="email">ports 4.0 \S{8}</form>', html)


def test_the_review_keeps_the_option_order_shown(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "questions" / "ports.yaml"
    path.write_text(QUIZ.replace("pass_mark: 50%", "pass_mark: 50%\nshuffle: true"))
    taker = QuizTaker(app, app.test_client())
    for _ in range(10):
        page = taker.open("ports")
        shown = page.attempt.option_ids[page.attempt.question_ids.index("secure")]
        review = taker.submit(page).get_data(as_text=True)
        section = review[review.index("Which ports use TLS") :]
        positions = [section.index(f">{option[1:]}<") for option in shown]
        assert positions == sorted(positions)


def test_an_unknown_quiz_is_a_404_page(client: FlaskClient) -> None:
    response = client.get("/quiz/nope")
    assert response.status_code == 404
    assert "There is no quiz called" in response.get_data(as_text=True)
    assert b"Traceback" not in response.data


def test_a_broken_quiz_file_leaves_the_others_up(app: Flask, tmp_path: Path) -> None:
    (tmp_path / "questions" / "broken.yaml").write_text("title: [\n")
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/quiz/ports", follow_redirects=True).status_code == 200
    assert client.get("/quiz/broken").status_code == 404


def test_an_empty_questions_dir_says_how_to_add_quizzes(app: Flask, tmp_path: Path) -> None:
    (tmp_path / "questions" / "ports.yaml").unlink()
    html = app.test_client().get("/").get_data(as_text=True)
    assert "No quizzes yet" in html


def test_an_unexpected_error_is_a_plain_500_page(tmp_path: Path) -> None:
    app = create_app({"VAR_DIR": str(tmp_path / "var"), "QUESTIONS_DIR": str(tmp_path)})

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert b"Internal Server Error" in response.data
    assert b"secret internals" not in response.data
    assert b"Traceback" not in response.data
