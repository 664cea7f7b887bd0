"""The gradebook: results emails read back from their ``results.json`` attachment.

Pure functions from payloads (schema ``quizmail.results/1``, docs/results-json.md) to rows and
per-quiz statistics; the only I/O is reading a raw message's attachment. A message without a
``results.json`` is not a results email and is left out; one whose ``results.json`` cannot be
read is listed as :class:`Unreadable`, with the reason, and stays out of rows and statistics.
Each row says whether the server's signature vouches for it (:mod:`app.results_signature`).

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
import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app import results_signature
from app.addresses import mailbox_key
from app.results_signature import Verdict
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
    "Unreadable",
    "UnreadableResults",
    "build_gradebook",
    "quiz_statistics",
    "read_message",
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
    "verified",
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
    #: Whether the server's signature vouches for the results (None: read without the key).
    verdict: Verdict | None = None

    @property
    def unverified(self) -> bool:
        """Checked, and not vouched for: the score may not be the one the server computed."""
        return self.verdict is not None and not self.verdict.trusted

    @property
    def student_key(self) -> tuple[str, str]:
        return mailbox_key(self.student_email), self.quiz_id

    @property
    def attempt_key(self) -> tuple[str, str]:
        return self.quiz_id, self.attempt_id


#: When an unreadable email read without its store was received: before every other.
EARLIEST = datetime.min.replace(tzinfo=UTC)


class UnreadableResults(ValueError):
    """What is wrong with a results.json, in the instructor's words."""


@dataclass(frozen=True)
class Unreadable:
    """A results email whose ``results.json`` could not be read: listed with its reason, in no
    row and no statistic, so one bad attachment never takes the gradebook down."""

    reason: str
    message_id: str = ""  # the email's Message-ID
    store_id: str = ""  # the stored copy (the mailbox's message id), when read from a store
    recipient: str = ""
    subject: str = ""
    received_at: datetime = EARLIEST


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
    index's ``has_attachments`` spares parsing mail that cannot be a results email at all. With
    the app's *secret*, each row says whether the server's signature vouches for it.
    """

    def __init__(self, secret: str | bytes | None = None) -> None:
        self._secret = secret
        self._rows: dict[str, Entry | Unreadable | None] = {}

    def read(self, store: MailStore) -> list[Entry]:
        """Every readable results email in *store*, each counted once, newest first."""
        candidates = [s.id for s in store.search(limit=store.count()) if s.has_attachments]
        known = self._rows
        self._rows = {  # forgets deleted mail
            mid: known[mid] if mid in known else self._read_row(store, mid) for mid in candidates
        }
        return build_gradebook(row for row in self._rows.values() if isinstance(row, Entry))

    def unreadable(self, store: MailStore) -> list[Unreadable]:
        """The results emails whose results.json could not be read, newest first: each is listed
        with its reason, and the rest of the gradebook stands."""
        self.read(store)
        found = [row for row in self._rows.values() if isinstance(row, Unreadable)]
        return sorted(found, key=lambda row: (row.received_at, row.store_id), reverse=True)

    def row(self, store: MailStore, message_id: str) -> Entry | None:
        """One message's row (``None`` for mail that is not a readable results email),
        remembered: the mailbox shows a results email's student, quiz and score from the same
        rows."""
        if message_id not in self._rows:
            self._rows[message_id] = self._read_row(store, message_id)
        row = self._rows[message_id]
        return row if isinstance(row, Entry) else None

    def other_copies(self, store: MailStore, message_id: str) -> int:
        """How many other mailboxes hold the same results email (it is one gradebook row)."""
        entry = self.row(store, message_id)
        if entry is None:
            return 0
        self.read(store)  # every copy's row, remembered
        key = email_key(entry)
        rows = self._rows.values()
        return sum(1 for row in rows if isinstance(row, Entry) and email_key(row) == key) - 1

    def _read_row(self, store: MailStore, message_id: str) -> Entry | Unreadable | None:
        try:
            row = read_message(store.get_bytes(message_id), secret=self._secret)
            if isinstance(row, Unreadable):
                summary = store.summary(message_id)
                return replace(
                    row,
                    store_id=message_id,
                    recipient=summary.recipient,
                    subject=summary.subject,
                    received_at=summary.received_at,
                )
            return row
        except KeyError:  # deleted since it was listed
            return None


def read_store(store: MailStore, *, secret: str | bytes | None = None) -> list[Entry]:
    """The gradebook of every results email in *store* (read once, nothing remembered)."""
    return GradebookReader(secret).read(store)


def read_message(raw: bytes, *, secret: str | bytes | None = None) -> Entry | Unreadable | None:
    """The gradebook row carried by a raw message: an :class:`Entry`; :class:`Unreadable` when
    it carries a ``results.json`` that cannot be read (and why); ``None`` when it carries none.

    With *secret*, the entry's ``verdict`` says whether the server's signature vouches for it.
    """
    message = parse(raw)  # once: the attachment and the Message-ID come from the same parse
    data = attachment_named(message, RESULTS_ATTACHMENT)
    if data is None:
        return None
    message_id = str(message.get("Message-ID", "")).strip()
    try:
        entry = read_results(_json_of(data))
    except UnreadableResults as problem:
        return Unreadable(reason=str(problem), message_id=message_id)
    verdict = None
    if secret is not None:
        signature = message.get(results_signature.HEADER)
        verdict = results_signature.check(
            data, None if signature is None else str(signature), secret
        )
    return replace(entry, message_id=message_id, verdict=verdict)


def _json_of(data: bytes) -> Any:
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise UnreadableResults("results.json is not UTF-8 text") from None
    except RecursionError:
        raise UnreadableResults("results.json is nested too deeply to read") from None
    except ValueError as exc:
        raise UnreadableResults(f"results.json is not JSON ({exc})") from None


def read_results(payload: Any) -> Entry:
    """A ``quizmail.results/1`` payload as a row; :class:`UnreadableResults` says what is wrong."""
    if not isinstance(payload, dict):
        raise UnreadableResults(f"results.json holds {_kind(payload)}, not an object")
    schema = payload.get("schema")
    if schema != SCHEMA:
        shown = _kind(schema) if not isinstance(schema, str) else repr(schema[:40])
        raise UnreadableResults(f"results.json is not a {SCHEMA} document (schema: {shown})")
    questions = _field(payload, "questions")
    if not isinstance(questions, list):
        raise UnreadableResults(f"questions is {_kind(questions)}, not a list")
    return Entry(
        student_email=_string(payload, "student", "email"),
        student_name=_string(payload, "student", "name", optional=True),
        quiz_id=_string(payload, "quiz", "id"),
        quiz_title=(
            _string(payload, "quiz", "title", optional=True) or _string(payload, "quiz", "id")
        ),
        attempt_id=_string(payload, "attempt_id"),
        submitted_at=_timestamp(payload, "submitted_at"),
        sent_at=_timestamp(payload, "sent_at"),
        points=_number(payload, "score", "points"),
        max_points=_number(payload, "score", "max_points"),
        percentage=_number(payload, "score", "percentage"),
        passed=_field(payload, "score", "passed") is True,
        questions=tuple(_question(question, n) for n, question in enumerate(questions, 1)),
    )


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
        "" if entry.verdict is None else ("yes" if entry.verdict.trusted else "no"),
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


def _kind(value: Any) -> str:
    """What a JSON value is, in words: ``a number``, ``null``…"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    names = {str: "a string", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _field(payload: Any, *path: str, optional: bool = False) -> Any:
    """The value at *path* (``score``, ``points``) of the payload; missing → unreadable, or
    ``None`` when *optional*."""
    value = payload
    for depth, key in enumerate(path):
        if not isinstance(value, dict):
            where = ".".join(path[:depth])
            raise UnreadableResults(f"{where} is {_kind(value)}, not an object")
        if key not in value:
            if optional:
                return None
            raise UnreadableResults(f"results.json has no {'.'.join(path[: depth + 1])}")
        value = value[key]
    return value


