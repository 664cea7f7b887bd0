"""A student takes a quiz by keyboard, sees the score and emails the results."""

from __future__ import annotations

import pytest
from journeys import Student, take_quiz_and_email_results
from playwright.sync_api import Page
from running_product import RunningProduct

pytestmark = pytest.mark.e2e


def test_quiz_by_keyboard_scores_and_emails_the_results(
    page: Page, product: RunningProduct
) -> None:
    student = Student(name="Grace Hopper", email="grace@students.example")
    seen = take_quiz_and_email_results(page, product.base_url, student)
    assert seen.score_text == f"{seen.score.points:g} / {seen.score.max_points:g}"
    assert seen.percentage_text == f"{100 * seen.score.points / seen.score.max_points:.0f}%"
    assert seen.subject.endswith(
        f"— {seen.score.points:g}/{seen.score.max_points:g} ({seen.percentage_text[:-1]}%)"
    )
