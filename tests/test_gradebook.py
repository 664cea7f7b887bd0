import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from instructor.helpers import build_message, results_email, results_payload

from app import mail
from app.store import MailStore, gradebook
from app.store.gradebook import (
    SORT_KEYS,
    GradebookReader,
    Unreadable,
    UnreadableResults,
    build_gradebook,
    quiz_statistics,
    read_message,
    read_results,
    sort_entries,
    to_csv,
)


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
    ("spoil", "reason"),
    [
        (lambda p: p.update(schema="quizmail.results/2"), "not a quizmail.results/1 document"),
        (lambda p: p.pop("attempt_id"), "results.json has no attempt_id"),
        (lambda p: p["score"].update(points="lots"), "score.points is a string, not a number"),
        (lambda p: p["score"].update(points=float("nan")), "score.points is not a finite number"),
        (lambda p: p.update(submitted_at="yesterday"), "submitted_at is not an ISO 8601 time"),
        (lambda p: p.update(submitted_at="2026-11-23T10:00:00"), "submitted_at has no time zone"),
        (lambda p: p["student"].update(email=42), "student.email is a number, not a string"),
        (lambda p: p.update(student=[]), "student is a list, not an object"),
        (lambda p: p.update(questions=None), "questions is null, not a list"),
        (lambda p: p.update(questions=[{"is_correct": True}]), "question 1 has no id"),
    ],
)
def test_an_invalid_payload_says_what_is_wrong(spoil, reason: str) -> None:
    payload = results_payload()
    spoil(payload)
    with pytest.raises(UnreadableResults, match=re.escape(reason)):
        read_results(payload)


@pytest.mark.parametrize("payload", [None, [], "x", 3])
def test_non_object_payload_is_not_a_row(payload: Any) -> None:
    with pytest.raises(UnreadableResults, match="not an object"):
        read_results(payload)


def test_entry_is_read_from_the_results_attachment() -> None:
    row = read_message(results_email(results_payload(attempt_id="z9")))
    assert row is not None
    assert row.attempt_id == "z9"


@pytest.mark.parametrize(
    "raw",
    [
        build_message(),
        build_message(attachments=(("other.json", "application/json", b"{}"),)),
    ],
)
def test_a_message_without_results_is_not_a_results_email(raw: bytes) -> None:
    assert read_message(raw) is None


@pytest.mark.parametrize(
    ("results_json", "reason"),
    [
        (b"{not json", "results.json is not JSON"),
        (b'{"name": "\xff"}', "results.json is not UTF-8 text"),
        (b"[1, 2]", "results.json holds a list, not an object"),
    ],
)
def test_a_results_email_with_unreadable_results_says_why(results_json: bytes, reason: str) -> None:
    row = read_message(
        build_message(attachments=(("results.json", "application/json", results_json),))
    )
    assert isinstance(row, Unreadable)
    assert row.reason.startswith(reason)


def test_same_email_in_several_mailboxes_counts_once() -> None:
    raw = results_email(results_payload())
    copies = [f"Delivered-To: {to}@example.org\r\n".encode() + raw for to in "ab"]
    assert len(build_gradebook([read_message(copy) for copy in copies])) == 1


