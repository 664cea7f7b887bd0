"""The gradebook: results emails read back from their ``results.json`` attachment.

Pure functions from payloads (schema ``quizmail.results/1``, docs/results-json.md) to rows and
per-quiz statistics; the only I/O is reading a raw message's attachment. A message without a
valid ``results.json`` is not a results email and is simply left out.

What is counted once:

- **One email in several mailboxes** (one copy per recipient, the same ``Message-ID``) is one
  row: the copies are one sending.
- **One attempt emailed several times** (the same ``attempt_id`` in emails of their own, to the
  same address or to others) is a row per email, since each is a sending the instructor may
  want to see; the statistics count the attempt once.

An attempt emailed to several addresses is flagged: each of its rows has in ``shared_with`` the
other addresses (as :func:`app.addresses.mailbox_key` tells them apart) it was emailed to. Such a
row is still the **latest** of its address when no later attempt was emailed to that address:
"latest" says which attempt an address last received, ``shared_with`` that others received the
same one, so the instructor sees that several students hold one attempt instead of each of them
having an attempt of their own.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.addresses import mailbox_key
from app.store.message_view import attachment_named, parse
from app.words import LONE_SURROGATE

if TYPE_CHECKING:
    from app.store import MailStore

__all__ = [
    "SCHEMA",
    "SORT_KEYS",
    "Entry",
    "GradebookReader",
    "QuestionFacility",
    "QuizStatistics",
    "build_gradebook",
    "entry_from_message",
    "quiz_statistics",
    "read_results",
    "read_store",
    "sort_entries",
    "to_csv",
]

SCHEMA = "quizmail.results/1"
RESULTS_ATTACHMENT = "results.json"
#: A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "student_email",
    "student_name",
    "quiz_id",
    "quiz_title",
    "points",
    "max_points",
    "percentage",
    "passed",
    "submitted_at",
    "latest",
    "attempt_id",
    "shared_with",
)


@dataclass(frozen=True)
class Entry:
    """One results email: one row of the gradebook."""

    student_email: str
    student_name: str
    quiz_id: str
    quiz_title: str
    attempt_id: str
    submitted_at: datetime
    sent_at: datetime
    points: float
    max_points: float
    percentage: float
    passed: bool
    questions: tuple[tuple[str, bool], ...]  # (question id, is_correct) in the order shown
    latest: bool = False
    message_id: str = ""  # the email's Message-ID: the same in every mailbox that holds it
    #: The other addresses this attempt was emailed to, sorted; empty when it went to one only.
    shared_with: tuple[str, ...] = ()

    @property
    def student_key(self) -> tuple[str, str]:
        return mailbox_key(self.student_email), self.quiz_id

    @property
    def attempt_key(self) -> tuple[str, str]:
        return self.quiz_id, self.attempt_id


@dataclass(frozen=True)
class QuestionFacility:
    """Moodle's facility index: the share of attempts that answered a question right."""

    question_id: str
    attempts: int
    correct: int

    @property
    def facility(self) -> float:
        return 100 * self.correct / self.attempts


@dataclass(frozen=True)
class QuizStatistics:
    quiz_id: str
    quiz_title: str
    attempts: int
    mean: float
    stdev: float | None  # sample standard deviation; undefined for a single attempt
    minimum: float
    maximum: float
    questions: list[QuestionFacility]


SORT_KEYS: dict[str, Callable[[Entry], Any]] = {
    "student": lambda e: (e.student_name.casefold(), e.student_email.casefold()),
    "quiz": lambda e: e.quiz_title.casefold(),
    "score": lambda e: e.points,
    "percentage": lambda e: e.percentage,
    "result": lambda e: e.passed,
    "submitted": lambda e: e.submitted_at,
}


