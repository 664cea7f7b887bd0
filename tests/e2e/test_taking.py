"""Taking a quiz in Chromium, 1280 and 390 pixels wide: Enter never submits, the dialog and the
summary step, the counter after Back, the timer, a late submission, and axe on every page.

The web app runs in this process on a real port, with its own quizzes and VAR_DIR, so that a test
can move the server's clock (``submissions.utcnow``) past a deadline instead of waiting for it;
the page's clock is Playwright's, fast-forwarded the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import test_email_pages
import yaml
from journeys import read_score, tab_to
from playwright.sync_api import Locator, Page, expect
from quiz_taking import ServerClock
from running_product import HOST, free_port
from test_email_pages import SizedPage, assert_no_axe_violations

from app import create_app
from app.quiz.attempts import LATE_WITH_SAVED
from app.serve import WebServer
from app.web import submissions
from app.web.quiz import ALREADY_SUBMITTED, ledger

pytestmark = pytest.mark.e2e

TIMEZONE = "Asia/Kolkata"  # UTC+5:30: a deadline shown in UTC would be hours off
LOCALE = "en-GB"  # 24-hour times, so the test knows how the page writes one
SAVED = re.compile(r"^Saved \d{1,2}:\d\d")  # a time, as the browser writes one
#: Pages 1280 and 390 pixels wide, with or without JavaScript, as for the email pages.
sized_page = test_email_pages.sized_page

PORT: dict[str, Any] = {
    "id": "port",
    "text": "On which TCP port does an SMTP relay listen for mail from other servers?",
    "options": [
        {"text": "25", "correct": True},
        {"text": "110", "feedback": "That is POP3 (RFC 1939)."},
        {"text": "143", "feedback": "That is IMAP (RFC 9051)."},
    ],
}
HEADERS: dict[str, Any] = {
    "id": "headers",
    "type": "multiple",
    "text": "Which header fields does RFC 5322 require in every message?",
    "options": [
        {"text": "`Date:`", "correct": True},
        {"text": "`From:`", "correct": True},
        {"text": "`Subject:`"},
        {"text": "`To:`"},
    ],
}
#: A code block whose line is far wider than a phone.
TRACE: dict[str, Any] = {
    "id": "trace",
    "text": (
        "Which server added this header field?\n\n```\nReceived: from mail.example.org"
        " (mail.example.org [192.0.2.25]) by mx.example.net with ESMTPS id 4F2A1B3C"
        " for <ada@example.net>; Wed, 2 Dec 2026 10:00:00 +0000\n```\n"
    ),
    "options": [
        {"text": "`mx.example.net`", "correct": True},
        {"text": "`mail.example.org`", "feedback": "That is the host it came *from*."},
    ],
}
EIGHT_BIT: dict[str, Any] = {
    "id": "eight-bit",
    "type": "true_false",
    "text": "An SMTP server must accept 8-bit message bodies even without the 8BITMIME extension.",
    "answer": False,
}
NO_SHUFFLE = {"questions": False, "options": False}
QUIZZES: dict[str, dict[str, Any]] = {
    "practice": {
        "title": "Mail basics",
        "description": "Four questions, no time limit.",
        "shuffle": NO_SHUFFLE,
        "scoring": "all-or-nothing",
        "questions": [PORT, HEADERS, TRACE, EIGHT_BIT],
    },
    "sprint": {
        "title": "Mail sprint",
        "time_limit": "70s",
        "questions": [PORT, EIGHT_BIT, HEADERS, TRACE],
    },
    "exam": {
        "title": "Mail exam",
        "time_limit": "10m",
        "shuffle": NO_SHUFFLE,
        "scoring": "all-or-nothing",
        "questions": [PORT, HEADERS, EIGHT_BIT],
    },
}


@dataclass
class QuizSite:
    """The web app on a real port, serving QUIZZES from its own questions directory."""

    root: Path
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        questions = self.root / "questions"
        questions.mkdir(parents=True)
        for quiz_id, quiz in QUIZZES.items():
            (questions / f"{quiz_id}.yaml").write_text(yaml.safe_dump(quiz, sort_keys=False))
        config = {"QUESTIONS_DIR": str(questions), "VAR_DIR": str(self.root / "var")}
        self.app = create_app(config)
        self.web = WebServer(self.app, HOST, self.port)

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def graded(self, page: Page) -> bool:
        """Whether the server has graded the attempt of the quiz form on *page*."""
        token = page.locator(".quiz-form input[name=attempt]").get_attribute("value")
        assert token is not None
        with self.app.app_context():
            _, attempt = submissions.load_attempt(token)
            return ledger().graded(attempt.id) is not None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuizSite]:
    running = QuizSite(tmp_path_factory.mktemp("taking"))
    running.web.start()
    yield running
    running.web.stop()


# --- steps ---------------------------------------------------------------------------------------


def open_quiz(page: Page, site: QuizSite, quiz_id: str) -> Page:
    page.goto(site.url(f"/quiz/{quiz_id}"))
    expect(page.get_by_role("heading", level=1)).to_have_text(QUIZZES[quiz_id]["title"])
    return page


def question(page: Page, number: int) -> Locator:
    return page.locator("fieldset.question").nth(number - 1)


def tick(page: Page, number: int, *options: str) -> None:
    """Tick the options of question *number* named by their text, as a click would."""
    for text in options:
        question(page, number).get_by_label(text, exact=True).check()


def ticked(page: Page, number: int) -> list[str]:
    """The texts of the ticked options of question *number*."""
    texts: list[str] = (
        question(page, number)
        .locator("label.option:has(input:checked) .option-text")
        .all_inner_texts()
    )
    return texts


def answered_count(page: Page) -> int:
    """Questions with an option ticked, as the form stands."""
    count: int = page.locator("fieldset.question:has(input:checked)").count()
    return count


def counter(page: Page) -> Locator:
    return page.locator("[data-progress] [role=status]")


def confirm_dialog(page: Page) -> Locator:
    return page.get_by_role("dialog", name="Submit your answers?")


def expect_listed(dialog: Locator, *numbers: int) -> None:
    """The dialog lists exactly questions *numbers* (of four) as unanswered, in that order."""
    listed = [re.compile(f"^Question {number}: ") for number in numbers]
    expect(dialog.locator("[data-confirm-unanswered] li a")).to_have_text(listed)


def expect_results(page: Page, quiz_id: str) -> None:
    title = QUIZZES[quiz_id]["title"]
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{title}: your results")


def review(page: Page, number: int) -> Locator:
    return page.locator("section.review").nth(number - 1)


def chosen_in_review(page: Page, number: int) -> list[str]:
    texts: list[str] = review(page, number).locator("li.chosen .option-text").all_inner_texts()
    return texts


def submit_and_confirm(page: Page, quiz_id: str) -> None:
    page.get_by_role("button", name="Submit answers").click()
    confirm_dialog(page).get_by_role("button", name="Submit and see my results").click()
    expect_results(page, quiz_id)


def assert_fits_the_width(page: Page) -> None:
    """Nothing makes the document scroll sideways."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url}: {widths[0]} px wide in a {widths[1]} px window"


