"""report: the results email's subject, text, HTML and attachments, from a graded result."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from conftest import ANSWERS
from results_schema import assert_results_document

from app.quiz import Result
from app.report import Report, Student, render_report, subject_line

SENT_AT = datetime(2026, 11, 23, 10, 0, 5, tzinfo=UTC)
ADA = Student("ada@example.org", "Ada <Lovelace>")


@pytest.fixture
def report(result: Result) -> Report:
    return render_report(result, ADA, SENT_AT)


def test_subject_names_quiz_score_and_percentage(result: Result) -> None:
    assert subject_line(result) == "Your results: SMTP and Internet mail — 2.5/4 (62%)"


def test_json_follows_the_schema_and_the_graded_result(report: Report, result: Result) -> None:
    doc = json.loads(report.json)
    assert_results_document(doc)
    assert doc["quiz"] == {
        "id": "smtp",
        "title": "SMTP and Internet mail",
        "version": result.quiz.version,
    }
    assert doc["student"] == {"email": "ada@example.org", "name": "Ada <Lovelace>"}
    assert doc["attempt_id"] == result.attempt.id
    assert (doc["submitted_at"], doc["sent_at"]) == ("2026-11-23T10:00:00Z", "2026-11-23T10:00:05Z")
    assert doc["score"] == {
        "points": 2.5,
        "max_points": 4.0,
        "percentage": 62.5,
        "passed": True,
        "pass_mark": 60.0,
    }


def test_json_questions_hold_option_texts_in_the_order_shown(
    report: Report, result: Result
) -> None:
    questions = {q["id"]: q for q in json.loads(report.json)["questions"]}
    assert [q["id"] for q in json.loads(report.json)["questions"]] == list(
        result.attempt.question_ids
    )
    headers = questions["required-headers"]
    shown = [
        o.text
        for o in next(
            r for r in result.questions if r.question.id == "required-headers"
        ).options_shown
    ]
    assert headers["correct"] == [t for t in shown if t in ("`From`", "`Date`")]
    assert headers["chosen"] == ["`From`"]
    assert (headers["points"], headers["max_points"], headers["is_correct"]) == (0.5, 1.0, False)
    assert questions["crlf"]["chosen"] == ["True"]
    assert questions["crlf"]["is_correct"] is True
    assert questions["dot-stuffing"]["chosen"] == ["`\\.hidden`"]


def test_student_without_a_name_is_null_in_json(result: Result) -> None:
    doc = json.loads(render_report(result, Student("bob@example.org"), SENT_AT).json)
    assert doc["student"] == {"email": "bob@example.org", "name": None}


def test_csv_has_a_row_per_question_matching_the_json(report: Report) -> None:
    rows = list(csv.DictReader(io.StringIO(report.csv.decode("utf-8"), newline="")))
    questions = json.loads(report.json)["questions"]
    assert [row["question_id"] for row in rows] == [q["id"] for q in questions]
    by_id = {row["question_id"]: row for row in rows}
    assert by_id["required-headers"]["chosen"] == "`From`"
    assert (by_id["required-headers"]["points"], by_id["required-headers"]["is_correct"]) == (
        "0.5",
        "false",
    )
    assert by_id["smtp-port"]["correct"] == "25"
    assert report.csv.count(b"\r\n") == len(rows) + 1


def test_text_part_shows_score_and_every_answer(report: Report) -> None:
    assert report.text.startswith("Hello Ada <Lovelace>,\n")
    assert "Score:     2.5 of 4 points (62%)" in report.text
    assert "Result:    Passed (pass mark 60%)" in report.text
    assert report.text.count("Question ") == len(ANSWERS)
    assert "Your answer:    `From`" in report.text
    assert "Explanation: RFC 5321 §4.5.4 names port 25" in report.text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_part_is_mail_safe(report: Report) -> None:
    parser = _Tags()
    parser.feed(report.html)
    names = {tag for tag, _ in parser.tags}
    assert names.isdisjoint({"script", "img", "style", "link", "iframe", "form", "object"})
    assert not any(key.startswith("on") for _, attrs in parser.tags for key in attrs)
    assert not any(attrs.get("class") for _, attrs in parser.tags)  # styles are inline
    assert "table" in names
    assert "http://" not in report.html
    assert "https://" not in report.html


def test_html_part_escapes_the_name_and_renders_markdown(report: Report) -> None:
    assert "Hello Ada &lt;Lovelace&gt;," in report.html
    assert "<code>`From`</code>" not in report.html
    assert "<code>From</code>" in report.html
    assert "&lt;b&gt;markup&lt;/b&gt;" in report.html
    assert "62%" in report.html
