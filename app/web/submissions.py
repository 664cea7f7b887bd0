"""Signed attempts and submissions: every score shown is one the server computed.

An *attempt token* (hidden in the quiz form) carries what the student was shown: quiz id and
version, the question and option order, and when the attempt started. A *result token* carries
that attempt plus the chosen options and the submission time; :func:`load_submission` re-grades it
against the quiz, so any view (results page, "Email my results", the gradebook) derives the same
:class:`~app.quiz.Result` from it. Both are signed with the app's secret key (itsdangerous) and
encode positions in the quiz rather than ids, which keeps them short enough for a URL.

Refusals are :class:`SubmissionRefused`, a 400 with a title and a message in plain words:
a token that is not ours or was altered, a quiz that changed or vanished since the attempt began,
an attempt too old, and a submission after the time limit. A late submission is *refused*, not
graded as at the deadline: the form's answers may have been changed after the deadline.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from flask import current_app
from itsdangerous import BadData, Serializer, URLSafeSerializer
from itsdangerous.encoding import base64_encode
from werkzeug.exceptions import BadRequest

from app.quiz import Attempt, Quiz, QuizCatalog, Result, format_duration, grade

ATTEMPT_SALT = "quizmail.attempt/1"
RESULT_SALT = "quizmail.result/1"
ATTEMPT_MAX_AGE = timedelta(hours=24)  # a quiz page left open overnight must be reloaded
RESULT_MAX_AGE = timedelta(days=90)  # results can be revisited and emailed for a term
LATE_GRACE = timedelta(seconds=30)  # the trip from the page's timer to the server
POSITION_DIGITS = string.digits + string.ascii_lowercase  # one per option: see MAX_OPTIONS
CATALOG_KEY = "quizmail.catalog"
SERIALIZERS_KEY = "quizmail.serializers"
CODE_CACHE_SIZE = 20_000  # question orders seen: ~20 questions × 24 option orders × a few quizzes

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


class SubmissionRefused(BadRequest):
    """A 400 whose page says what went wrong and what to do."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__(message)
        self.title = title

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.title


@dataclass(frozen=True)
class Submission:
    quiz: Quiz
    attempt: Attempt
    answers: dict[str, tuple[str, ...]]  # question id → chosen option ids, as shown
    submitted_at: datetime
    result: Result


def utcnow() -> datetime:
    return datetime.now(UTC)


def current_catalog() -> QuizCatalog:
    """The app's quizzes, loaded once per app and reloaded when a file changes."""
    extensions = current_app.extensions
    if CATALOG_KEY not in extensions:
        extensions[CATALOG_KEY] = QuizCatalog(current_app.config["QUESTIONS_DIR"])
    catalog: QuizCatalog = extensions[CATALOG_KEY]
    return catalog


# Encoding the order of a question is most of signing an attempt; the same orders recur.
_ORDER_CODES: BoundedCache[tuple[str, str, tuple[str, ...]], str] = BoundedCache(CODE_CACHE_SIZE)
_SHOWN_QUESTIONS: BoundedCache[tuple[str, str], tuple[str, tuple[str, ...]]] = BoundedCache(
    CODE_CACHE_SIZE
)


# --- attempts ------------------------------------------------------------------------------------


def sign_attempt(quiz: Quiz, attempt: Attempt) -> str:
    return _serializer(ATTEMPT_SALT).dumps(_attempt_payload(quiz, attempt))


def load_attempt(token: str, now: datetime | None = None) -> tuple[Quiz, Attempt]:
    """The quiz and attempt behind a token from a quiz form, refusing stale or altered ones."""
    payload = _loads(ATTEMPT_SALT, token)
    quiz, attempt = _attempt_from_payload(payload)
    if (now or utcnow()) - attempt.started_at > ATTEMPT_MAX_AGE:
        raise SubmissionRefused(
            "This quiz page has expired",
            "The quiz was opened too long ago. Open it again to start a new attempt.",
        )
    return quiz, attempt


def check_deadline(quiz: Quiz, attempt: Attempt, submitted_at: datetime) -> None:
    deadline = attempt.deadline(quiz)
    if deadline is not None and submitted_at > deadline + LATE_GRACE:
        allowed = format_duration(quiz.time_limit) if quiz.time_limit else ""
        raise SubmissionRefused(
            "Time is up",
            f"This quiz allows {allowed} and your answers arrived after the deadline,"
            " so they were not graded. You can start a new attempt.",
        )


# --- submissions ---------------------------------------------------------------------------------


def sign_submission(
    quiz: Quiz,
    attempt: Attempt,
    answers: Answers,
    submitted_at: datetime,
    attempt_token: str | None = None,
) -> str:
    """A result token; it nests the attempt token (pass the one from the form to save a signing)."""
    payload = {
        "attempt": attempt_token or sign_attempt(quiz, attempt),
        "answers": _answer_positions(attempt, answers),
        "at": submitted_at.timestamp(),
    }
    return _serializer(RESULT_SALT).dumps(payload)


