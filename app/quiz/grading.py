"""Attempts and grading: pure functions of a quiz, what was shown and what was chosen."""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from app.quiz.models import Attempt, Question, QuestionResult, Quiz, Result

_T = TypeVar("_T")


def new_attempt(
    quiz: Quiz,
    rng: random.Random,
    started_at: datetime | None = None,
    *,
    attempt_id: str | None = None,
) -> Attempt:
    """Pick and order the questions (and their options) one student will see.

    Only ``rng.random()`` is used, whose sequence for a given seed Python promises never to
    change; so an attempt seeded from its id (app/web/submissions.py) can be derived again, the
    same, by any worker and any later Python, for as long as its results link lives.
    """
    if attempt_id is None:
        attempt_id = f"{int(rng.random() * 2**53):014x}{int(rng.random() * 2**43):011x}"
    questions = _pick_questions(quiz, rng)
    return Attempt(
        id=attempt_id,
        quiz_id=quiz.id,
        quiz_version=quiz.version,
        started_at=started_at or datetime.now(UTC),
        question_ids=tuple(question.id for question in questions),
        option_ids=tuple(_order_options(quiz, question, rng) for question in questions),
    )


def _pick_questions(quiz: Quiz, rng: random.Random) -> list[Question]:
    questions = list(quiz.questions)
    if quiz.pick is not None and quiz.pick < len(questions):
        chosen = sorted(shuffled(range(len(questions)), rng)[: quiz.pick])
        questions = [questions[index] for index in chosen]
    return shuffled(questions, rng) if quiz.shuffle_questions else questions


def _order_options(quiz: Quiz, question: Question, rng: random.Random) -> tuple[str, ...]:
    # True comes before False everywhere, so a true/false question is never shuffled.
    if not quiz.shuffle_options or question.type == "true_false":
        return question.option_ids
    return tuple(shuffled(question.option_ids, rng))


def shuffled(items: Iterable[_T], rng: random.Random) -> list[_T]:
    """Fisher–Yates on ``rng.random()`` alone (``random.shuffle`` may change between versions).

    Scaling a 53-bit float to *i + 1* slots favours some slots by at most (i + 1) / 2**53.
    """
    result = list(items)
    for i in range(len(result) - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        result[i], result[j] = result[j], result[i]
    return result


def grade(
    quiz: Quiz,
    attempt: Attempt,
    answers: Mapping[str, Collection[str]],
    submitted_at: datetime,
) -> Result:
    """Score *answers* (question id → chosen option ids) for the questions *attempt* showed.

    Answers to questions that were not shown, and option ids that were not offered, are ignored.
    """
    results = tuple(
        _grade_question(quiz, quiz.question(qid), option_ids, answers.get(qid, ()))
        for qid, option_ids in zip(attempt.question_ids, attempt.option_ids, strict=True)
    )
    # fsum is correctly rounded, so the total cannot depend on the order the questions were
    # shown in: sum() of 0.5 + 1/6 + … in two orders can differ in the last bit.
    points = math.fsum(result.points for result in results)
    max_points = math.fsum(result.max_points for result in results)
    fraction = points / max_points if max_points else 0.0
    return Result(
        quiz=quiz,
        attempt=attempt,
        points=points,
        max_points=max_points,
        percentage=100 * fraction,
        passed=round(fraction, 9) >= quiz.pass_mark,
        submitted_at=submitted_at,
        questions=results,
    )


def _grade_question(
    quiz: Quiz, question: Question, option_ids: tuple[str, ...], chosen: Collection[str]
) -> QuestionResult:
    picked = frozenset(chosen).intersection(option_ids) if chosen else frozenset()
    return QuestionResult(
        question=question,
        options_shown=question.options_in(option_ids),
        chosen=picked,
        points=question_points(quiz, question, picked),
        max_points=question.points,
    )


def question_points(quiz: Quiz, question: Question, chosen: frozenset[str]) -> float:
    """Single answer and all-or-nothing: full marks for exactly the correct set, else none.

    Partial credit (multiple answer): each correct option chosen earns ``points / #correct``, each
    wrong option chosen takes the same share away, and the total never drops below zero.
    """
    correct = question.correct_ids
    if chosen == correct:
        return question.points
    if question.type != "multiple" or quiz.scoring == "all-or-nothing":
        return 0.0
    right, wrong = len(chosen & correct), len(chosen - correct)
    return max(0.0, question.points * (right - wrong) / len(correct))
