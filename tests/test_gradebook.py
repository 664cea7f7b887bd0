import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from instructor.helpers import build_message, results_email, results_payload

from app import gradebook
from app.gradebook import (
    SORT_KEYS,
    GradebookReader,
    build_gradebook,
    entry_from_message,
    quiz_statistics,
    read_results,
    sort_entries,
    to_csv,
)
from app.mailstore import MailStore


def entry(**kwargs: Any):
    result = read_results(results_payload(**kwargs))
    assert result is not None
    return result


def test_payload_is_read_into_a_row() -> None:
    row = entry(points=8, max_points=10, correct=(True, False, True))
    assert (row.student_email, row.student_name, row.quiz_id, row.quiz_title) == (
        "ada@example.org",
        "Ada Lovelace",
        "smtp",
        "SMTP quiz",
    )
    assert (row.points, row.max_points, row.percentage, row.passed) == (8.0, 10.0, 80.0, True)
    assert row.submitted_at.isoformat() == "2026-11-23T10:00:00+00:00"
    assert row.questions == (("q1", True), ("q2", False), ("q3", True))


@pytest.mark.parametrize(
    "spoil",
    [
        lambda p: p.update(schema="quizmail.results/2"),
        lambda p: p.pop("attempt_id"),
        lambda p: p["score"].update(points="lots"),
        lambda p: p.update(submitted_at="yesterday"),
        lambda p: p.update(submitted_at="2026-11-23T10:00:00"),
        lambda p: p["student"].update(email=42),
        lambda p: p.update(questions=None),
    ],
)
def test_invalid_payload_is_not_a_row(spoil) -> None:
    payload = results_payload()
    spoil(payload)
    assert read_results(payload) is None


@pytest.mark.parametrize("payload", [None, [], "x", 3])
def test_non_object_payload_is_not_a_row(payload: Any) -> None:
    assert read_results(payload) is None


def test_entry_is_read_from_the_results_attachment() -> None:
    row = entry_from_message(results_email(results_payload(attempt_id="z9")))
    assert row is not None
    assert row.attempt_id == "z9"


@pytest.mark.parametrize(
    "raw",
    [
        build_message(),
        build_message(attachments=(("results.json", "application/json", b"{not json"),)),
        build_message(attachments=(("results.json", "application/json", b"\xff\xfe"),)),
        build_message(attachments=(("other.json", "application/json", b"{}"),)),
    ],
)
def test_message_without_valid_results_is_not_a_row(raw: bytes) -> None:
    assert entry_from_message(raw) is None


def test_same_email_in_several_mailboxes_counts_once() -> None:
    raw = results_email(results_payload())
    copies = [f"Delivered-To: {to}@example.org\r\n".encode() + raw for to in "ab"]
    assert len(build_gradebook([entry_from_message(copy) for copy in copies])) == 1


def test_each_sending_of_one_attempt_is_a_row_even_within_a_second() -> None:
    # One attempt emailed to two addresses at once: the same attempt id and sent_at (whole
    # seconds), two emails with their own Message-IDs.
    sendings = [
        results_payload(student=f"{who}@example.org", name=who.title()) for who in ("ann", "bo")
    ]
    rows = build_gradebook([entry_from_message(results_email(p)) for p in sendings])
    assert sorted(row.student_email for row in rows) == ["ann@example.org", "bo@example.org"]


def test_latest_attempt_per_student_and_quiz_is_marked() -> None:
    rows = build_gradebook(
        [
            entry(attempt_id="old", submitted_at="2026-11-23T09:00:00Z"),
            entry(attempt_id="new", submitted_at="2026-11-23T11:00:00Z"),
            entry(attempt_id="other-quiz", quiz="pop3", submitted_at="2026-11-23T08:00:00Z"),
            entry(attempt_id="bob", student="BOB@example.org", submitted_at="2026-11-23T07:00:00Z"),
            entry(
                attempt_id="bob2", student="bob@example.org", submitted_at="2026-11-23T06:00:00Z"
            ),
        ]
    )
    assert {r.attempt_id: r.latest for r in rows} == {
        "new": True,
        "old": False,
        "other-quiz": True,
        "bob": True,
        "bob2": False,
    }
    assert [r.attempt_id for r in rows] == ["new", "old", "other-quiz", "bob", "bob2"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("student", ["ada", "bob", "cy"]),
        ("score", ["bob", "cy", "ada"]),
        ("percentage", ["bob", "cy", "ada"]),
        ("submitted", ["cy", "ada", "bob"]),
        ("quiz", ["cy", "bob", "ada"]),
        ("result", ["cy", "bob", "ada"]),
    ],
)
def test_sort_keys(key: str, expected: list[str]) -> None:
    rows = [
        entry(
            attempt_id="ada", name="Ada", points=9, quiz="smtp", submitted_at="2026-11-23T10:00:00Z"
        ),
        entry(
            attempt_id="bob", name="Bob", points=3, quiz="pop3", submitted_at="2026-11-23T11:00:00Z"
        ),
        entry(
            attempt_id="cy", name="Cy", points=5, quiz="mime", submitted_at="2026-11-23T09:00:00Z"
        ),
    ]
    assert [r.attempt_id for r in sort_entries(rows, key)] == expected
    descending = [r.attempt_id for r in sort_entries(rows, key, descending=True)]
    assert descending[0] == expected[-1]
    assert set(SORT_KEYS) == {"student", "score", "percentage", "submitted", "quiz", "result"}


