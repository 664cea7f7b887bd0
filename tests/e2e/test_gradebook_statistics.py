"""The gradebook's item analysis in Chromium: two students' results emailed through the running
product, then the statistics, the two SVG pictures and their tables, checked by axe-core."""

from __future__ import annotations

import json
import re

import pytest
from journeys import EmailedResults, Student, take_quiz_and_email_results
from playwright.sync_api import Page, expect
from running_product import NewPage, RunningProduct
from test_accessibility import serious_violations

pytestmark = pytest.mark.e2e

SECOND = Student(name="Grace Hopper", email="grace.hopper@students.example", wrong_every=3)


@pytest.fixture
def two_attempts(
    new_page: NewPage,
    product: RunningProduct,
    emailed_results: EmailedResults,
    student_visits: dict[Student, EmailedResults],
) -> None:
    if SECOND not in student_visits:
        student_visits[SECOND] = take_quiz_and_email_results(new_page(), product.base_url, SECOND)


def test_statistics_pictures_and_tables(
    instructor: Page, product: RunningProduct, two_attempts: None, axe_source: str
) -> None:
    page = instructor
    page.goto(product.base_url + "/instructor/gradebook")
    expect(page.get_by_role("heading", name="Item analysis")).to_be_visible()
    histogram = page.get_by_role("img", name="Histogram of scores, 2 attempts")
    expect(histogram).to_be_visible()
    expect(page.get_by_role("img", name="Facility against discrimination")).to_be_visible()
    test_table = page.get_by_role("table", name="Test statistics")
    attempts = test_table.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name="Attempts")
    )
    expect(attempts.get_by_role("cell").first).to_have_text("2")
    page.get_by_text("The histogram as a table").click()
    expect(page.get_by_role("table", name="Attempts per score band")).to_be_visible()
    found = serious_violations(page, axe_source)
    assert found == [], json.dumps(found, indent=2)


def test_every_attempt_by_keyboard_without_script(
    instructor: Page, product: RunningProduct, two_attempts: None
) -> None:
    page = instructor
    page.goto(product.base_url + "/instructor/gradebook")
    page.get_by_label("Every attempt").check()
    page.get_by_role("button", name="Show statistics").press("Enter")
    expect(page).to_have_url(re.compile(r"attempts=all"))
    expect(page.get_by_text("every attempt").first).to_be_visible()