class GradebookReader:
    """Reads the gradebook from a store, remembering the row of every message it has read.

    A stored message never changes, so only mail that arrived since the last read is parsed; the
    index's ``has_attachments`` spares parsing mail that cannot be a results email at all.
    """

    def __init__(self) -> None:
        self._rows: dict[str, Entry | None] = {}

    def read(self, store: MailStore) -> list[Entry]:
        """Every results email in *store*, each counted once, newest first."""
        candidates = [s.id for s in store.search(limit=store.count()) if s.has_attachments]
        known = self._rows
        self._rows = {  # forgets deleted mail
            mid: known[mid] if mid in known else _read_row(store, mid) for mid in candidates
        }
        return build_gradebook(entry for entry in self._rows.values() if entry is not None)

    def row(self, store: MailStore, message_id: str) -> Entry | None:
        """One message's row (``None`` for mail that is not a results email), remembered: the
        mailbox shows a results email's student, quiz and score from the same rows."""
        if message_id not in self._rows:
            self._rows[message_id] = _read_row(store, message_id)
        return self._rows[message_id]

    def other_copies(self, store: MailStore, message_id: str) -> int:
        """How many other mailboxes hold the same results email (it is one gradebook row)."""
        entry = self.row(store, message_id)
        if entry is None:
            return 0
        self.read(store)  # every copy's row, remembered
        key = email_key(entry)
        return sum(1 for row in self._rows.values() if row and email_key(row) == key) - 1


def _read_row(store: MailStore, message_id: str) -> Entry | None:
    try:
        return entry_from_message(store.get_bytes(message_id))
    except KeyError:  # deleted since it was listed
        return None


def read_store(store: MailStore) -> list[Entry]:
    """The gradebook of every results email in *store* (read once, nothing remembered)."""
    return GradebookReader().read(store)


def entry_from_message(raw: bytes) -> Entry | None:
    """The gradebook row carried by a raw message, or ``None`` if it is not a results email."""
    message = parse(raw)  # once: the attachment and the Message-ID come from the same parse
    data = attachment_named(message, RESULTS_ATTACHMENT)
    if data is None:
        return None
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser
        return None
    entry = read_results(payload)
    if entry is None:
        return None
    return replace(entry, message_id=str(message.get("Message-ID", "")).strip())


def read_results(payload: Any) -> Entry | None:
    """Validate a ``quizmail.results/1`` payload; ``None`` when it is anything else."""
    try:
        if payload["schema"] != SCHEMA:
            return None
        score, quiz, student = payload["score"], payload["quiz"], payload["student"]
        return Entry(
            student_email=_text(student["email"]),
            student_name=_text(student.get("name") or ""),
            quiz_id=_text(quiz["id"]),
            quiz_title=_text(quiz.get("title") or quiz["id"]),
            attempt_id=_text(payload["attempt_id"]),
            submitted_at=_timestamp(payload["submitted_at"]),
            sent_at=_timestamp(payload["sent_at"]),
            points=float(score["points"]),
            max_points=float(score["max_points"]),
            percentage=float(score["percentage"]),
            passed=score["passed"] is True,
            questions=tuple(
                (_text(q["id"]), q["is_correct"] is True) for q in payload["questions"]
            ),
        )
    except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: 400-digit points
        return None


def build_gradebook(entries: Iterable[Entry]) -> list[Entry]:
    """Each results email once (however many mailboxes hold it), the latest attempts marked,
    attempts emailed to several addresses flagged (``shared_with``)."""
    unique = {email_key(e): e for e in entries}
    latest: dict[tuple[str, str], Entry] = {}
    for entry in sorted(unique.values(), key=_recency):
        latest[entry.student_key] = entry
    marked = {email_key(e) for e in latest.values()}
    addresses = _addresses_by_attempt(unique.values())
    rows = [
        replace(e, latest=email_key(e) in marked, shared_with=_others(e, addresses))
        for e in unique.values()
    ]
    return sort_entries(rows, "submitted", descending=True)


