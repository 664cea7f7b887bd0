import csv
import io
import re
from datetime import UTC, datetime
from html import unescape
from types import SimpleNamespace

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient

from app.config import PROJECT_ROOT
from app.quiz import load_quiz, render_markdown
from app.store import MailStore

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
        r'<span class="muted">([^<]+)</span></td>\s*<td>[^<]*</td>\s*<td>([^<]+?)\s*<', page
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
    assert '<th scope="row" class="question">q1</th><td>3</td><td>100 %</td>' in page
    assert '<th scope="row" class="question">q2</th><td>3</td><td>0 %</td>' in page


def test_csv_download(instructor: FlaskClient, captured: MailStore) -> None:
    before = datetime.now(UTC).date()
    response = instructor.get("/instructor/gradebook.csv?sort=score&order=asc")
    days = {day.isoformat() for day in (before, datetime.now(UTC).date())}  # midnight between
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition in {f"attachment; filename=gradebook-all-{day}.csv" for day in days}
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


def test_csv_file_name_says_which_quiz(instructor: FlaskClient, captured: MailStore) -> None:
    response = instructor.get("/instructor/gradebook.csv?quiz=mime")
    name = response.headers["Content-Disposition"].removeprefix("attachment; filename=")
    assert re.fullmatch(r"gradebook-mime-\d{4}-\d{2}-\d{2}\.csv", name), name


def test_csv_file_name_keeps_only_safe_characters_of_the_quiz_id(
    instructor: FlaskClient, captured: MailStore
) -> None:
    response = instructor.get('/instructor/gradebook.csv?quiz=../x"; y')
    name = response.headers["Content-Disposition"].removeprefix("attachment; filename=")
    assert re.fullmatch(r"gradebook-x-y-\d{4}-\d{2}-\d{2}\.csv", name), name


def test_statistics_name_questions_by_their_text(instructor: FlaskClient, store: MailStore) -> None:
    """The quiz file words the question; results.json only carries its id."""
    quiz = load_quiz(PROJECT_ROOT / "questions" / "smtp.yaml")
    question = quiz.question("required-headers")  # "… require in **every** message?"
    payload = results_payload(quiz="smtp", correct=(True, False))
    payload["questions"][0]["id"] = question.id  # the second, "q2", is in no quiz file
    store.deliver(["ada@example.org"], results_email(payload))
    page = instructor.get("/instructor/gradebook").get_data(as_text=True)
    assert f'<th scope="row" class="question">{render_markdown(question.text)}</th>' in page
    assert "<strong>every</strong>" in page  # the Markdown rendered, as on the quiz page
    assert '<th scope="row" class="question">q2</th>' in page  # no text known: the id


def test_statistics_of_a_quiz_gone_from_the_catalog_show_ids(
    instructor: FlaskClient, captured: MailStore
) -> None:
    page = instructor.get("/instructor/gradebook?quiz=mime").get_data(as_text=True)
    assert '<th scope="row" class="question">q1</th>' in page


def test_a_filtered_gradebook_links_to_clear_the_filter(
    instructor: FlaskClient, captured: MailStore
) -> None:
    unfiltered = instructor.get("/instructor/gradebook").get_data(as_text=True)
    assert "Clear filter" not in unfiltered
    page = instructor.get("/instructor/gradebook?quiz=mime&sort=score").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" class="clear-filter">Clear filter</a>', page)
    assert link is not None
    assert "quiz=" not in link[1]
    assert "sort=score" in unescape(link[1])


def test_gradebook_tables_scroll_in_their_own_named_box(
    instructor: FlaskClient, captured: MailStore
) -> None:
    page = instructor.get("/instructor/gradebook").get_data(as_text=True)
    boxes = re.findall(
        r'<div class="table-scroll" tabindex="0" role="region" aria-labelledby="([^"]+)">', page
    )
    assert boxes == ["gradebook-caption", "facility-caption-1", "facility-caption-2"]
    for caption in boxes:
        assert f'<caption id="{caption}">' in page


@pytest.mark.parametrize(
    ("shared_with", "badge"),
    [((), False), (None, False), (("bob@example.org", "teacher@example.org"), True)],
)
def test_a_shared_attempt_is_flagged(
    app: Flask, shared_with: tuple[str, ...] | None, badge: bool
) -> None:
    """Rows carry ``shared_with`` (other addresses the same attempt went to) or no such field."""
    fields = {} if shared_with is None else {"shared_with": shared_with}
    row = SimpleNamespace(**fields)
    with app.test_request_context():
        html = render_template_string(
            '{% from "instructor/macros.html" import shared_badge %}{{ shared_badge(row) }}',
            row=row,
        )
    assert ("Shared attempt" in html) is badge
    if badge:
        assert (
            'title="The same attempt was also emailed to bob@example.org, teacher@example.org"'
            in html
        )
        assert "also emailed to bob@example.org, teacher@example.org</span>" in html