def assert_accessible(page: Page, axe_source: str) -> None:
    assert_no_axe_violations(page, axe_source)
    assert_fits_the_width(page)


# --- the tests -----------------------------------------------------------------------------------


def test_enter_in_a_radio_button_or_a_checkbox_does_not_submit(
    sized_page: SizedPage, site: QuizSite
) -> None:
    page = open_quiz(sized_page(), site, "practice")
    url = page.url
    tick(page, 1, "25")
    tick(page, 2, "Date:")
    for number, option in ((1, "25"), (2, "Date:")):
        question(page, number).get_by_label(option, exact=True).focus()
        page.keyboard.press("Enter")
        expect(confirm_dialog(page)).to_be_hidden()
        expect(page.get_by_role("button", name="Submit answers")).to_be_visible()
        assert page.url == url
        expect(counter(page)).to_have_text("2 of 4 answered")
    assert not site.graded(page)


def test_the_dialog_lists_what_is_unanswered_and_leads_to_it_by_keyboard(
    sized_page: SizedPage, site: QuizSite
) -> None:
    page = open_quiz(sized_page(), site, "practice")
    tick(page, 1, "25")
    tick(page, 3, "mx.example.net")
    expect(counter(page)).to_have_text("2 of 4 answered")
    expect(question(page, 2).locator(".hint")).to_contain_text("there is no partial credit")
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    dialog = confirm_dialog(page)
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("You have answered 2 of 4.")
    expect_listed(dialog, 2, 4)
    expect(dialog.get_by_role("button", name="Submit and see my results")).to_be_focused()
    page.keyboard.press("Shift+Tab")  # back from the first button: the last question listed
    expect(dialog.get_by_role("link", name=re.compile("^Question 4: "))).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    fourth = question(page, 4)
    expect(page).to_have_url(re.compile(f"#{fourth.get_attribute('id')}$"))
    assert_in_view_below_the_bar(page, fourth.locator("legend"))
    page.keyboard.press("Tab")  # on from the question the link led to
    expect(fourth.get_by_label("True")).to_be_focused()
    page.keyboard.press("Space")
    expect(counter(page)).to_have_text("3 of 4 answered")

    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect_listed(dialog, 2)
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Keep answering")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    assert not site.graded(page)

    submit_and_confirm(page, "practice")
    assert read_score(page) == ("2 / 4", "50%")
    expect(review(page, 2).locator(".badge")).to_have_text("Not answered")
    expect(review(page, 2).locator(".hint")).to_contain_text("no partial credit")


