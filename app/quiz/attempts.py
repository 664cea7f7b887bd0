"""How an attempt is derived and timed, whatever the front end (the web's pages, a telnet session).

An attempt is named by a random id. Which questions it shows, in which order, with the options
in which order, follow from that id and the instance's secret key (an HMAC seeds
:func:`~app.quiz.new_attempt`), so every worker and every front end derives the same attempt from
the same id, and nobody without the key can tell an attempt's order from its id. The time limit
is the server's: an answer counts when the server's clock had it before the deadline (plus a
grace for the trip from the student's screen), and a late submission grades what was given in
time (:func:`late_grading`). Nothing here knows Flask.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import string
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Generic, TypeVar

from app.quiz.catalog import QuizCatalog
from app.quiz.grading import new_attempt
from app.quiz.models import Attempt, Quiz

__all__ = [
    "ATTEMPT_MAX_AGE",
    "LATE_GRACE",
    "LATE_NOTHING_SAVED",
    "LATE_WITH_SAVED",
    "RESULT_MAX_AGE",
    "AttemptMaker",
    "BoundedCache",
    "LateGrading",
    "decode_answers",
    "encode_answers",
    "is_late",
    "late_grading",
    "quiz_catalog",
]

SEED_SALT = b"quizmail.attempt-seed/1"  # HMAC input prefix: the order of one attempt
ATTEMPT_ID_BYTES = 12  # 96 random bits: unguessable enough to name one attempt among all
ATTEMPT_MAX_AGE = timedelta(hours=24)  # a quiz page left open overnight must be reloaded
RESULT_MAX_AGE = timedelta(days=90)  # results can be revisited and emailed for a term
LATE_GRACE = timedelta(seconds=30)  # the trip from the page's timer to the server
POSITION_DIGITS = string.digits + string.ascii_lowercase  # one per option: see MAX_OPTIONS
ATTEMPT_CACHE_SIZE = 10_000  # derived attempts: an exam's worth of students, per process

#: What the results say when a submission came after the time limit.
LATE_WITH_SAVED = (
    "Your answers arrived after the time limit. The answers saved before the deadline have been"
    " graded; later changes are not counted."
)
LATE_NOTHING_SAVED = (
    "Your answers arrived after the time limit, and none had been saved before the deadline,"
    " so the attempt was graded as unanswered."
)

Answers = Mapping[str, Collection[str]]
K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A per-process dict that empties itself when full: a few quizzes repeat the same keys."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: dict[K, V] = {}

    def get(self, key: K, make: Callable[[], V]) -> V:
        value = self._items.get(key)
        if value is None:
            if len(self._items) >= self.limit:
                self._items.clear()
            value = self._items[key] = make()
        return value


class AttemptMaker:
    """Attempts derived with one secret key: the same id gives the same attempt, always."""

    def __init__(self, secret_key: str | bytes) -> None:
        # str() first, as the web always did: a key given as bytes derives what it derived.
        self._secret = str(secret_key).encode()
        self._attempts: BoundedCache[tuple[str, str, str, datetime], Attempt] = BoundedCache(
            ATTEMPT_CACHE_SIZE
        )

    def start(self, quiz: Quiz, started_at: datetime) -> Attempt:
        """A new attempt at *quiz*, under a new random id."""
        return self.derive(quiz, secrets.token_hex(ATTEMPT_ID_BYTES), started_at)

    def derive(self, quiz: Quiz, attempt_id: str, started_at: datetime) -> Attempt:
        """The attempt *attempt_id* names: the same questions and orders everywhere, always."""

        def derive() -> Attempt:
            seed = int.from_bytes(self.mac(SEED_SALT, attempt_id))
            return new_attempt(quiz, random.Random(seed), started_at, attempt_id=attempt_id)

        return self._attempts.get((quiz.id, quiz.version, attempt_id, started_at), derive)

    def mac(self, salt: bytes, attempt_id: str) -> bytes:
        """HMAC-SHA-256 of *attempt_id* under *salt*: what one attempt's secrets derive from."""
        return hmac.new(self._secret, salt + attempt_id.encode(), hashlib.sha256).digest()


def quiz_catalog(questions_dir: str | Path, var_dir: str | Path) -> QuizCatalog:
    """The quizzes of *questions_dir*, every version served kept under ``var_dir/quiz-versions``
    for as long as an attempt started on it can be submitted and its results read."""
    return QuizCatalog(
        questions_dir,
        versions_dir=Path(var_dir) / "quiz-versions",
        retention=ATTEMPT_MAX_AGE + RESULT_MAX_AGE,
    )


def is_late(quiz: Quiz, attempt: Attempt, at: datetime) -> bool:
    """Past the time limit and the grace for the trip from the student's screen to the server."""
    deadline = attempt.deadline(quiz)
    return deadline is not None and at > deadline + LATE_GRACE


@dataclass(frozen=True)
class LateGrading:
    """What a submission after the time limit is graded on: the answers given in time, as of
    when they were given (or unanswered, as of the deadline), and what the results say."""

    answers: dict[str, tuple[str, ...]]
    graded_at: datetime
    note: str


def late_grading(
    quiz: Quiz, attempt: Attempt, saved: str | None, saved_at: float | None
) -> LateGrading:
    """The grading of a late submission of *attempt*, given the answers last saved in time
    (:func:`encode_answers`) and when the server saved them (seconds since the epoch)."""
    deadline = attempt.deadline(quiz)
    assert deadline is not None  # only a timed attempt is ever late
    if saved is None or saved_at is None:
        return LateGrading({}, deadline, LATE_NOTHING_SAVED)
    answers = decode_answers(attempt, saved)
    return LateGrading(answers, datetime.fromtimestamp(saved_at, UTC), LATE_WITH_SAVED)


def encode_answers(attempt: Attempt, answers: Answers) -> str:
    """Per question shown, the positions of the options chosen (as shown): ``"2;01;;3"``."""
    return ";".join(
        _digits(p for p, oid in enumerate(option_ids) if oid in answers.get(qid, ()))
        for qid, option_ids in zip(attempt.question_ids, attempt.option_ids, strict=True)
    )


def decode_answers(attempt: Attempt, positions: str) -> dict[str, tuple[str, ...]]:
    """:func:`encode_answers` undone; ValueError or IndexError when *positions* do not fit."""
    chosen = positions.split(";")
    if len(chosen) != len(attempt.question_ids):
        raise ValueError("answers do not match the attempt")
    return {
        qid: tuple(option_ids[p] for p in _undigits(digits))
        for qid, option_ids, digits in zip(
            attempt.question_ids, attempt.option_ids, chosen, strict=True
        )
    }


def _digits(positions: Iterable[int]) -> str:
    return "".join(POSITION_DIGITS[position] for position in positions)


def _undigits(digits: str) -> list[int]:
    """The positions in *digits*; ValueError on anything else."""
    return [POSITION_DIGITS.index(digit) for digit in digits]
