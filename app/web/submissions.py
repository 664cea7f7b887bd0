"""Signed attempts and submissions: every score shown is one the server computed.

An *attempt token* (hidden in the quiz form) names an attempt: its random id, the quiz id and
version, and when it started. Which questions it shows, in which order, and the opaque value of
every option in the form are all derived from the id with the app's secret key (HMAC), so the
token reveals nothing about the author's order of the options (authors often write the correct
one first) and a form's values say nothing about which option they stand for; only the server
maps a value back to an option. A *result token* carries that attempt plus the chosen options
(as positions in the order shown) and the submission time; :func:`load_submission` re-grades it
against the quiz, so any view (results page, "Email my results", the gradebook) derives the same
:class:`~app.quiz.Result` from it. Both are signed with the secret key (itsdangerous).

An attempt is graded against the quiz version it began with (kept by content hash,
:mod:`app.quiz.versions`), so fixing a typo in a live quiz file breaks neither the attempts under
way nor the results links already given out.

Refusals are :class:`SubmissionRefused`, a 400 with a title and a message in plain words:
a token that is not ours or was altered, a quiz version no longer kept, an attempt too old.
Lateness is not refused here: the quiz view grades what arrived in time (see :func:`is_late`).

How an attempt is derived from its id and how it is timed are not the web's own: they live in
:mod:`app.quiz.attempts`, which every front end shares; this module signs and keys them for forms.
"""

from __future__ import annotations

import hashlib
import itertools
from base64 import urlsafe_b64encode
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from itsdangerous import BadData, Serializer, URLSafeSerializer
from itsdangerous.encoding import base64_encode
from werkzeug.exceptions import BadRequest

from app.quiz import Attempt, Quiz, QuizCatalog, Result, grade
from app.quiz.attempts import (
    ATTEMPT_MAX_AGE,
    LATE_GRACE,
    RESULT_MAX_AGE,
    AttemptMaker,
    BoundedCache,
    decode_answers,
    encode_answers,
    is_late,
    quiz_catalog,
)
from app.web.extensions import per_app

__all__ = [
    "ATTEMPT_MAX_AGE",
    "LATE_GRACE",
    "RESULT_MAX_AGE",
    "BoundedCache",
    "Submission",
    "SubmissionRefused",
    "answers_from_keys",
    "attempt_expiry",
    "current_catalog",
    "decode_answers",
    "encode_answers",
    "is_late",
    "load_attempt",
    "load_submission",
    "option_keys",
    "sign_attempt",
    "sign_submission",
    "start_attempt",
    "utcnow",
]

ATTEMPT_SALT = "quizmail.attempt/2"
RESULT_SALT = "quizmail.result/2"
OPTION_KEY_SALT = b"quizmail.option-key/1"  # HMAC input prefix: the form values of one attempt
OPTION_KEY_BYTES = 6  # 48 bits per option value: 8 URL-safe characters, no collisions to speak of
OPTION_KEY_CHARS = OPTION_KEY_BYTES * 4 // 3
CATALOG_KEY = "quizmail.catalog"
SERIALIZERS_KEY = "quizmail.serializers"
ATTEMPTS_KEY = "quizmail.attempts"

Answers = Mapping[str, Collection[str]]


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
    """The app's quizzes, loaded once per app and reloaded when a file changes.

    Every version served is kept under ``VAR_DIR/quiz-versions`` for as long as an attempt
    started on it can be submitted and its results link read.
    """
    return per_app(CATALOG_KEY, _new_catalog)


def _new_catalog() -> QuizCatalog:
    return quiz_catalog(current_app.config["QUESTIONS_DIR"], current_app.config["VAR_DIR"])


# --- attempts ------------------------------------------------------------------------------------


def start_attempt(quiz: Quiz, started_at: datetime) -> tuple[Attempt, str]:
    """A new attempt at *quiz* and its token for the form."""
    attempt = attempt_maker().start(quiz, started_at)
    return attempt, sign_attempt(quiz, attempt)


def sign_attempt(quiz: Quiz, attempt: Attempt) -> str:
    started = attempt.started_at.timestamp()
    payload = {"id": attempt.id, "quiz": quiz.id, "v": quiz.version, "t": started}
    return _serializer(ATTEMPT_SALT).dumps(payload)


def load_attempt(token: str, now: datetime | None = None) -> tuple[Quiz, Attempt]:
    """The quiz and attempt behind a token from a quiz form, refusing stale or altered ones."""
    quiz, attempt = _attempt_from_payload(_loads(ATTEMPT_SALT, token))
    if (now or utcnow()) - attempt.started_at > ATTEMPT_MAX_AGE:
        raise SubmissionRefused(
            "This quiz page has expired",
            "The quiz was opened too long ago. Open it again to start a new attempt.",
        )
    return quiz, attempt