def assert_in_view_below_the_bar(page: Page, target: Locator) -> None:
    """*target* is in the viewport and not hidden under the sticky progress bar."""
    expect(target).to_be_in_viewport()
    box, bar = target.bounding_box(), page.locator("[data-progress]").bounding_box()
    assert box is not None
    assert bar is not None
    assert box["y"] >= bar["y"] + bar["height"], f"{box} is under the progress bar {bar}"


def test_without_javascript_submit_leads_to_the_summary_and_back_keeps_the_answers(
    sized_page: SizedPage, site: QuizSite
) -> None:
    page = open_quiz(sized_page(javascript=False), site, "practice")
    token = page.locator("input[name=attempt]").get_attribute("value")
    tick(page, 1, "110")
    tick(page, 2, "Date:", "From:")
    question(page, 1).get_by_label("110", exact=True).press("Enter")  # implicit submission
    expect(page.get_by_role("heading", level=1)).to_have_text("Submit your answers?")
    summary = page.locator(".summary")
    expect(summary).to_contain_text("You have answered 2 of 4 questions.")
    items = summary.locator("ul.unanswered li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("Question 3: Which server added this header field?")
    expect(items.nth(1)).to_contain_text("Question 4: An SMTP server must accept 8-bit")

    page.get_by_role("button", name="Back to the questions").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mail basics")
    expect(page.locator("input[name=attempt]")).to_have_value(token or "")
    assert [ticked(page, n) for n in (1, 2, 3, 4)] == [["110"], ["Date:", "From:"], [], []]
    tick(page, 4, "False")
    page.get_by_role("button", name="Submit answers").click()
    expect(page.locator(".summary ul.unanswered li")).to_have_count(1)
    page.get_by_role("button", name="Submit and see my results").click()
    expect_results(page, "practice")
    assert read_score(page) == ("2 / 4", "50%")
    assert chosen_in_review(page, 1) == ["110"]
    assert chosen_in_review(page, 2) == ["Date:", "From:"]


def test_back_after_the_results_counts_what_is_ticked_and_changes_no_grade(
    sized_page: SizedPage, site: QuizSite
) -> None:
    page = open_quiz(sized_page(), site, "practice")
    tick(page, 1, "25")
    tick(page, 2, "Date:", "From:")
    tick(page, 4, "True")
    expect(counter(page)).to_have_text("3 of 4 answered")
    submit_and_confirm(page, "practice")
    first_score = read_score(page)
    assert first_score == ("2 / 4", "50%")

    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mail basics")
    expect(counter(page)).to_have_text(f"{answered_count(page)} of 4 answered")
    tick(page, 3, "mx.example.net")
    tick(page, 4, "False")
    expect(page.locator("[data-save-state]")).to_have_text("This attempt was already submitted.")
    submit_and_confirm(page, "practice")
    expect(page.locator(".score .note")).to_have_text(ALREADY_SUBMITTED)
    assert read_score(page) == first_score
    assert chosen_in_review(page, 3) == []


def test_the_timer_warns_at_one_minute_and_submits_at_zero(
    sized_page: SizedPage, site: QuizSite, server_clock: ServerClock
) -> None:
    page = sized_page()
    in_time_zone(page, TIMEZONE, LOCALE)
    page.clock.install()
    open_quiz(page, site, "sprint")
    timer = page.locator("[data-progress] [data-timer]")
    expect(timer).to_have_text(re.compile(r"^1:\d\d left$"))
    deadline = page.locator("[data-deadline]")
    local = datetime.fromisoformat(deadline.get_attribute("datetime") or "")
    expect(deadline).to_have_text(local.astimezone(ZoneInfo(TIMEZONE)).strftime("%H:%M:%S"))
    answer = next(o["text"] for o in PORT["options"] if not o.get("correct"))
    tick(page, 1, answer)
    page.get_by_role("button", name="Submit answers").scroll_into_view_if_needed()
    assert page.evaluate("window.scrollY") > 0
    expect(timer).to_be_in_viewport()  # the bar stays at the top of the window

    expect(timer).not_to_have_class(re.compile("timer-warning"))
    page.clock.fast_forward("00:15")
    expect(timer).to_have_class(re.compile("timer-warning"))
    expect(page.locator("[data-alert]")).to_have_text(re.compile("^One minute left"))

    server_clock.advance(seconds=70 + 10)  # past the limit, within the grace for the trip
    page.clock.fast_forward("01:00")
    expect_results(page, "sprint")
    expect(page.locator(".score .note")).to_have_count(0)
    assert chosen_in_review(page, 1) == [answer]
    expect(review(page, 2).locator(".badge")).to_have_text("Not answered")


def in_time_zone(page: Page, timezone: str, locale: str) -> None:
    """The page's clock and time format as a student's in *timezone* who reads *locale*."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("Emulation.setTimezoneOverride", {"timezoneId": timezone})
    devtools.send("Emulation.setLocaleOverride", {"locale": locale})


def test_past_the_grace_the_answers_saved_in_time_are_graded(
    sized_page: SizedPage, site: QuizSite, server_clock: ServerClock
) -> None:
    page = open_quiz(sized_page(), site, "exam")
    save_state = page.locator("[data-save-state]")
    tick(page, 1, "25")
    tick(page, 2, "Date:", "From:")
    expect(save_state).to_have_text(SAVED)

    server_clock.advance(minutes=10, seconds=31)  # the grace is 30 s
    tick(page, 1, "110")
    tick(page, 3, "True")
    expect(save_state).to_have_text("Not saved: time is up.")
    submit_and_confirm(page, "exam")
    expect(page.locator(".score .note")).to_have_text(LATE_WITH_SAVED)
    assert read_score(page) == ("2 / 3", "67%")
    assert chosen_in_review(page, 1) == ["25"]
    assert chosen_in_review(page, 2) == ["Date:", "From:"]
    expect(review(page, 3).locator(".badge")).to_have_text("Not answered")


def test_no_accessibility_violations_from_the_questions_to_the_review(
    sized_page: SizedPage, site: QuizSite, axe_source: str
) -> None:
    page = open_quiz(sized_page(), site, "sprint")
    assert_accessible(page, axe_source)

    open_quiz(page, site, "practice")
    tick(page, 1, "110")
    tick(page, 2, "Date:")
    assert_accessible(page, axe_source)
    page.get_by_role("button", name="Submit answers").click()
    expect(confirm_dialog(page)).to_be_visible()
    assert_accessible(page, axe_source)
    page.keyboard.press("Escape")
    expect(confirm_dialog(page)).to_be_hidden()

    page.locator(".quiz-form").evaluate("form => form.submit()")  # as without JavaScript
    expect(page.get_by_role("heading", level=1)).to_have_text("Submit your answers?")
    assert_accessible(page, axe_source)
    page.get_by_role("button", name="Submit and see my results").click()
    expect_results(page, "practice")
    assert_accessible(page, axe_source)
