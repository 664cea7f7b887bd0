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

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from werkzeug.exceptions import BadRequest

from app.quiz import Attempt, Quiz, QuizCatalog, Result, grade

ATTEMPT_SALT = "quizmail.attempt/1"
RESULT_SALT = "quizmail.result/1"
ATTEMPT_MAX_AGE = timedelta(hours=24)  # a quiz page left open overnight must be reloaded
RESULT_MAX_AGE = timedelta(days=90)  # results can be revisited and emailed for a term
LATE_GRACE = timedelta(seconds=30)  # the trip from the page's timer to the server
CATALOG_KEY = "quizmail.catalog"
SERIALIZERS_KEY = "quizmail.serializers"

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
    """The app's quizzes, loaded once per app and reloaded when a file changes."""
    extensions = current_app.extensions
    if CATALOG_KEY not in extensions:
        extensions[CATALOG_KEY] = QuizCatalog(current_app.config["QUESTIONS_DIR"])
    catalog: QuizCatalog = extensions[CATALOG_KEY]
    return catalog


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
        minutes = int(quiz.time_limit.total_seconds() // 60) if quiz.time_limit else 0
        raise SubmissionRefused(
            "Time is up",
            f"This quiz allows {minutes} minutes and your answers arrived after the deadline,"
            " so they were not graded. You can start a new attempt.",
        )


# --- submissions ---------------------------------------------------------------------------------


def sign_submission(quiz: Quiz, attempt: Attempt, answers: Answers, submitted_at: datetime) -> str:
    payload = {
        "attempt": _attempt_payload(quiz, attempt),
        "answers": _answer_positions(attempt, answers),
        "at": submitted_at.timestamp(),
    }
    return _serializer(RESULT_SALT).dumps(payload)


def load_submission(token: str, now: datetime | None = None) -> Submission:
    """Re-derive the graded submission behind a result token the server issued."""
    payload = _loads(RESULT_SALT, token)
    try:
        quiz, attempt = _attempt_from_payload(payload["attempt"])
        answers = _answers_from_positions(attempt, payload["answers"])
        submitted_at = datetime.fromtimestamp(payload["at"], UTC)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise _tampered() from exc
    if (now or utcnow()) - submitted_at > RESULT_MAX_AGE:
        raise SubmissionRefused("These results have expired", "Take the quiz again.")
    result = grade(quiz, attempt, answers, submitted_at)
    return Submission(quiz, attempt, answers, submitted_at, result)


# --- encoding ------------------------------------------------------------------------------------


def _serializer(salt: str) -> URLSafeSerializer:
    """One serializer per app and salt: deriving its key costs a hash on every request otherwise."""
    serializers: dict[str, URLSafeSerializer] = current_app.extensions.setdefault(
        SERIALIZERS_KEY, {}
    )
    if salt not in serializers:
        serializers[salt] = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)
    return serializers[salt]


def _loads(salt: str, token: str) -> Any:
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
    pairs = zip(attempt.question_ids, attempt.option_ids, strict=True)
    order = [_positions(quiz, qid, option_ids) for qid, option_ids in pairs]
    started = attempt.started_at.timestamp()
    return {"id": attempt.id, "quiz": quiz.id, "v": quiz.version, "t": started, "o": order}


def _positions(quiz: Quiz, question_id: str, option_ids: tuple[str, ...]) -> list[Any]:
    """A question and its options in the order shown, as positions in the quiz file."""
    question = quiz.question(question_id)
    return [quiz.question_position(question_id), [question.option_position(o) for o in option_ids]]


def _attempt_from_payload(payload: Any) -> tuple[Quiz, Attempt]:
    try:
        quiz = _quiz_of(payload["quiz"], payload["v"])
        questions = [(quiz.questions[qi], option_indexes) for qi, option_indexes in payload["o"]]
        attempt = Attempt(
            id=str(payload["id"]),
            quiz_id=quiz.id,
            quiz_version=quiz.version,
            started_at=datetime.fromtimestamp(payload["t"], UTC),
            question_ids=tuple(question.id for question, _ in questions),
            option_ids=tuple(tuple(q.options[i].id for i in order) for q, order in questions),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise _tampered() from exc
    return quiz, attempt


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


def _answer_positions(attempt: Attempt, answers: Answers) -> list[list[int]]:
    """Per question shown, the positions (in the order shown) of the options chosen."""
    return [
        [position for position, oid in enumerate(option_ids) if oid in answers.get(qid, ())]
        for qid, option_ids in zip(attempt.question_ids, attempt.option_ids, strict=True)
    ]


def _answers_from_positions(
    attempt: Attempt, positions: list[list[int]]
) -> dict[str, tuple[str, ...]]:
    if len(positions) != len(attempt.question_ids):
        raise ValueError("answers do not match the attempt")
    return {
        qid: tuple(option_ids[p] for p in chosen)
        for qid, option_ids, chosen in zip(
            attempt.question_ids, attempt.option_ids, positions, strict=True
        )
    }
