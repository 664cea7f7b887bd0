"""The gradebook's item analysis: its tables, its two SVG pictures and its CSV and JSON files."""

from __future__ import annotations

import csv
import io
import json
import re
from xml.etree import ElementTree

import pytest
from flask.testing import FlaskClient

from app.store import MailStore

from .helpers import results_email, results_payload

MARKS = [(True, True, True), (True, True, False), (True, False, False), (False, False, False)]


@pytest.fixture
def attempts(store: MailStore) -> MailStore:
    """Four students, one attempt each, and a retake by the first."""
    for n, correct in enumerate(MARKS):
        payload = results_payload(
            student=f"s{n}@example.org",
            attempt_id=f"a{n}",
            points=float(sum(correct)),
            max_points=3.0,
            submitted_at=f"2026-11-23T1{n}:00:00Z",
            correct=correct,
        )
        store.deliver([payload["student"]["email"]], results_email(payload))
    retake = results_payload(
        student="s3@example.org",
        attempt_id="again",
        points=3.0,
        max_points=3.0,
        submitted_at="2026-11-23T15:00:00Z",
        correct=(True, True, True),
    )
    store.deliver(["s3@example.org"], results_email(retake))
    return store


def page(instructor: FlaskClient, query: str = "") -> str:
    return instructor.get(f"/instructor/gradebook{query}").get_data(as_text=True)


def row(html: str, label: str) -> str:
    found = re.search(rf"<th scope=\"row\">{re.escape(label)}</th><td>([^<]*)</td>", html)
    assert found, label
    return found.group(1)


def test_test_statistics_of_first_attempts(instructor: FlaskClient, attempts: MailStore) -> None:
    html = page(instructor)
    assert row(html, "Attempts") == "4"  # the retake is not a first attempt
    assert row(html, "Mean") == "50.0 %"
    assert row(html, "Coefficient of internal consistency (α)") == "75.0 %"
    assert "Rule of thumb: Above 75 % satisfactory, below 64 % unsatisfactory." in html
    assert "version 3f2a9c1e" in html


def test_every_attempt_as_a_choice(instructor: FlaskClient, attempts: MailStore) -> None:
    html = page(instructor, "?attempts=all")
    assert row(html, "Attempts") == "5"
    assert '<input type="radio" name="attempts" value="all" checked>' in html


def test_the_pictures_are_accessible_svg_with_tables(
    instructor: FlaskClient, attempts: MailStore
) -> None:
    html = page(instructor)
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 2
    for svg in svgs:
        tree = ElementTree.fromstring(svg.replace('xmlns="http://www.w3.org/2000/svg"', ""))
        assert tree.get("role") == "img"
        labels = tree.get("aria-labelledby").split()
        assert [tree.find(f".//*[@id='{label}']").tag for label in labels] == ["title", "desc"]
    assert "Histogram of scores, 4 attempts" in html
    assert '<caption id="analysis-1-histogram-table">Attempts per score band</caption>' in html
    assert "Facility against discrimination, 3 questions" in html
    assert "<script" not in html.split('id="item-analysis"')[1]


def test_distractor_analysis_on_the_page(instructor: FlaskClient, attempts: MailStore) -> None:
    html = page(instructor)
    assert "Options of question q1" in html
    assert "Who chose each option" in html


def test_statistics_csv(instructor: FlaskClient, attempts: MailStore) -> None:
    response = instructor.get("/instructor/gradebook/statistics.csv?quiz=smtp")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "statistics-smtp-" in response.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    by_name = {(r["question_id"], r["option"], r["statistic"]): r["value"] for r in table}
    assert by_name[("", "", "attempts")] == "4"
    assert by_name[("", "", "mean")] == "50"
    assert by_name[("q1", "", "facility")] == "75"
    assert {r["version"] for r in table} == {"3f2a9c1e"}


def test_statistics_json(instructor: FlaskClient, attempts: MailStore) -> None:
    response = instructor.get("/instructor/gradebook/statistics.json?attempts=all")
    data = json.loads(response.get_data())
    (quiz,) = data["quizzes"]
    assert (quiz["quiz_id"], quiz["which"], quiz["test"]["attempts"]) == ("smtp", "all", 5)
    assert sum(quiz["histogram"]) == 5
    assert data["explanations"]["alpha"]["rule_of_thumb"].startswith("Above 75 %")


def test_a_single_attempt_says_what_needs_two(instructor: FlaskClient, store: MailStore) -> None:
    payload = results_payload()
    store.deliver(["ada@example.org"], results_email(payload))
    html = page(instructor)
    assert row(html, "Standard deviation") == "—"
    assert "needs two or more attempts" in html


def test_versions_are_analysed_apart(instructor: FlaskClient, store: MailStore) -> None:
    for n, version in enumerate(["v1", "v1", "v2"]):
        payload = results_payload(student=f"s{n}@example.org", attempt_id=f"a{n}")
        payload["quiz"]["version"] = version
        payload["submitted_at"] = payload["sent_at"] = f"2026-11-23T1{n}:00:00Z"
        store.deliver([payload["student"]["email"]], results_email(payload))
    html = page(instructor)
    assert "version v1" in html
    assert "version v2" in html
    assert "each version has its own statistics, never mixed" in html