def option_keys(attempt: Attempt) -> tuple[tuple[str, ...], ...]:
    """The form value of every option shown, per question in the order of the attempt.

    A stream from SHAKE-256 keyed with an HMAC of the attempt id, cut into 48-bit values: the
    same for every page of the attempt, unrelated in every other attempt, and useless to anyone
    without the secret key. One hash call per attempt, whatever its number of options.
    """
    counts = [len(option_ids) for option_ids in attempt.option_ids]
    key = attempt_maker().mac(OPTION_KEY_SALT, attempt.id)
    for round_ in range(256):  # 48-bit values collide once in ~10^12 questions: another round
        stream = hashlib.shake_256(key + bytes([round_])).digest(OPTION_KEY_BYTES * sum(counts))
        text = urlsafe_b64encode(stream).decode("ascii")  # 6 bytes are 8 characters, no padding
        values = iter(text[i : i + OPTION_KEY_CHARS] for i in range(0, len(text), OPTION_KEY_CHARS))
        keys = tuple(tuple(itertools.islice(values, count)) for count in counts)
        if all(len(set(question)) == len(question) for question in keys):
            return tuple(keys)
    raise AssertionError("256 rounds of 48-bit keys collided")  # pragma: no cover


def answers_from_keys(
    attempt: Attempt, chosen_keys: Callable[[str], Collection[str]]
) -> dict[str, list[str]]:
    """Question id → chosen option ids, from *chosen_keys* (question id → form values chosen).

    Values that no option of the question has (altered, or from another attempt) are ignored.
    """
    answers: dict[str, list[str]] = {}
    shown = zip(attempt.question_ids, attempt.option_ids, option_keys(attempt), strict=True)
    for qid, option_ids, keys in shown:
        by_key = dict(zip(keys, option_ids, strict=True))
        answers[qid] = [by_key[k] for k in dict.fromkeys(chosen_keys(qid)) if k in by_key]
    return answers


def attempt_maker() -> AttemptMaker:
    """The app's attempts, derived with its secret key (and cached per app: two apps with two
    secret keys derive two attempts of one id)."""
    return per_app(ATTEMPTS_KEY, lambda: AttemptMaker(current_app.config["SECRET_KEY"]))


def _derive_attempt(quiz: Quiz, attempt_id: str, started_at: datetime) -> Attempt:
    """The attempt *attempt_id* names: the same questions and orders on every worker, always."""
    return attempt_maker().derive(quiz, attempt_id, started_at)


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
        "answers": encode_answers(attempt, answers),
        "at": submitted_at.timestamp(),
    }
    return _serializer(RESULT_SALT).dumps(payload)


def load_submission(token: str, now: datetime | None = None) -> Submission:
    """Re-derive the graded submission behind a result token the server issued."""
    payload = _loads(RESULT_SALT, token)
    try:
        # No age limit here: the attempt was checked when submitted; RESULT_MAX_AGE applies.
        quiz, attempt = _attempt_from_payload(_loads(ATTEMPT_SALT, payload["attempt"]))
        answers = decode_answers(attempt, payload["answers"])
        submitted_at = datetime.fromtimestamp(payload["at"], UTC)
    # A valid signature over an odd shape ("answers": 5, "at": 1e300) is still no submission.
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
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


def _attempt_from_payload(payload: Any) -> tuple[Quiz, Attempt]:
    try:
        quiz = _quiz_of(payload["quiz"], payload["v"])
        attempt_id, started = payload["id"], payload["t"]
        if not isinstance(attempt_id, str) or not isinstance(started, int | float):
            raise TypeError("attempt id or start time of the wrong type")
        attempt = _derive_attempt(quiz, attempt_id, datetime.fromtimestamp(started, UTC))
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
        raise _tampered() from exc
    return quiz, attempt


def _quiz_of(quiz_id: str, version: str) -> Quiz:
    """The quiz as it was when the attempt began, even if its file was edited or removed since."""
    catalog = current_catalog()
    quiz = catalog.get_version(quiz_id, version)
    if quiz is not None:
        return quiz
    if catalog.get(quiz_id) is None:
        raise SubmissionRefused(
            "This quiz is no longer available",
            "The quiz you were taking has been removed. Pick another from the list.",
        )
    raise SubmissionRefused(
        "This quiz has changed",
        "The quiz was edited after this attempt began and the version it began with is no"
        " longer kept. Open the quiz again to start a new attempt.",
    )


def attempt_expiry(attempt: Attempt) -> float:
    """When the attempt can no longer be submitted (seconds since the epoch)."""
    return (attempt.started_at + ATTEMPT_MAX_AGE).timestamp()
