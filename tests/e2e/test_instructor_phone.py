"""The instructor's pages at 1280 and 390 px wide: nothing scrolls sideways but a table's own box,
the message's parts are tabs (and plain sections without JavaScript), deleting asks first.

A demo of its own, whose questions directory holds one broken quiz file beside the shipped ones,
so that the Status page has something to report; one student's visit fills the mailbox.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from journeys import EmailedResults, Student, log_in, open_message, take_quiz_and_email_results
from playwright.sync_api import Browser, Page, StorageState, expect
from running_product import RunningProduct
from test_accessibility import serious_violations
from test_instructor import send_plain_mail

from app.config import PROJECT_ROOT

pytestmark = pytest.mark.e2e

PAGE_TIMEOUT_MS = 10_000  # as in conftest.py: a loaded 2-core machine needs seconds
WIDTHS = {"desktop": 1280, "phone": 390}  # 390: a current iPhone's CSS width
HEIGHT = 844
STUDENT = Student(name="Grace Hopper", email="grace.hopper@students.example")
BROKEN_QUIZ = "title: Broken\nquestions:\n  - id: q1\n    text: No options at all?\n"
PART_TABS = ["Text", "HTML", "Headers", "Raw", "Attachments (2)"]
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProduct]:
    root = tmp_path_factory.mktemp("phone")
    questions = root / "questions"
    shutil.copytree(Path(PROJECT_ROOT) / "questions", questions)
    (questions / "broken.yaml").write_text(BROKEN_QUIZ)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("QUIZMAIL_QUESTIONS_DIR", str(questions))
        running = RunningProduct(root / "var").start()
    yield running
    assert running.stop() == 0, f"quizmail demo did not exit 0 on Ctrl-C:\n{running.output()}"


@pytest.fixture(scope="module")
def visit(site: RunningProduct, browser: Browser) -> EmailedResults:
    context = browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    seen = take_quiz_and_email_results(context.new_page(), site.base_url, STUDENT)
    context.close()
    return seen


@pytest.fixture(scope="module")
def login_state(site: RunningProduct, browser: Browser, visit: EmailedResults) -> StorageState:
    context = browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    log_in(context.new_page(), site.base_url, site.password)
    state = context.storage_state()
    context.close()
    return state


def instructor_page(browser: Browser, state: StorageState, width: int, *, js: bool = True) -> Page:
    context = browser.new_context(
        viewport={"width": width, "height": HEIGHT}, storage_state=state, java_script_enabled=js
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    return context.new_page()


@pytest.fixture(params=list(WIDTHS.values()), ids=list(WIDTHS))
def width(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def instructor(browser: Browser, login_state: StorageState, width: int) -> Iterator[Page]:
    page = instructor_page(browser, login_state, width)
    yield page
    page.context.close()


def go_to(page: Page, site: RunningProduct, name: str, seen: EmailedResults) -> None:
    if name == "message":
        open_message(page, site.base_url, seen.subject, seen.student.email)
    elif name == "delete":
        open_message(page, site.base_url, seen.subject, seen.student.email)
        page.get_by_role("link", name="Delete this message…").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Delete this message?")
    else:
        page.goto(f"{site.base_url}/instructor/{name}")
        expect(page.get_by_role("heading", level=1)).to_have_text(name.capitalize())
    page.wait_for_load_state("load")  # its stylesheets and scripts too, as a person sees it


def selected_tab(page: Page) -> str:
    return page.get_by_role("tab", selected=True).inner_text()


@pytest.mark.parametrize("name", ["mailbox", "message", "gradebook", "status", "delete"])
def test_pages_fit_the_width_and_pass_axe(
    instructor: Page, site: RunningProduct, visit: EmailedResults, axe_source: str, name: str
) -> None:
    go_to(instructor, site, name, visit)
    assert instructor.evaluate(NO_SIDEWAYS_SCROLL), f"{name} scrolls sideways"
    found = serious_violations(instructor, axe_source)
    assert found == [], f"{instructor.url}:\n{json.dumps(found, indent=2)}"


def test_the_navigation_stays_on_one_line(
    instructor: Page, site: RunningProduct, visit: EmailedResults
) -> None:
    go_to(instructor, site, "mailbox", visit)
    nav = instructor.get_by_role("navigation", name="Site")
    items = [nav.get_by_role("link", name="Mailbox"), nav.get_by_role("link", name="Gradebook")]
    items += [nav.get_by_role("link", name="Status"), nav.get_by_role("button", name="Log out")]
    tops = {round(box["y"]) for box in (item.bounding_box() for item in items) if box}
    assert len(tops) == 1, f"the links sit on {len(tops)} lines: {sorted(tops)}"


def test_the_status_page_lists_the_broken_quiz_file(
    instructor: Page, site: RunningProduct, visit: EmailedResults
) -> None:
    go_to(instructor, site, "status", visit)
    problems = instructor.locator("ul.problems li")
    expect(problems.first).to_contain_text("broken.yaml:")
    needs = "needs" if problems.count() == 1 else "need"
    nav_count = f"{problems.count()} {needs} attention"  # the number, and words for a reader
    expect(instructor.locator(".nav-count")).to_have_text(nav_count)
    expect(instructor.get_by_text("The outbox is empty")).to_be_visible()  # the demo delivered


def test_a_wide_table_scrolls_in_its_box_by_keyboard(
    browser: Browser, login_state: StorageState, site: RunningProduct, visit: EmailedResults
) -> None:
    page = instructor_page(browser, login_state, WIDTHS["phone"])
    go_to(page, site, "mailbox", visit)
    box = page.get_by_role("region", name="Captured messages, newest first — page 1 of 1")
    assert box.evaluate("b => b.scrollWidth > b.clientWidth"), "the table fits: nothing to scroll"
    box.focus()
    page.keyboard.press("ArrowRight")  # what a keyboard user presses in a scrolling box
    page.wait_for_function("b => b.scrollLeft > 0", arg=box.element_handle())  # may be smooth
    page.context.close()


def test_the_message_parts_are_tabs_driven_by_the_arrow_keys(
    instructor: Page, site: RunningProduct, visit: EmailedResults
) -> None:
    go_to(instructor, site, "message", visit)
    tabs = instructor.get_by_role("tablist").get_by_role("tab")
    expect(tabs).to_have_text(PART_TABS)
    assert selected_tab(instructor) == "Text"
    expect(instructor.locator("#part-text")).to_be_visible()
    expect(instructor.locator("#part-html")).to_be_hidden()
    tabs.first.focus()
    for key, shown in [("ArrowRight", "HTML"), ("End", "Attachments (2)"), ("ArrowRight", "Text")]:
        instructor.keyboard.press(key)
        expect(instructor.get_by_role("tab", name=shown)).to_be_focused()
        assert selected_tab(instructor) == shown
    instructor.keyboard.press("ArrowLeft")
    panel = instructor.get_by_role("tabpanel")
    expect(panel).to_have_count(1)  # the others are hidden, so out of the accessibility tree
    expect(panel.get_by_role("link", name="results.json")).to_be_visible()
    instructor.get_by_role("tab", name="Headers").click()
    expect(panel.locator("table.headers")).to_be_visible()
    expect(instructor.locator("#part-attachments")).to_be_hidden()


def test_without_javascript_every_part_follows_the_other(
    browser: Browser, login_state: StorageState, site: RunningProduct, visit: EmailedResults
) -> None:
    page = instructor_page(browser, login_state, WIDTHS["phone"], js=False)
    go_to(page, site, "message", visit)
    expect(page.get_by_role("tab")).to_have_count(0)
    for key in ("text", "html", "headers", "raw", "attachments"):
        expect(page.locator(f"#part-{key}")).to_be_visible()
    page.get_by_role("link", name="Raw", exact=True).click()
    assert page.url.endswith("#part-raw")
    expect(page.locator("#part-raw pre")).to_contain_text(f"Message-ID: {visit.message_id}")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.context.close()


def test_deleting_a_results_email_names_its_gradebook_row_and_can_be_cancelled(
    instructor: Page, site: RunningProduct, visit: EmailedResults
) -> None:
    go_to(instructor, site, "delete", visit)
    warning = instructor.locator(".gradebook-warning")
    expect(warning).to_contain_text(f"{STUDENT.name}’s gradebook row for SMTP and Internet mail")
    instructor.get_by_role("link", name="Cancel").click()
    expect(instructor.get_by_role("heading", level=1)).to_have_text(visit.subject)


def test_deleting_a_message_asks_first(
    instructor: Page, site: RunningProduct, visit: EmailedResults
) -> None:
    subject = f"Late homework {uuid.uuid4().hex[:8]}"
    send_plain_mail(site, subject)
    open_message(instructor, site.base_url, subject, "teacher@school.example")
    instructor.get_by_role("link", name="Delete this message…").click()
    expect(instructor.get_by_role("heading", level=1)).to_have_text("Delete this message?")
    expect(instructor.locator(".gradebook-warning")).to_have_count(0)
    instructor.get_by_role("button", name="Delete the message").click()
    expect(instructor.get_by_role("status").first).to_have_text("The message has been deleted.")
    expect(instructor.get_by_role("link", name=subject, exact=True)).to_have_count(0)