def _string(payload: Any, *path: str, optional: bool = False) -> str:
    """A string of the payload, a lone surrogate (``"\\ud800"`` is valid JSON) shown as U+FFFD:
    it could be written to no page and no CSV."""
    value = _field(payload, *path, optional=optional)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise UnreadableResults(f"{'.'.join(path)} is {_kind(value)}, not a string")
    return LONE_SURROGATE.sub("\ufffd", value)


def _number(payload: Any, *path: str) -> float:
    value = _field(payload, *path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnreadableResults(f"{'.'.join(path)} is {_kind(value)}, not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer of 400 digits
        raise UnreadableResults(f"{'.'.join(path)} is too large a number") from None
    if not math.isfinite(number):
        raise UnreadableResults(f"{'.'.join(path)} is not a finite number")
    return number


def _timestamp(payload: Any, name: str) -> datetime:
    text = _string(payload, name)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UnreadableResults(f"{name} is not an ISO 8601 time: {text[:40]!r}") from None
    if moment.tzinfo is None:
        raise UnreadableResults(f"{name} has no time zone")
    return moment


def _question(question: Any, number: int) -> tuple[str, bool]:
    if not isinstance(question, dict):
        raise UnreadableResults(f"question {number} is {_kind(question)}, not an object")
    question_id = question.get("id")
    if not isinstance(question_id, str):
        raise UnreadableResults(f"question {number} has no id")
    return LONE_SURROGATE.sub("\ufffd", question_id), question.get("is_correct") is True
