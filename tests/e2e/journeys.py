"""What a student and an instructor do in the browser, step by step, with Playwright's waits.

Each step asserts what a person would see before going on, so a broken page fails at the step
that broke. The tests compose these steps, and so does screenshots.py.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

from app.config import PROJECT_ROOT
from app.quiz import Question, Quiz, load_quiz, render_markdown

QUIZ_ID = "smtp"  # shuffled, a random pick of 10 of 12, single- and multiple-answer questions
MAX_TABS = 20  # Tab presses allowed to reach the next question: links in its text, at most
DELIVERED = "Your results were handed to the mail server"
MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")

Snap = Callable[[Page, str], None]  # takes a picture of a page, by name


@dataclass(frozen=True)
class Student:
    name: str
    email: str
    wrong_every: int = 2  # answers every n-th question wrongly (multiple-answer ones excepted)


@dataclass(frozen=True)
class Score:
    points: float
    max_points: float


@dataclass(frozen=True)
class EmailedResults:
    """What the student saw: the score, the results link and the delivery page."""

    student: Student
    score: Score
    score_text: str  # "7 / 10" as on the results page
    percentage_text: str  # "70%"
    results_url: str
    status_url: str
    subject: str
    message_id: str


def quiz_file(quiz_id: str = QUIZ_ID) -> Quiz:
    """The quiz as the server loads it: the test knows the answers, the browser never does."""
    return load_quiz(Path(PROJECT_ROOT) / "questions" / f"{quiz_id}.yaml")


# --- the student ---------------------------------------------------------------------------------


def open_quiz(page: Page, base_url: str, quiz: Quiz) -> None:
    page.goto(base_url + "/")
    page.get_by_role("link", name=quiz.title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(quiz.title)


def shown_questions(page: Page, quiz: Quiz) -> list[Question]:
    """The questions of this attempt, in the order shown."""
    ids = page.locator("fieldset.question").evaluate_all("sets => sets.map(s => s.id)")
    return [quiz.question(element_id.removeprefix("q-")) for element_id in ids]


def planned_answers(questions: list[Question], wrong_every: int) -> dict[str, set[str]]:
    """A wrong answer to every n-th single-answer question, the right ones to the rest."""
    plan: dict[str, set[str]] = {}
    for number, question in enumerate(questions, start=1):
        wrong = [option.id for option in question.options if not option.correct]
        answer_wrong = number % wrong_every == 0 and question.type != "multiple" and bool(wrong)
        plan[question.id] = {wrong[-1]} if answer_wrong else set(question.correct_ids)
    return plan


def expected_score(questions: list[Question], plan: dict[str, set[str]]) -> Score:
    """Full points for the exact right answer, none for a wrong single answer."""
    earned = sum(q.points for q in questions if plan[q.id] == q.correct_ids)
    return Score(points=earned, max_points=sum(q.points for q in questions))


def tab_to(page: Page, selector: str) -> None:
    """Press Tab until the focused element matches *selector*, as a keyboard user would."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{MAX_TABS} presses of Tab did not reach {selector}")


def option_ids_shown(page: Page, question: Question) -> list[str]:
    """The question's option ids in the order the page shows them, told apart by their text.

    The page's values are opaque keys of the attempt: nothing on it names an option.
    """
    by_text = {_plain_text(render_markdown(option.text)): option.id for option in question.options}
    texts: list[str] = page.locator(f'input[name="answer-{question.id}"]').evaluate_all(
        "inputs => inputs.map(i => i.closest('label').querySelector('.option-text').textContent)"
    )
    return [by_text[_plain_text(text)] for text in texts]