def test_quiz_statistics() -> None:
    rows = [
        entry(attempt_id="1", points=4, correct=(True, False)),
        entry(attempt_id="2", points=6, correct=(True, True)),
        entry(attempt_id="3", points=8, correct=(False, False, True)),
        entry(attempt_id="4", quiz="mime", points=10),
    ]
    mime, smtp = quiz_statistics(rows)
    assert (smtp.quiz_id, smtp.attempts, smtp.mean, smtp.minimum, smtp.maximum) == (
        "smtp",
        3,
        60.0,
        40.0,
        80.0,
    )
    assert smtp.stdev == pytest.approx(20.0)
    assert [(q.question_id, q.attempts, q.correct) for q in smtp.questions] == [
        ("q1", 3, 2),
        ("q2", 3, 1),
        ("q3", 1, 1),
    ]
    assert smtp.questions[0].facility == pytest.approx(200 / 3)
    assert (mime.attempts, mime.stdev) == (1, None)


def test_resent_attempt_counts_once_in_statistics() -> None:
    rows = [
        entry(attempt_id="1", points=4, sent_at="2026-11-23T10:01:00Z"),
        entry(attempt_id="1", points=4, sent_at="2026-11-23T10:02:00Z"),
        entry(attempt_id="2", points=8),
    ]
    gradebook = build_gradebook(rows)
    assert len(gradebook) == 3  # each sending of a results email is a row
    (latest,) = [r for r in gradebook if r.latest]
    assert (latest.attempt_id, latest.sent_at.minute) == ("1", 2)
    (smtp,) = quiz_statistics(gradebook)
    assert smtp.attempts == 2
    assert smtp.mean == pytest.approx(60.0)


def test_csv_has_a_header_and_one_line_per_row() -> None:
    rows = build_gradebook([entry(attempt_id="1"), entry(attempt_id="2", quiz="mime")])
    table = list(csv.reader(io.StringIO(to_csv(rows))))
    assert table[0][:4] == ["student_email", "student_name", "quiz_id", "quiz_title"]
    assert len(table) == 3
    assert table[1][4:9] == ["8", "10", "80.0", "pass", "2026-11-23T10:00:00+00:00"]


@pytest.mark.parametrize("evil", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"])
def test_csv_cells_never_start_a_formula(evil: str) -> None:
    rows = build_gradebook([entry(name=evil)])
    table = list(csv.reader(io.StringIO(to_csv(rows))))
    assert table[1][1] == "'" + evil


def test_results_json_is_parsed_as_json_not_evaluated() -> None:
    payload = results_payload()
    payload["quiz"]["title"] = "__import__('os')"
    row = entry_from_message(results_email(json.loads(json.dumps(payload))))
    assert row is not None
    assert row.quiz_title == "__import__('os')"


@given(st.text(min_size=1), st.text())
def test_no_csv_cell_starts_a_formula(name: str, title: str) -> None:
    payload = results_payload(name=name)
    payload["quiz"]["title"] = title
    row = read_results(payload)
    assert row is not None
    for line in csv.reader(io.StringIO(to_csv([row]), newline="")):
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in line)


def test_reader_parses_each_results_email_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MailStore(tmp_path)
    store.deliver(["ada@example.org"], results_email(results_payload(attempt_id="a1")))
    store.deliver(["ada@example.org"], build_message(subject="No attachments: never parsed"))
    parsed: list[bytes] = []
    real = gradebook.entry_from_message
    monkeypatch.setattr(
        gradebook, "entry_from_message", lambda raw: parsed.append(raw) or real(raw)
    )
    reader = GradebookReader()
    assert [e.attempt_id for e in reader.read(store)] == ["a1"]
    store.deliver(["bob@example.org"], results_email(results_payload(attempt_id="b1")))
    assert sorted(e.attempt_id for e in reader.read(store)) == ["a1", "b1"]
    assert len(parsed) == 2


def test_reader_forgets_deleted_mail(tmp_path: Path) -> None:
    store = MailStore(tmp_path)
    (first,) = store.deliver(["ada@example.org"], results_email(results_payload(attempt_id="a1")))
    store.deliver(["ada@example.org"], results_email(results_payload(attempt_id="a2")))
    reader = GradebookReader()
    assert len(reader.read(store)) == 2
    store.remove(first)
    assert [e.attempt_id for e in reader.read(store)] == ["a2"]