def load_submission(token: str, now: datetime | None = None) -> Submission:
    """Re-derive the graded submission behind a result token the server issued."""
    payload = _loads(RESULT_SALT, token)
    try:
        # No age limit here: the attempt was checked when submitted; RESULT_MAX_AGE applies.
        quiz, attempt = _attempt_from_payload(_loads(ATTEMPT_SALT, payload["attempt"]))
        answers = _answers_from_positions(attempt, payload["answers"])
        submitted_at = datetime.fromtimestamp(payload["at"], UTC)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise _tampered() from exc
    if (now or utcnow()) - submitted_at > RESULT_MAX_AGE:
        raise SubmissionRefused("These results have expired", "Take the quiz again.")
    result = grade(quiz, attempt, answers, submitted_at)
    return Submission(quiz, attempt, answers, submitted_at, result)


# --- encoding ------------------------------------------------------------------------------------


class _UncompressedSerializer(URLSafeSerializer):
    """URL-safe and signed, without zlib: our payloads are short, and compressing cost more."""

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


def _serializer(salt: str) -> URLSafeSerializer:
    """One serializer per app and salt: deriving its key costs a hash on every request otherwise."""
    serializers: dict[str, URLSafeSerializer] = current_app.extensions.setdefault(
        SERIALIZERS_KEY, {}
    )
    if salt not in serializers:
        serializers[salt] = _UncompressedSerializer(current_app.config["SECRET_KEY"], salt=salt)
    return serializers[salt]


def _loads(salt: str, token: object) -> Any:
    if not isinstance(token, str):
        raise _tampered()
    try:
        return _serializer(salt).loads(token)
    except BadData as exc:
        raise _tampered() from exc


def _tampered() -> SubmissionRefused:
    return SubmissionRefused(
        "This submission is not valid",
        "The quiz form was altered or did not come from this site."
        " Open the quiz again to start a new attempt.",
    )


def _attempt_payload(quiz: Quiz, attempt: Attempt) -> dict[str, Any]:
    """The attempt in a few bytes: ``"o"`` is ``question:options;…`` as positions in the file,
    e.g. ``"3:2013;0:10"`` (question 3 with its options 2, 0, 1, 3, then question 0)."""
    pairs = zip(attempt.question_ids, attempt.option_ids, strict=True)
    order = ";".join(_question_order(quiz, qid, option_ids) for qid, option_ids in pairs)
    started = attempt.started_at.timestamp()
    return {"id": attempt.id, "quiz": quiz.id, "v": quiz.version, "t": started, "o": order}


def _question_order(quiz: Quiz, question_id: str, option_ids: tuple[str, ...]) -> str:
    def encode() -> str:
        question = quiz.question(question_id)
        options = _digits(question.option_position(option_id) for option_id in option_ids)
        return f"{quiz.question_position(question_id)}:{options}"

    return _ORDER_CODES.get((quiz.version, question_id, option_ids), encode)


def _attempt_from_payload(payload: Any) -> tuple[Quiz, Attempt]:
    try:
        quiz = _quiz_of(payload["quiz"], payload["v"])
        shown = [_shown_question(quiz, part) for part in payload["o"].split(";")]
        attempt = Attempt(
            id=str(payload["id"]),
            quiz_id=quiz.id,
            quiz_version=quiz.version,
            started_at=datetime.fromtimestamp(payload["t"], UTC),
            question_ids=tuple(question_id for question_id, _ in shown),
            option_ids=tuple(option_ids for _, option_ids in shown),
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise _tampered() from exc
    return quiz, attempt


def _shown_question(quiz: Quiz, part: str) -> tuple[str, tuple[str, ...]]:
    return _SHOWN_QUESTIONS.get((quiz.version, part), lambda: _decode_question(quiz, part))


def _decode_question(quiz: Quiz, part: str) -> tuple[str, tuple[str, ...]]:
    position, options = part.split(":")
    if not position.isdigit():  # no sign: a negative index would count from the end
        raise ValueError(f"not a question position: {position!r}")
    question = quiz.questions[int(position)]
    return question.id, tuple(question.options[i].id for i in _undigits(options))


def _quiz_of(quiz_id: str, version: str) -> Quiz:
    quiz = current_catalog().get(quiz_id)
    if quiz is None:
        raise SubmissionRefused(
            "This quiz is no longer available",
            "The quiz you were taking has been removed. Pick another from the list.",
        )
    if quiz.version != version:
        raise SubmissionRefused(
            "This quiz has changed",
            "The quiz was edited after this attempt began, so it cannot be graded fairly."
            " Open the quiz again to start a new attempt.",
        )
    return quiz


def _answer_positions(attempt: Attempt, answers: Answers) -> str:
    """Per question shown, the positions of the options chosen (as shown): ``"2;01;;3"``."""
    return ";".join(
        _digits(p for p, oid in enumerate(option_ids) if oid in answers.get(qid, ()))
        for qid, option_ids in zip(attempt.question_ids, attempt.option_ids, strict=True)
    )


def _answers_from_positions(attempt: Attempt, positions: str) -> dict[str, tuple[str, ...]]:
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
