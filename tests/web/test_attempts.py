"""One attempt, graded once: the page gives nothing away, Back cannot regrade, nothing given in
time is lost. Through Flask's test client with the real ledger in a temporary VAR_DIR."""

from __future__ import annotations

import base64
import json
import re
import tempfile
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from quiz_taking import QuizPage, QuizTaker, ServerClock, questions_dir, quiz_site

from app.config import PROJECT_ROOT
from app.quiz import Quiz, load_quizzes
from app.web import submissions

QUIZ = """\
title: Ports
time_limit: 10m
shuffle: {options: true}
questions:
  - id: relay
    text: Which port relays mail?
    options: [{id: p25, text: "25", correct: true}, {id: p110, text: "110"}, {id: p53, text: "53"}]
  - id: pop
    text: Which port is POP3?
    options: [{id: p110, text: "110", correct: true}, {id: p25, text: "25"}]
  - id: tls
    type: multiple
    text: Which ports speak TLS from the first byte?
    options: [{id: p465, text: "465", correct: true}, {id: p993, text: "993", correct: true},
              {id: p587, text: "587"}]
"""
RIGHT = {"relay": "p25", "pop": "p110", "tls": ["p465", "p993"]}
WRONG = {"relay": "p110", "pop": "p25", "tls": ["p587"]}
OPTION_VALUE = re.compile(r'name="answer-([\w-]+)" value="([^"]+)"')


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    return questions_dir(tmp_path, ports=QUIZ)


@pytest.fixture
def app(tmp_path: Path, questions: Path) -> Flask:
    return quiz_site(tmp_path / "var", questions)


def score(html: str) -> str:
    match = re.search(r'class="score-line"><strong>([^<]+)</strong>', html)
    assert match, "a results page"
    return match.group(1)


def note(html: str) -> str | None:
    match = re.search(r'<p class="note" role="status">([^<]+)</p>', html)
    return match.group(1) if match else None


def save(taker: QuizTaker, page: QuizPage, answers: dict[str, str | list[str]]) -> dict[str, str]:
    response = taker.client.post(f"/quiz/{page.quiz_id}/save", data=page.form(answers))
    reply: dict[str, str] = response.get_json()
    return reply


# --- nothing on the take page says which option is right ----------------------------------------


def values_by_question(html: str) -> dict[str, list[str]]:
    shown: dict[str, list[str]] = {}
    for qid, value in OPTION_VALUE.findall(html):
        shown.setdefault(qid, []).append(value)
    return shown


def guess_rates(taker: QuizTaker, quiz: Quiz, attempts: int) -> tuple[dict[str, float], float]:
    """How often each way of guessing from the page picks a right option, and chance's rate.

    Guesses: the first option shown, the option whose value sorts first, the option whose value
    is the author's id. Only shuffled single- and multiple-answer questions count: a true/false
    question always shows True first, which says nothing about the answer.
    """
    hits = {"first shown": 0, "smallest value": 0, "value is the author's id": 0}
    chance, samples = 0.0, 0
    for _ in range(attempts):
        page = taker.open(quiz.id)
        for qid, values in values_by_question(page.html).items():
            question = quiz.question(qid)
            if question.type == "true_false":
                continue
            right = {page.keys[qid, oid] for oid in question.correct_ids}
            hits["first shown"] += values[0] in right
            hits["smallest value"] += min(values) in right
            hits["value is the author's id"] += any(o.id in values for o in question.options)
            chance += len(right) / len(values)
            samples += 1
    assert samples, "the quiz has shuffled questions to guess at"
    return {name: count / samples for name, count in hits.items()}, chance / samples