def _addresses_by_attempt(entries: Iterable[Entry]) -> dict[tuple[str, str], dict[str, str]]:
    """Per attempt, the addresses it was emailed to: mailbox key → spelling of the latest email."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for entry in sorted(entries, key=_recency):
        found.setdefault(entry.attempt_key, {})[entry.student_key[0]] = entry.student_email
    return found


def _others(entry: Entry, addresses: dict[tuple[str, str], dict[str, str]]) -> tuple[str, ...]:
    own = entry.student_key[0]
    shared = addresses[entry.attempt_key]
    return tuple(shared[key] for key in sorted(shared) if key != own)


def sort_entries(entries: Iterable[Entry], key: str, *, descending: bool = False) -> list[Entry]:
    """Sorted by one of ``SORT_KEYS`` (ties: oldest submission first); unknown keys raise."""
    by_time = sorted(entries, key=_recency)
    return sorted(by_time, key=SORT_KEYS[key], reverse=descending)


def quiz_statistics(entries: Iterable[Entry]) -> list[QuizStatistics]:
    """Per quiz, over distinct attempts: scores and facility.

    An attempt counts once however many emails carry it (re-sent, or sent to several addresses)
    and however many mailboxes hold each; they are taken in the order they were submitted, so
    that extra emails of an attempt change nothing, not even the order of the questions.
    """
    by_quiz: dict[str, dict[str, Entry]] = {}
    for entry in sorted(entries, key=_recency):
        by_quiz.setdefault(entry.quiz_id, {})[entry.attempt_id] = entry
    return [
        _statistics(sorted(attempts.values(), key=_submission))
        for _, attempts in sorted(by_quiz.items())
    ]


def to_csv(entries: Iterable[Entry]) -> str:
    """The gradebook as CSV; no cell can be read as a spreadsheet formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow([_csv_cell(value) for value in _csv_values(entry)])
    return out.getvalue()


def _statistics(attempts: list[Entry]) -> QuizStatistics:
    scores = [e.percentage for e in attempts]
    return QuizStatistics(
        quiz_id=attempts[0].quiz_id,
        quiz_title=attempts[-1].quiz_title,
        attempts=len(attempts),
        mean=statistics.fmean(scores),
        stdev=statistics.stdev(scores) if len(scores) > 1 else None,
        minimum=min(scores),
        maximum=max(scores),
        questions=_facility(attempts),
    )


def _facility(attempts: list[Entry]) -> list[QuestionFacility]:
    """Per question, in order of first appearance; a question counts where it was shown."""
    tally: dict[str, list[int]] = {}
    for entry in attempts:
        for question_id, is_correct in entry.questions:
            counts = tally.setdefault(question_id, [0, 0])
            counts[0] += 1
            counts[1] += is_correct
    return [QuestionFacility(qid, shown, correct) for qid, (shown, correct) in tally.items()]


def _csv_values(entry: Entry) -> list[object]:
    return [
        entry.student_email,
        entry.student_name,
        entry.quiz_id,
        entry.quiz_title,
        f"{entry.points:g}",
        f"{entry.max_points:g}",
        f"{entry.percentage:.1f}",
        "pass" if entry.passed else "fail",
        entry.submitted_at.isoformat(),
        "yes" if entry.latest else "no",
        entry.attempt_id,
        " ".join(entry.shared_with),
    ]


def _csv_cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def email_key(entry: Entry) -> tuple[str, ...]:
    """One results email, however many mailboxes hold a copy: its Message-ID.

    The same attempt may be emailed again, to the same address or another, even within one
    second (``sent_at`` has whole seconds): each sending is its own row. A payload read without
    its message has only its own fields to go by.
    """
    if entry.message_id:
        return (entry.message_id,)
    return entry.attempt_id, entry.student_key[0], entry.sent_at.isoformat()


def _recency(entry: Entry) -> tuple[datetime, datetime]:
    return entry.submitted_at, entry.sent_at


def _submission(entry: Entry) -> tuple[datetime, str]:
    return entry.submitted_at, entry.attempt_id


def _text(value: Any) -> str:
    """A string of the payload, a lone surrogate (``"\\ud800"`` is valid JSON) shown as U+FFFD:
    it could be written to no page and no CSV."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return LONE_SURROGATE.sub("\ufffd", value)


def _timestamp(value: Any) -> datetime:
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        raise ValueError("timestamps in results.json carry a time zone")
    return moment
