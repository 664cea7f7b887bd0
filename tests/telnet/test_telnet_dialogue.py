"""The session's dialogue without sockets: lines in, words and actions out, on a clock the test
moves — answers, select-all, bad answers, the time limit as the web keeps it, and email."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from quiz_taking import questions_dir
from telnet_support import PORTS_QUIZ, TIMED_QUIZ

from app.quiz import QuizCatalog, grade
from app.quiz.attempts import LATE_GRACE, LATE_NOTHING_SAVED, LATE_WITH_SAVED, AttemptMaker
from app.results_mail import SendRefused
from app.telnet.dialogue import MAX_BLANK_LINES, CheckEmail, Dialogue, Say, SendEmail
from app.telnet.plain import wrapped

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dialogue(tmp_path: Path, clock: Clock) -> Dialogue:
    catalog = QuizCatalog(questions_dir(tmp_path, ports=PORTS_QUIZ, timed=TIMED_QUIZ))
    talk = Dialogue(catalog.quizzes, AttemptMaker("a secret key"), clock)
    talk.start()
    return talk


def said(action: object) -> str:
    assert isinstance(action, Say), action
    return action.text


def open_quiz(dialogue: Dialogue, title: str) -> str:
    number = 1 + [q.title for q in dialogue._listed].index(title)
    return said(dialogue.receive(str(number)))


def letter_of(dialogue: Dialogue, text: str) -> str:
    """The letter the current question shows the option *text* under."""
    taking = dialogue.taking
    assert taking is not None
    question = taking.quiz.question(current_question(dialogue))
    shown = [question.option(oid).text for oid in taking.attempt.option_ids[taking.position]]
    return "abcdefgh"[shown.index(text)]


def current_question(dialogue: Dialogue) -> str:
    taking = dialogue.taking
    assert taking is not None
    return taking.attempt.question_ids[taking.position]


def test_the_attempt_is_the_one_the_same_key_derives(dialogue: Dialogue) -> None:
    open_quiz(dialogue, "Ports and protocols")
    taking = dialogue.taking
    assert taking is not None
    again = AttemptMaker("a secret key").derive(taking.quiz, taking.attempt.id, START)
    assert (again.question_ids, again.option_ids) == (
        taking.attempt.question_ids,
        taking.attempt.option_ids,
    )
    other = AttemptMaker("another key").derive(taking.quiz, taking.attempt.id, START)
    assert len(other.question_ids) == 4  # pick: 4 of 5, whatever the key


def test_select_all_takes_several_letters_in_any_form(dialogue: Dialogue) -> None:
    while True:  # a pick of 4 from 5: until an attempt shows the select-all question
        open_quiz(dialogue, "Ports and protocols")
        taking = dialogue.taking
        assert taking is not None
        if "secure" in taking.attempt.question_ids:
            break
        for line in ("submit", "submit", "again"):
            dialogue.receive(line)
    while current_question(dialogue) != "secure":
        dialogue.receive("skip")
    letters = f"{letter_of(dialogue, '993').upper()}, {letter_of(dialogue, '465')}"
    dialogue.receive(letters)
    taking = dialogue.taking
    assert taking is not None
    chosen = {taking.quiz.question("secure").option(oid).text for oid in taking.answers["secure"]}
    assert chosen == {"465", "993"}


def test_one_answer_questions_take_one_letter(dialogue: Dialogue) -> None:
    open_quiz(dialogue, "A timed quiz")
    assert (
        said(dialogue.receive("a b"))
        == wrapped("This question takes one answer: type one letter.") + "\n"
    )
    assert "There is no option c) here" in said(dialogue.receive("c"))
    assert "“hello there” is not an answer" in said(dialogue.receive("hello there"))
    long = said(dialogue.receive("x" * 500 + " words"))
    assert "…”" in long
    assert len(long) < 200


def test_back_on_the_first_question_and_help_say_so(dialogue: Dialogue) -> None:
    open_quiz(dialogue, "A timed quiz")
    assert said(dialogue.receive("back")).startswith("This is the first question.")
    assert "select all that apply" in said(dialogue.receive("HELP"))


def test_quit_mid_quiz_says_nothing_was_graded(dialogue: Dialogue) -> None:
    open_quiz(dialogue, "A timed quiz")
    action = dialogue.receive("quit")
    assert isinstance(action, Say)
    assert action.close
    assert "not graded" in action.text


def test_blank_lines_answer_nothing_until_too_many(dialogue: Dialogue) -> None:
    for _ in range(MAX_BLANK_LINES):
        assert dialogue.receive("   ") == Say("")
    last = dialogue.receive("")
    assert isinstance(last, Say)
    assert last.close
    assert last.text == "Closing: too many empty lines in a row.\n"


def test_a_menu_number_out_of_range_is_one_line(dialogue: Dialogue) -> None:
    assert said(dialogue.receive("7")) == "“7” is not a quiz number: type a number from 1 to 2.\n"


# --- the time limit, on the server's clock -------------------------------------------------------


def take_timed(dialogue: Dialogue) -> None:
    open_quiz(dialogue, "A timed quiz")
    assert dialogue.wake_at() == START + timedelta(minutes=10) + LATE_GRACE


def test_answers_within_the_grace_count(dialogue: Dialogue, clock: Clock) -> None:
    take_timed(dialogue)
    dialogue.receive(letter_of(dialogue, "yes"))
    clock.now = START + timedelta(minutes=10) + LATE_GRACE  # the last moment still in time
    dialogue.receive(letter_of(dialogue, "yes"))
    said(dialogue.receive("submit"))
    assert dialogue.result is not None
    assert dialogue.result.points == 2
    assert dialogue.result.submitted_at == clock.now


def test_a_late_line_grades_what_was_answered_in_time_as_of_then(
    dialogue: Dialogue, clock: Clock
) -> None:
    take_timed(dialogue)
    clock.now = START + timedelta(minutes=3)
    dialogue.receive(letter_of(dialogue, "yes"))  # question one, in time
    clock.now = START + timedelta(minutes=11)
    text = said(dialogue.receive(letter_of(dialogue, "yes")))  # question two, too late
    assert dialogue.stage == "results"
    result = dialogue.result
    assert result is not None
    assert result.points == 1
    assert result.submitted_at == START + timedelta(minutes=3)
    assert wrapped(LATE_WITH_SAVED).split("\n")[0] in text
    assert dialogue.wake_at() is None


def test_time_up_with_nothing_answered_grades_at_the_deadline(
    dialogue: Dialogue, clock: Clock
) -> None:
    take_timed(dialogue)
    clock.now = START + timedelta(minutes=20)
    text = said(dialogue.time_up())
    assert dialogue.result is not None
    assert dialogue.result.points == 0
    assert dialogue.result.submitted_at == START + timedelta(minutes=10)
    assert wrapped(LATE_NOTHING_SAVED).split("\n")[0] in text


def test_the_grade_is_the_domains_grade(dialogue: Dialogue) -> None:
    open_quiz(dialogue, "Ports and protocols")
    while dialogue.stage == "question":
        dialogue.receive("a")
    dialogue.receive("submit")
    result, taking_attempt = dialogue.result, dialogue.result.attempt if dialogue.result else None
    assert result is not None
    assert taking_attempt is not None
    again = grade(
        result.quiz, taking_attempt, {q.question.id: q.chosen for q in result.questions}, START
    )
    assert (again.points, again.passed) == (result.points, result.passed)


# --- after grading: email ------------------------------------------------------------------------


def graded(dialogue: Dialogue) -> None:
    open_quiz(dialogue, "A timed quiz")
    dialogue.receive("a")
    dialogue.receive("a")
    dialogue.receive("submit")
    assert dialogue.stage == "results"


def test_email_checks_the_address_as_the_web_form_does(dialogue: Dialogue) -> None:
    graded(dialogue)
    assert "is not a usable email address" in said(dialogue.receive("email not-an-address"))
    assert "Type email and your address" in said(dialogue.receive("email"))
    action = dialogue.receive("email ada@example.org Ada   Lovelace")
    assert isinstance(action, SendEmail)
    assert (action.student.email, action.student.name) == ("ada@example.org", "Ada Lovelace")


def test_a_likely_typo_asks_first_then_sends_as_typed(dialogue: Dialogue) -> None:
    graded(dialogue)
    asked = said(dialogue.receive("email ada@gmial.com"))
    assert "Did you mean ada@gmail.com?" in asked
    again = dialogue.receive("email ada@gmial.com")
    assert isinstance(again, SendEmail)
    assert again.student.email == "ada@gmial.com"


def test_a_refused_send_says_the_webs_words(dialogue: Dialogue) -> None:
    graded(dialogue)
    words = "These results have already been emailed 3 times."
    text = said(dialogue.email_refused(SendRefused("Too many emails for these results", words, 5)))
    assert text == wrapped(f"Too many emails for these results. {words}") + "\n"


def test_status_and_transcript_before_any_email(dialogue: Dialogue) -> None:
    graded(dialogue)
    assert "No results email" in said(dialogue.receive("status"))
    assert "No results email" in said(dialogue.receive("transcript"))
    assert not isinstance(dialogue.receive("status"), CheckEmail)


def test_again_lists_the_quizzes_and_a_new_attempt_begins(dialogue: Dialogue) -> None:
    graded(dialogue)
    first = dialogue.result
    assert "Quizzes:" in said(dialogue.receive("again"))
    open_quiz(dialogue, "A timed quiz")
    assert dialogue.taking is not None
    assert first is not None
    assert dialogue.taking.attempt.id != first.attempt.id


def test_a_quiz_that_keeps_its_answers_back_shows_only_what_was_chosen(
    tmp_path: Path, clock: Clock
) -> None:
    secret = TIMED_QUIZ.replace("time_limit: 10m", "review: never")
    catalog = QuizCatalog(questions_dir(tmp_path, secret=secret))
    talk = Dialogue(catalog.quizzes, AttemptMaker("a secret key"), clock)
    talk.start()
    talk.receive("1")
    talk.receive("a")
    talk.receive("b")
    text = said(talk.receive("submit"))
    assert "Score:  1 of 2 points (50%)" in text
    assert "does not show the correct answers" in text
    assert "Your answer:    b) no" in text
    assert "Correct answer" not in text
    assert "Incorrect" not in text