@pytest.mark.parametrize("quiz_id", ["smtp", "dns"])
def test_no_guess_from_a_shipped_quiz_page_beats_chance(tmp_path: Path, quiz_id: str) -> None:
    app = quiz_site(tmp_path / "var", PROJECT_ROOT / "questions")
    quiz = load_quizzes(PROJECT_ROOT / "questions")[0][quiz_id]
    rates, chance = guess_rates(QuizTaker(app, app.test_client()), quiz, attempts=120)
    assert rates["value is the author's id"] == 0
    # Hundreds of samples: chance's rate give or take a few points; the author's habit of
    # writing the right option first would show as a rate near 1.
    assert rates["first shown"] < chance + 0.1
    assert rates["smallest value"] < chance + 0.1


option_counts = st.lists(st.integers(min_value=2, max_value=6), min_size=1, max_size=4)


@settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(counts=option_counts, multiple=st.booleans())
def test_no_guess_from_a_generated_quiz_page_beats_chance(
    counts: list[int], multiple: bool
) -> None:
    """Every author writes the right option first; the page must not show it."""
    lines = ["title: Generated", "shuffle: {options: true}", "questions:"]
    for number, count in enumerate(counts):
        lines += [f"  - id: q{number}", f"    text: Question {number}"]
        lines += ["    type: multiple"] if multiple else []
        lines += ["    options:"] + [
            f"      - {{id: o{i}, text: 'Option {i}', correct: {str(i == 0).lower()}}}"
            for i in range(count)
        ]
    with tempfile.TemporaryDirectory() as workdir:
        questions = Path(workdir) / "questions"
        questions.mkdir()
        (questions / "generated.yaml").write_text("\n".join(lines) + "\n")
        app = quiz_site(Path(workdir) / "var", questions)
        quiz = load_quizzes(questions)[0]["generated"]
        rates, chance = guess_rates(QuizTaker(app, app.test_client()), quiz, attempts=60)
    assert rates["value is the author's id"] == 0
    assert rates["first shown"] < chance + 0.3
    assert rates["smallest value"] < chance + 0.3


def test_the_attempt_token_carries_no_order(quiz_taker: QuizTaker) -> None:
    token = quiz_taker.open("ports").fields["attempt"]
    payload = token.split(".")[0]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(decoded) == {"id", "quiz", "v", "t"}


def test_option_values_differ_between_attempts_and_stay_within_one(
    app: Flask, quiz_taker: QuizTaker
) -> None:
    first, second = quiz_taker.open("ports"), quiz_taker.open("ports")
    assert set(first.keys.values()).isdisjoint(second.keys.values())
    with app.test_request_context():
        _, again = submissions.load_attempt(first.fields["attempt"])
        assert submissions.option_keys(again) == submissions.option_keys(first.attempt)
    assert again == first.attempt


def test_values_from_another_attempt_count_for_nothing(quiz_taker: QuizTaker) -> None:
    mine, theirs = quiz_taker.open("ports"), quiz_taker.open("ports")
    form = theirs.form(RIGHT) | {k: [v] for k, v in mine.fields.items()} | {"confirm": ["1"]}
    html = quiz_taker.client.post("/quiz/ports/submit", data=form).get_data(as_text=True)
    assert score(html) == "0 / 3"


# --- graded once ---------------------------------------------------------------------------------


def test_back_and_submit_again_shows_the_first_result(quiz_taker: QuizTaker) -> None:
    page = quiz_taker.open("ports")
    first = quiz_taker.submit(page, WRONG).get_data(as_text=True)
    assert (score(first), note(first)) == ("0 / 3", None)
    again = quiz_taker.submit(page, RIGHT).get_data(as_text=True)
    assert score(again) == "0 / 3"
    assert note(again) is not None
    assert "already submitted" in (note(again) or "")
    assert re.findall(r"token=([^\"&]+)", first)[0] == re.findall(r"token=([^\"&]+)", again)[0]


def test_a_new_attempt_is_graded_on_its_own(quiz_taker: QuizTaker) -> None:
    quiz_taker.submit(quiz_taker.open("ports"), WRONG)
    retake = quiz_taker.submit(quiz_taker.open("ports"), RIGHT).get_data(as_text=True)
    assert (score(retake), note(retake)) == ("3 / 3", None)
    assert "Start a new attempt" in retake