def test_each_sending_of_one_attempt_is_a_row_even_within_a_second() -> None:
    # One attempt emailed to two addresses at once: the same attempt id and sent_at (whole
    # seconds), two emails with their own Message-IDs.
    sendings = [
        results_payload(student=f"{who}@example.org", name=who.title()) for who in ("ann", "bo")
    ]
    rows = build_gradebook([read_message(results_email(p)) for p in sendings])
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
    row = read_message(results_email(json.loads(json.dumps(payload))))
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
    real = gradebook.read_message
    monkeypatch.setattr(
        gradebook, "read_message", lambda raw, **kw: parsed.append(raw) or real(raw, **kw)
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


# --- one attempt, several addresses ---------------------------------------------------------------


def mailed(payload: dict[str, Any], *, message_id: str | None = None) -> bytes:
    """The results email QuizMail sends for *payload* (our own builder, as the web app uses)."""
    return mail.build_message(
        sender="quizmail@example.org",
        to=payload["student"]["email"],
        subject=f"Your results: {payload['quiz']['title']}",
        text="Your results are attached.",
        attachments=[("results.json", "application/json", json.dumps(payload).encode())],
        message_id=message_id,
    )


def shared(rows: list[gradebook.Entry]) -> dict[str, tuple[str, ...]]:
    return {row.student_email: row.shared_with for row in rows}


def test_an_attempt_emailed_to_several_addresses_is_flagged_on_each_row() -> None:
    rows = build_gradebook(
        [entry(attempt_id="x", student=f"{who}@example.org") for who in ("cy", "ann", "bo")]
        + [entry(attempt_id="own", student="dee@example.org")]
    )
    assert shared(rows) == {
        "ann@example.org": ("bo@example.org", "cy@example.org"),
        "bo@example.org": ("ann@example.org", "cy@example.org"),
        "cy@example.org": ("ann@example.org", "bo@example.org"),
        "dee@example.org": (),
    }


def test_a_shared_attempt_is_still_the_latest_of_each_address_it_reached() -> None:
    rows = build_gradebook(
        [
            entry(attempt_id="x", student="ann@example.org"),
            entry(attempt_id="x", student="bo@example.org"),
            entry(
                attempt_id="later", student="ann@example.org", submitted_at="2026-11-23T12:00:00Z"
            ),
        ]
    )
    by_row = {(r.attempt_id, r.student_email): (r.latest, r.shared_with) for r in rows}
    assert by_row == {
        ("x", "ann@example.org"): (False, ("bo@example.org",)),
        ("x", "bo@example.org"): (True, ("ann@example.org",)),
        ("later", "ann@example.org"): (True, ()),
    }


def test_one_address_in_two_spellings_does_not_share_an_attempt() -> None:
    rows = build_gradebook(
        [
            entry(attempt_id="x", student="Ada@Example.org", sent_at="2026-11-23T10:01:00Z"),
            entry(attempt_id="x", student="ada@example.org", sent_at="2026-11-23T10:02:00Z"),
        ]
    )
    assert [(r.shared_with, r.latest) for r in rows] == [((), False), ((), True)]


def test_the_same_attempt_id_in_two_quizzes_is_not_shared() -> None:
    rows = build_gradebook(
        [
            entry(attempt_id="x", student="ann@example.org", quiz="smtp"),
            entry(attempt_id="x", student="bo@example.org", quiz="pop3"),
        ]
    )
    assert all(row.shared_with == () for row in rows)


def test_statistics_count_an_attempt_emailed_to_several_addresses_once() -> None:
    rows = build_gradebook(
        [entry(attempt_id="x", points=2, student=f"{who}@example.org") for who in "abcd"]
        + [entry(attempt_id="y", points=8, student="e@example.org")]
    )
    (smtp,) = quiz_statistics(rows)
    assert (smtp.attempts, smtp.mean, smtp.minimum, smtp.maximum) == (2, 50.0, 20.0, 80.0)
    assert [(q.attempts, q.correct) for q in smtp.questions] == [(2, 2), (2, 0)]


def test_shared_attempt_through_the_store(tmp_path: Path) -> None:
    # One email in two mailboxes (the student's and a copy for the instructor), and the same
    # attempt emailed once more, to another address, in an email of its own.
    ann = results_payload(attempt_id="x", student="ann@example.org", correct=(True, True))
    bo = results_payload(attempt_id="x", student="Bo@Example.org", correct=(True, True))
    store = MailStore(tmp_path)
    store.deliver(["ann@example.org", "teacher@example.org"], mailed(ann))
    store.deliver(["bo@example.org"], mailed(bo))
    rows = gradebook.read_store(store)
    assert shared(rows) == {
        "ann@example.org": ("Bo@Example.org",),
        "Bo@Example.org": ("ann@example.org",),
    }
    assert all(row.latest for row in rows)
    (smtp,) = quiz_statistics(rows)
    assert (smtp.attempts, [q.correct for q in smtp.questions]) == (1, [1, 1])


def test_csv_ends_with_the_other_addresses_of_a_shared_attempt() -> None:
    rows = build_gradebook(
        [entry(attempt_id="x", student=f"{who}@example.org") for who in ("ann", "bo", "cy")]
    )
    table = list(csv.reader(io.StringIO(to_csv(rows))))
    assert table[0][-3:] == ["attempt_id", "shared_with", "verified"]
    assert {line[0]: line[-2] for line in table[1:]}["ann@example.org"] == (
        "bo@example.org cy@example.org"
    )


def test_csv_shared_with_never_starts_a_formula() -> None:
    rows = build_gradebook(
        [entry(attempt_id="x", student=who) for who in ("ann@example.org", "=cmd|x@example.org")]
    )
    table = list(csv.reader(io.StringIO(to_csv(rows))))
    assert {line[0]: line[-2] for line in table[1:]}["ann@example.org"] == "'=cmd|x@example.org"


_ATTEMPT = st.fixed_dictionaries(
    {
        "points": st.integers(0, 10),
        "minute": st.integers(0, 59),
        "correct": st.lists(st.booleans(), min_size=1, max_size=4).map(tuple),
        "quiz": st.sampled_from(["smtp", "pop3"]),
    }
)


def _emails(attempts: list[dict[str, Any]], extra: dict[int, int]) -> list[bytes]:
    """Each attempt emailed to its student, and attempt *i* to ``extra[i]`` more addresses,
    each email in the mailbox of its address and of a second recipient (one Message-ID)."""
    emails: list[bytes] = []
    for i, attempt in enumerate(attempts):
        for copy in range(1 + extra.get(i, 0)):
            payload = results_payload(
                attempt_id=f"a{i}",
                student=f"s{i}-{copy}@example.org",
                quiz=attempt["quiz"],
                points=attempt["points"],
                correct=attempt["correct"],
                submitted_at=f"2026-11-23T10:{attempt['minute']:02d}:00Z",
                sent_at=f"2026-11-23T11:{copy % 60:02d}:00Z",
            )
            raw = mailed(payload, message_id=f"<a{i}.{copy}@example.org>")
            emails += [b"Delivered-To: %d@example.org\r\n" % n + raw for n in (1, 2)]
    return emails


def _statistics_of(emails: list[bytes]) -> list[gradebook.QuizStatistics]:
    return quiz_statistics(build_gradebook(filter(None, map(read_message, emails))))


@given(
    st.lists(_ATTEMPT, min_size=1, max_size=5),
    st.dictionaries(st.integers(0, 4), st.integers(1, 3), max_size=3),
)
def test_statistics_do_not_change_when_attempts_are_emailed_to_more_addresses(
    attempts: list[dict[str, Any]], extra: dict[int, int]
) -> None:
    assert _statistics_of(_emails(attempts, extra)) == _statistics_of(_emails(attempts, {}))


def results_email_carrying(results_json: bytes) -> bytes:
    return build_message(
        to="ada@example.org",
        subject="Your results",
        attachments=(("results.json", "application/json", results_json),),
    )


def with_huge_points() -> bytes:
    payload = results_payload()
    payload["score"]["points"] = int("9" * 400)  # valid JSON; no float holds it
    return json.dumps(payload).encode()


def nested_1000_levels() -> bytes:
    return b'{"schema": "quizmail.results/1", "questions": ' + b"[" * 1000 + b"]" * 1000 + b"}"


@pytest.mark.parametrize(
    ("results_json", "reason"),
    [
        (with_huge_points(), "score.points is too large a number"),
        (nested_1000_levels(), "results.json is nested too deeply to read"),
    ],
)
def test_a_hostile_results_attachment_is_unreadable_not_an_error(
    results_json: bytes, reason: str
) -> None:
    row = gradebook.read_message(results_email_carrying(results_json))
    assert isinstance(row, Unreadable)
    assert row.reason == reason


def test_a_lone_surrogate_in_a_name_is_shown_as_a_replacement_character() -> None:
    text = json.dumps(results_payload(name="Ada XX")).replace("XX", "\\ud800")
    entry = gradebook.read_message(results_email_carrying(text.encode()))
    assert entry is not None
    assert entry.student_name == "Ada \ufffd"
    assert "Ada \ufffd" in gradebook.to_csv([entry])