def _plain_text(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


def answer_by_keyboard(page: Page, question: Question, wanted: set[str]) -> None:
    """Tab into the question; Space ticks a checkbox; arrow keys move the choice of a radio."""
    inputs = page.locator(f'input[name="answer-{question.id}"]')
    tab_to(page, f'input[name="answer-{question.id}"]')
    values = option_ids_shown(page, question)
    if question.type == "multiple":
        for position, value in enumerate(values):
            if value in wanted:
                page.keyboard.press("Space")
            if position < len(values) - 1:
                page.keyboard.press("Tab")
    else:
        (choice,) = wanted
        steps = values.index(choice)
        for _ in range(steps):
            page.keyboard.press("ArrowDown")  # moves to the next radio button and selects it
        if steps == 0:
            page.keyboard.press("Space")
    ticks: list[bool] = inputs.evaluate_all("inputs => inputs.map(i => i.checked)")
    checked = {value for value, ticked in zip(values, ticks, strict=True) if ticked}
    assert checked == wanted, f"{question.id}: checked {checked}, meant {sorted(wanted)}"


def answer_quiz_by_keyboard(page: Page, quiz: Quiz, wrong_every: int) -> Score:
    """Answer every question shown by keyboard alone; the score the server should give."""
    questions = shown_questions(page, quiz)
    plan = planned_answers(questions, wrong_every)
    for question in questions:
        answer_by_keyboard(page, question, plan[question.id])
    progress = page.locator("[data-progress] [role=status]")
    expect(progress).to_have_text(f"{len(questions)} of {len(questions)} answered")
    return expected_score(questions, plan)


def submit_answers(page: Page, quiz: Quiz) -> None:
    """Submit and confirm: in the dialog with JavaScript, on the summary page without."""
    page.get_by_role("button", name="Submit answers").click()
    page.get_by_role("button", name="Submit and see my results").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{quiz.title}: your results")


def submit_by_keyboard(page: Page, quiz: Quiz) -> None:
    """Submit, then confirm in the dialog, whose confirming button has the focus."""
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Submit your answers?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Submit and see my results")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{quiz.title}: your results")


def read_score(page: Page) -> tuple[str, str]:
    """The results page's "7 / 10" and "70%"."""
    strong = page.locator(".score-line strong")
    return strong.nth(0).inner_text(), strong.nth(1).inner_text()


def email_results(page: Page, student: Student) -> None:
    page.get_by_label("Email address").fill(student.email)
    page.get_by_label("Name").fill(student.name)
    page.get_by_role("button", name="Email my results").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(DELIVERED)


def delivery_fact(page: Page, term: str) -> str:
    """A fact from the technical details, opened first as a person would."""
    details = page.locator("details.email-details")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return page.locator(f'dl.email-facts dt:text-is("{term}") + dd').inner_text()


def take_quiz_and_email_results(
    page: Page, base_url: str, student: Student, snap: Snap = lambda page, name: None
) -> EmailedResults:
    """The student's whole visit: quiz by keyboard, score, "Email my results", delivered.

    *snap* is called on each page once it is done with ("quiz", "results", "email-sent").
    """
    quiz = quiz_file()
    open_quiz(page, base_url, quiz)
    score = answer_quiz_by_keyboard(page, quiz, student.wrong_every)
    snap(page, "quiz")
    submit_by_keyboard(page, quiz)
    score_text, percentage_text = read_score(page)
    results_url = page.get_by_role("link", name="Link to these results").get_attribute("href")
    assert results_url is not None
    snap(page, "results")
    email_results(page, student)
    snap(page, "email-sent")
    message_id = delivery_fact(page, "Message-ID")
    assert MESSAGE_ID.fullmatch(message_id), message_id
    return EmailedResults(
        student=student,
        score=score,
        score_text=score_text,
        percentage_text=percentage_text,
        results_url=base_url + results_url,
        status_url=page.url,
        subject=delivery_fact(page, "Subject"),
        message_id=message_id,
    )


# --- the instructor ------------------------------------------------------------------------------


def log_in(page: Page, base_url: str, password: str) -> None:
    page.goto(base_url + "/instructor/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Instructor login")
    page.get_by_label("Instructor password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mailbox")


def open_message(page: Page, base_url: str, subject: str, recipient: str) -> None:
    """From the mailbox, the message to *recipient* with this subject."""
    page.goto(base_url + "/instructor/mailbox")
    row = page.locator("table.mailbox tbody tr").filter(has_text=recipient)
    row.get_by_role("link", name=subject, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)


def gradebook_row(page: Page, base_url: str, email: str) -> list[str]:
    """The cells of the gradebook row of the student with this address."""
    page.goto(base_url + "/instructor/gradebook")
    row = page.locator("table.gradebook tbody tr").filter(has_text=email)
    expect(row).to_have_count(1)
    cells: list[str] = row.locator("td").all_inner_texts()
    return cells