def test_the_first_submission_stands_across_workers(
    tmp_path: Path, questions: Path, app: Flask
) -> None:
    """Two apps on one VAR_DIR are two gunicorn workers: the ledger is shared."""
    other = quiz_site(tmp_path / "var", questions)
    page = QuizTaker(app, app.test_client()).open("ports")
    QuizTaker(app, app.test_client()).submit(page, WRONG)
    html = QuizTaker(other, other.test_client()).submit(page, RIGHT).get_data(as_text=True)
    assert score(html) == "0 / 3"


# --- the summary step ----------------------------------------------------------------------------


def test_submit_first_lists_what_is_unanswered(quiz_taker: QuizTaker) -> None:
    page = quiz_taker.open("ports")
    response = quiz_taker.submit(page, {"relay": "p25"}, confirm=False)
    html = response.get_data(as_text=True)
    assert '<h1 id="summary-title">Submit your answers?</h1>' in html
    assert "You have answered 1 of 3 questions." in html
    numbers = [page.attempt.question_ids.index(q) + 1 for q in ("pop", "tls")]
    listed = re.findall(r"<li>Question (\d+): ", html)
    assert sorted(map(int, listed)) == sorted(numbers)
    assert f'name="answer-relay" value="{page.keys["relay", "p25"]}"' in html
    assert 'name="confirm" value="1"' in html


def test_the_summary_says_when_everything_is_answered(quiz_taker: QuizTaker) -> None:
    html = quiz_taker.submit("ports", RIGHT, confirm=False).get_data(as_text=True)
    assert "You have answered all 3 questions." in html
    assert "score-line" not in html  # nothing graded yet


def test_back_from_the_summary_keeps_the_answers_ticked(quiz_taker: QuizTaker) -> None:
    page = quiz_taker.open("ports")
    data = page.form({"relay": "p110", "tls": ["p465", "p587"]})
    html = quiz_taker.client.post("/quiz/ports/resume", data=data).get_data(as_text=True)
    ticked = set(re.findall(r'value="([^"]+)" checked', html))
    assert ticked == {
        page.keys["relay", "p110"],
        page.keys["tls", "p465"],
        page.keys["tls", "p587"],
    }
    assert f'name="attempt" value="{page.fields["attempt"]}"' in html  # the same attempt


def test_the_summary_then_confirm_grades_once(quiz_taker: QuizTaker) -> None:
    page = quiz_taker.open("ports")
    quiz_taker.submit(page, RIGHT, confirm=False)
    assert score(quiz_taker.submit(page, RIGHT).get_data(as_text=True)) == "3 / 3"


# --- saved in time, graded when late -------------------------------------------------------------


def test_a_late_submission_grades_what_was_saved_in_time(
    quiz_taker: QuizTaker, server_clock: ServerClock
) -> None:
    page = quiz_taker.open("ports")
    server_clock.advance(minutes=5)
    assert save(quiz_taker, page, {"relay": "p25", "pop": "p25"})["saved"]
    server_clock.advance(minutes=20)  # far past the limit: the form now has better answers
    html = quiz_taker.submit(page, RIGHT).get_data(as_text=True)
    assert score(html) == "1 / 3"
    assert "saved before the deadline have been graded" in (note(html) or "")


def test_a_late_submission_with_nothing_saved_is_graded_as_unanswered(
    quiz_taker: QuizTaker, server_clock: ServerClock
) -> None:
    page = quiz_taker.open("ports")
    server_clock.advance(minutes=11)
    html = quiz_taker.submit(page, RIGHT, confirm=False).get_data(as_text=True)
    assert score(html) == "0 / 3"  # no summary step once time is up
    assert "none had been saved" in (note(html) or "")
    assert html.count("Not answered") == 3


