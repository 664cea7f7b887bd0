"""axe-core finds no serious or critical accessibility problem on any page of the product."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from journeys import EmailedResults, open_message
from playwright.sync_api import Page
from running_product import NewPage, RunningProduct

pytestmark = pytest.mark.e2e

BLOCKING_IMPACTS = {"serious", "critical"}
#: The captured HTML part is the sender's page, not ours, and its sandboxed frame cannot run axe.
RUN_AXE = """async () => {
  const results = await axe.run(document, {iframes: false, resultTypes: ["violations"]});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""

Visit = Callable[[Page, RunningProduct, EmailedResults], None]


def visit_url(path_of: Callable[[EmailedResults], str]) -> Visit:
    def visit(page: Page, product: RunningProduct, seen: EmailedResults) -> None:
        path = path_of(seen)
        page.goto(path if path.startswith("http") else product.base_url + path)

    return visit


def visit_message(page: Page, product: RunningProduct, seen: EmailedResults) -> None:
    open_message(page, product.base_url, seen.subject, seen.student.email)


STUDENT_PAGES: dict[str, Visit] = {
    "quiz list": visit_url(lambda seen: "/"),
    "quiz": visit_url(lambda seen: "/quiz/smtp"),
    "results": visit_url(lambda seen: seen.results_url),
    "email sent": visit_url(lambda seen: seen.status_url),
    "login": visit_url(lambda seen: "/instructor/login"),
}
INSTRUCTOR_PAGES: dict[str, Visit] = {
    "mailbox": visit_url(lambda seen: "/instructor/mailbox"),
    "message": visit_message,
    "gradebook": visit_url(lambda seen: "/instructor/gradebook"),
}


def serious_violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    # The page as its reader gets it: deferred scripts (the message's tabs) have run.
    page.wait_for_load_state("load")
    # Evaluated through the DevTools protocol: the instructor pages' CSP forbids inline scripts.
    page.evaluate(axe_source)
    violations: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return [v for v in violations if v["impact"] in BLOCKING_IMPACTS]


@pytest.fixture(params=[*STUDENT_PAGES, *INSTRUCTOR_PAGES])
def product_page(
    request: pytest.FixtureRequest,
    new_page: NewPage,
    product: RunningProduct,
    emailed_results: EmailedResults,
) -> Page:
    """Each page of the product in turn: the instructor's as the logged-in instructor."""
    name = request.param
    if name in STUDENT_PAGES:
        page, visit = new_page(), STUDENT_PAGES[name]
    else:
        page, visit = request.getfixturevalue("instructor"), INSTRUCTOR_PAGES[name]
    visit(page, product, emailed_results)
    return page


def test_no_serious_accessibility_violations(product_page: Page, axe_source: str) -> None:
    found = serious_violations(product_page, axe_source)
    assert found == [], f"{product_page.url}:\n{json.dumps(found, indent=2)}"
