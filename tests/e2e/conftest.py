"""Browser tests: `quizmail demo` as a real process, driven through Debian's Chromium.

One demo serves the whole session and one browser each test module; every test gets fresh browser
contexts (its own cookies). `emailed_results` is one student's visit, made once, that the
instructor's tests read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from journeys import EmailedResults, Student, log_in, take_quiz_and_email_results
from playwright.sync_api import Browser, Page, StorageState, expect, sync_playwright
from running_product import NewPage, RunningProduct, chromium_missing_reason, launch_chromium

PAGE_TIMEOUT_MS = 10_000  # any one wait for the page; a loaded 2-core machine needs seconds
STUDENT = Student(name="Ada Lovelace", email="ada.lovelace@students.example")

expect.set_options(timeout=PAGE_TIMEOUT_MS)


@pytest.fixture(scope="session", autouse=True)
def _needs_chromium() -> None:
    reason = chromium_missing_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProduct]:
    running = RunningProduct(tmp_path_factory.mktemp("demo") / "var").start()
    yield running
    assert running.stop() == 0, f"quizmail demo did not exit 0 on Ctrl-C:\n{running.output()}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Not for the session: while Playwright's sync API is open, its asyncio loop counts as running
    # in this thread, and the tests after these ones call asyncio.run().
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """Pages in fresh browser contexts (no cookies unless given), closed after the test."""
    contexts = []

    def make(storage_state: StorageState | None = None) -> Page:
        context = browser.new_context(storage_state=storage_state)
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: NewPage) -> Page:
    return new_page()


@pytest.fixture(scope="session")
def instructor_cookies() -> list[StorageState]:
    return []


@pytest.fixture
def instructor(
    new_page: NewPage, product: RunningProduct, instructor_cookies: list[StorageState]
) -> Page:
    """The mailbox page of a logged-in instructor: through the login form once, then by cookie."""
    if not instructor_cookies:
        page = new_page()
        log_in(page, product.base_url, product.password)
        instructor_cookies.append(page.context.storage_state())
        return page
    page = new_page(instructor_cookies[0])
    page.goto(product.base_url + "/instructor/mailbox")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mailbox")
    return page


@pytest.fixture(scope="session")
def student_visits() -> dict[Student, EmailedResults]:
    return {}


@pytest.fixture
def emailed_results(
    new_page: NewPage, product: RunningProduct, student_visits: dict[Student, EmailedResults]
) -> EmailedResults:
    """STUDENT's visit, made once for the session by whichever test needs it first."""
    if STUDENT not in student_visits:
        student_visits[STUDENT] = take_quiz_and_email_results(new_page(), product.base_url, STUDENT)
    return student_visits[STUDENT]


@pytest.fixture(scope="session")
def axe_source() -> str:
    path = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
    if not path.exists():
        pytest.skip(f"{path} is missing: run `npm install --prefix tests/e2e` (or `make test`)")
    return path.read_text()
