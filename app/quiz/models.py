"""The quiz domain: what a quiz is, what a student was shown, and how it scored.

Every model is a frozen dataclass so a loaded quiz can be shared by every request of a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Literal, Protocol, TypeVar

QuestionType = Literal["single", "multiple", "true_false"]
Scoring = Literal["partial", "all-or-nothing"]
#: When a student's review shows the right answers, the feedback, the explanations and the marks
#: of each question (the score itself is always shown): as soon as the attempt is graded, once
#: the quiz has closed, or never (Moodle's review options, reduced to what a class needs).
ReviewAnswers = Literal["immediately", "after_close", "never"]
Outcome = Literal["correct", "partial", "incorrect", "unanswered"]

#: How an outcome reads on the results page and in the email.
OUTCOME_LABELS: dict[Outcome, str] = {
    "correct": "Correct",
    "partial": "Partly correct",
    "incorrect": "Incorrect",
    "unanswered": "Not answered",
}


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_Item = TypeVar("_Item", bound=_HasId)


def _index_by_id(items: tuple[_Item, ...]) -> dict[str, tuple[int, _Item]]:
    """Position and item by id: look-ups per request stay O(1) (frozen models cache it)."""
    return {item.id: (position, item) for position, item in enumerate(items)}


@dataclass(frozen=True)
class Option:
    id: str
    text: str  # Markdown source
    correct: bool = False
    feedback: str | None = None  # Markdown source, shown in the review when this option was chosen


@dataclass(frozen=True)
class Question:
    id: str
    type: QuestionType
    text: str  # Markdown source
    options: tuple[Option, ...]
    points: float = 1.0
    explanation: str | None = None  # Markdown source, shown in the review

    @cached_property
    def correct_ids(self) -> frozenset[str]:
        return frozenset(option.id for option in self.options if option.correct)

    @cached_property
    def option_ids(self) -> tuple[str, ...]:
        return tuple(option.id for option in self.options)

    def option(self, option_id: str) -> Option:
        return self._options_by_id[option_id][1]

    def options_in(self, option_ids: tuple[str, ...]) -> tuple[Option, ...]:
        """The options in the order *option_ids* gives (e.g. as one attempt showed them)."""
        by_id = self._options_by_id
        return tuple(by_id[option_id][1] for option_id in option_ids)

    def option_position(self, option_id: str) -> int:
        return self._options_by_id[option_id][0]

    @cached_property
    def _options_by_id(self) -> dict[str, tuple[int, Option]]:
        return _index_by_id(self.options)


@dataclass(frozen=True)
class Quiz:
    id: str  # the file stem
    title: str
    description: str
    version: str  # short sha256 of the file bytes: a changed file is a new version
    questions: tuple[Question, ...]
    pass_mark: float = 0.5  # fraction 0..1
    shuffle_questions: bool = False
    shuffle_options: bool = False
    pick: int | None = None
    time_limit: timedelta | None = None
    scoring: Scoring = "partial"
    closes: datetime | None = None  # UTC; no new attempts after it, those under way end at it
    review: ReviewAnswers = "immediately"

    @property
    def question_count(self) -> int:
        """How many questions one attempt shows."""
        return self.pick or len(self.questions)

    def is_closed(self, at: datetime) -> bool:
        return self.closes is not None and at >= self.closes

    def shows_answers(self, at: datetime) -> bool:
        """Whether a review seen at *at* shows the right answers (see :data:`ReviewAnswers`)."""
        if self.review == "after_close":
            return self.is_closed(at)
        return self.review == "immediately"

    def question(self, question_id: str) -> Question:
        return self._questions_by_id[question_id][1]

    def question_position(self, question_id: str) -> int:
        return self._questions_by_id[question_id][0]

    @cached_property
    def _questions_by_id(self) -> dict[str, tuple[int, Question]]:
        return _index_by_id(self.questions)


@dataclass(frozen=True)
class Attempt:
    """What one student was shown: which questions, in which order, with options in which order."""

    id: str
    quiz_id: str
    quiz_version: str
    started_at: datetime
    question_ids: tuple[str, ...]
    option_ids: tuple[tuple[str, ...], ...]  # per question, in the order shown

    def deadline(self, quiz: Quiz) -> datetime | None:
        """The time limit's end or the quiz's close, whichever comes first."""
        ends = [self.started_at + quiz.time_limit] if quiz.time_limit else []
        ends += [quiz.closes] if quiz.closes else []
        return min(ends, default=None)


@dataclass(frozen=True)
class QuestionResult:
    question: Question
    options_shown: tuple[Option, ...]  # in the order shown
    chosen: frozenset[str]  # option ids
    points: float
    max_points: float

    @property
    def is_correct(self) -> bool:
        """Full marks."""
        return self.points >= self.max_points

    @property
    def outcome(self) -> Outcome:
        if not self.chosen:
            return "unanswered"
        if self.is_correct:
            return "correct"
        return "partial" if self.points > 0 else "incorrect"

    @property
    def verdict(self) -> str:
        return OUTCOME_LABELS[self.outcome]


@dataclass(frozen=True)
class Result:
    quiz: Quiz
    attempt: Attempt
    points: float
    max_points: float
    percentage: float  # 0..100
    passed: bool
    submitted_at: datetime
    questions: tuple[QuestionResult, ...]