def test_the_summary_step_saves_the_answers(
    quiz_taker: QuizTaker, server_clock: ServerClock
) -> None:
    page = quiz_taker.open("ports")
    quiz_taker.submit(page, {"relay": "p25"}, confirm=False)
    server_clock.advance(minutes=11)
    assert score(quiz_taker.submit(page, RIGHT).get_data(as_text=True)) == "1 / 3"


def test_nothing_is_saved_late_or_after_grading(
    quiz_taker: QuizTaker, server_clock: ServerClock
) -> None:
    page = quiz_taker.open("ports")
    server_clock.advance(minutes=10, seconds=31)
    assert save(quiz_taker, page, RIGHT) == {"saved": False, "reason": "late"}
    graded = quiz_taker.open("ports")
    quiz_taker.submit(graded, WRONG)
    assert save(quiz_taker, graded, RIGHT) == {"saved": False, "reason": "submitted"}


def test_a_save_with_an_altered_attempt_is_refused(quiz_taker: QuizTaker) -> None:
    response = quiz_taker.client.post("/quiz/ports/save", data={"attempt": "forged"})
    assert response.status_code == 400
    assert b"Traceback" not in response.data


# --- the page of an attempt under way, again -----------------------------------------------------


def test_the_address_of_an_attempt_shows_it_again_as_saved(quiz_taker: QuizTaker) -> None:
    page = quiz_taker.open("ports")
    save(quiz_taker, page, {"relay": "p110"})
    token = page.fields["attempt"]
    again = quiz_taker.client.get("/quiz/ports", query_string={"attempt": token})
    html = again.get_data(as_text=True)
    assert f'name="attempt" value="{token}"' in html
    assert re.findall(r'value="([^"]+)" checked', html) == [page.keys["relay", "p110"]]


def test_the_address_of_an_altered_or_foreign_attempt_is_refused(
    app: Flask, questions: Path, quiz_taker: QuizTaker
) -> None:
    (questions / "other.yaml").write_text(QUIZ)
    foreign = quiz_taker.open("other").fields["attempt"]
    for token in (foreign, "forged"):
        response = quiz_taker.client.get("/quiz/ports", query_string={"attempt": token})
        assert response.status_code == 400
        assert b"This submission is not valid" in response.data


def test_opening_a_quiz_leads_to_the_address_of_a_new_attempt(quiz_taker: QuizTaker) -> None:
    """Back and reload then show that attempt; they never start a new one without JavaScript."""
    first = quiz_taker.client.get("/quiz/ports")
    second = quiz_taker.client.get("/quiz/ports")
    assert (first.status_code, second.status_code) == (303, 303)
    assert first.location.startswith("/quiz/ports?attempt=")
    assert first.location != second.location
    page = quiz_taker.client.get(first.location).get_data(as_text=True)
    assert page == quiz_taker.client.get(first.location).get_data(as_text=True)  # a reload


def test_an_attempt_is_derived_with_each_apps_own_key(tmp_path: Path) -> None:
    """One process, two sites with two secret keys: one attempt id names two draws (a cache of
    derived attempts shared by the two would hand the second site the first site's order)."""
    questions = tmp_path / "questions"
    questions.mkdir()
    options = ", ".join(f"{{text: O{i}, correct: {str(i == 0).lower()}}}" for i in range(20))
    (questions / "wide.yaml").write_text(
        f"title: Wide\nshuffle: true\nquestions:\n  - {{id: q, text: Q, options: [{options}]}}\n"
    )
    started = submissions.utcnow()
    orders = []
    for name in ("one", "two"):
        app = quiz_site(tmp_path / name, questions)
        with app.test_request_context():
            quiz = submissions.current_catalog().get("wide")
            assert quiz is not None
            orders.append(submissions._derive_attempt(quiz, "same-id", started).option_ids)
    assert orders[0] != orders[1]  # 20! orders: equal by chance once in 10^18
