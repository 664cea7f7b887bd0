"""Regenerate the screenshots in docs/: ``python tests/e2e/screenshots.py``.

Starts `quizmail demo` and Chromium exactly as the browser tests do, lets three students take the
SMTP quiz and email their results, then photographs each main page:
docs/screenshot-{quiz,results,email-sent,mailbox,message,gradebook}.png.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from journeys import Student, gradebook_row, log_in, open_message, take_quiz_and_email_results
from playwright.sync_api import Page, sync_playwright
from running_product import RunningProduct, chromium_missing_reason, launch_chromium

DOCS = Path(__file__).resolve().parents[2] / "docs"
WIDTH = 1100  # as docs/screenshot-quiz.png has always been
MAX_HEIGHT = 1400  # a long page is cut here: the README shows its top
STUDENTS = [
    Student(name="Grace Hopper", email="grace.hopper@students.example", wrong_every=5),
    Student(name="Alan Turing", email="alan.turing@students.example", wrong_every=3),
    Student(name="Ada Lovelace", email="ada.lovelace@students.example", wrong_every=4),
]
STUDENT_PAGES = {"quiz", "results", "email-sent"}


def snap(page: Page, name: str) -> None:
    """docs/screenshot-<name>.png: the top of the page, without focus rings or scrolling."""
    page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    clip = {"x": 0, "y": 0, "width": WIDTH, "height": min(height, MAX_HEIGHT)}
    path = DOCS / f"screenshot-{name}.png"
    page.screenshot(path=path, full_page=True, clip=clip, animations="disabled")
    print(f"wrote {path.relative_to(DOCS.parent)}")


def snap_student_pages(page: Page, name: str) -> None:
    if name in STUDENT_PAGES:
        snap(page, name)


def take_screenshots(product: RunningProduct, page: Page) -> None:
    *others, last = STUDENTS
    for student in others:
        take_quiz_and_email_results(page, product.base_url, student)
    seen = take_quiz_and_email_results(page, product.base_url, last, snap_student_pages)
    log_in(page, product.base_url, product.password)
    snap(page, "mailbox")
    open_message(page, product.base_url, seen.subject, last.email)
    snap(page, "message")
    gradebook_row(page, product.base_url, last.email)
    snap(page, "gradebook")


def main() -> int:
    reason = chromium_missing_reason()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        product = RunningProduct(Path(tmp) / "var").start()
        try:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": WIDTH, "height": 800})
            take_screenshots(product, page)
            browser.close()
        finally:
            status = product.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
