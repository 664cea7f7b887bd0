import csv
import io
import re

import pytest
from flask.testing import FlaskClient

from app.mailstore import MailStore

from .helpers import build_message, results_email, results_payload


@pytest.fixture
def captured(store: MailStore) -> MailStore:
    """Results emails as the capture server stores them, plus mail that is not results."""
    ada_first = results_payload(attempt_id="a1", points=4, submitted_at="2026-11-23T09:00:00Z")
    ada_second = results_payload(attempt_id="a2", points=9, submitted_at="2026-11-23T10:00:00Z")
    bob = results_payload(
        student="bob@example.org",
        name="=cmd|' /C calc'!A0",
        attempt_id="b1",
        points=6,
        submitted_at="2026-11-23T10:30:00Z",
    )
    mime = results_payload(attempt_id="m1", quiz="mime", points=10, correct=(True, True))
    for payload in (ada_first, ada_second, mime):
        store.deliver([payload["student"]["email"]], results_email(payload))
    # Student + Cc instructor: one SMTP transaction, two mailboxes, one results email.
    store.deliver(["bob@example.org", "teacher@example.org"], results_email(bob))
    store.deliver(["ada@example.org"], build_message(subject="Not a results email"))
    broken = build_message(attachments=(("results.json", "application/json", b"{broken"),))
    store.deliver(["ada@example.org"], broken)
    return store


def attempt_order(page: str) -> list[tuple[str, str]]:
    """(student email, score) per gradebook row, in order."""
    return re.findall(
        r'<span class="muted">([^<]+)</span></td>\s*<td>[^<]*</td>\s*<td>([^<]+)</td>', page
    )


def test_one_row_per_results_email(instructor: FlaskClient, captured: MailStore) -> None:
    page = instructor.get("/instructor/gradebook").get_data(as_text=True)
    rows = attempt_order(page)
    assert sorted(rows) == [
        ("ada@example.org", "10 / 10"),
        ("ada@example.org", "4 / 10"),
        ("ada@example.org", "9 / 10"),
        ("bob@example.org", "6 / 10"),
    ]
    assert "Not a results email" not in page


def test_latest_attempt_per_student_and_quiz_is_marked(
    instructor: FlaskClient, captured: MailStore
) -> None:
    page = instructor.get("/instructor/gradebook?sort=score&order=asc").get_data(as_text=True)
    rows = re.findall(r"<tr( class=\"latest\")?>\s*<td>.*?</tr>", page, re.S)
    assert rows == [' class="latest"' if latest else "" for latest in (False, True, True, True)]


@pytest.mark.parametrize(
    ("query", "scores", "sorted_column"),
    [
        ("sort=score&order=asc", ["4 / 10", "6 / 10", "9 / 10", "10 / 10"], "Score"),
        ("sort=score&order=desc", ["10 / 10", "9 / 10", "6 / 10", "4 / 10"], "Score"),
        ("sort=quiz&order=asc", ["10 / 10", "4 / 10", "9 / 10", "6 / 10"], "Quiz"),
    ],
)
def test_sortable_by_query_parameter(
    instructor: FlaskClient, captured: MailStore, query: str, scores: list[str], sorted_column: str
) -> None:
    page = instructor.get(f"/instructor/gradebook?{query}").get_data(as_text=True)
    assert [score for _, score in attempt_order(page)] == scores
    direction = "descending" if "desc" in query else "ascending"
    heading = re.search(rf'<th scope="col" aria-sort="{direction}">\s*<a[^>]*>(\w+)', page)
    assert heading is not None
    assert heading.group(1) == sorted_column
    assert page.count("aria-sort=") == 1


def test_filter_by_quiz(instructor: FlaskClient, captured: MailStore) -> None:
    page = instructor.get("/instructor/gradebook?quiz=mime").get_data(as_text=True)
    assert attempt_order(page) == [("ada@example.org", "10 / 10")]
    assert '<option value="mime" selected>' in page
    assert "/instructor/gradebook.csv?quiz=mime&amp;sort=submitted&amp;order=desc" in page


def test_per_quiz_statistics(instructor: FlaskClient, captured: MailStore) -> None:
    page = instructor.get("/instructor/gradebook?quiz=smtp").get_data(as_text=True)
    assert "<dt>Attempts</dt><dd>3</dd>" in page
    assert "<dt>Mean</dt><dd>63.3 %</dd>" in page
    assert "<dt>Standard deviation</dt><dd>25.2 percentage points</dd>" in page
    assert "<dt>Range</dt><dd>40.0 – 90.0 %</dd>" in page
    assert '<th scope="row">q1</th><td>3</td><td>100 %</td>' in page
    assert '<th scope="row">q2</th><td>3</td><td>0 %</td>' in page


def test_csv_download(instructor: FlaskClient, captured: MailStore) -> None:
    response = instructor.get("/instructor/gradebook.csv?sort=score&order=asc")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "gradebook.csv" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert [row[4] for row in table[1:]] == ["4", "6", "9", "10"]
    bob = table[2]
    assert bob[1] == "'=cmd|' /C calc'!A0"


def test_csv_respects_the_quiz_filter(instructor: FlaskClient, captured: MailStore) -> None:
    response = instructor.get("/instructor/gradebook.csv?quiz=mime")
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert [row[2] for row in table[1:]] == ["mime"]


def test_empty_gradebook(instructor: FlaskClient) -> None:
    page = instructor.get("/instructor/gradebook").get_data(as_text=True)
    assert "No results emails yet." in page
