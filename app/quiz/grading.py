"""Attempts and grading: pure functions of a quiz, what was shown and what was chosen."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from functools import lru_cache

from app.quiz.models import Attempt, Question, QuestionResult, Quiz, Result

ATTEMPT_ID_BITS = 96  # unguessable enough to name one attempt among all of a site's
MAX_LISTED_ORDERS = 6  # up to 720 orders listed; questions with more options are shuffled
ORDERS_CACHE_SIZE = 1024  # distinct option-id tuples: letters a, b, c… make most of them shared


def new_attempt(quiz: Quiz, rng: random.Random, started_at: datetime | None = None) -> Attempt:
    """Pick and order the questions (and their options) one student will see."""
    questions = _pick_questions(quiz, rng)
    return Attempt(
        id=f"{rng.getrandbits(ATTEMPT_ID_BITS):024x}",
        quiz_id=quiz.id,
        quiz_version=quiz.version,
        started_at=started_at or datetime.now(UTC),
        question_ids=tuple(question.id for question in questions),
        option_ids=tuple(_order_options(quiz, question, rng) for question in questions),
    )


def _pick_questions(quiz: Quiz, rng: random.Random) -> list[Question]:
    questions = list(quiz.questions)
    if quiz.pick is not None and quiz.pick < len(questions):
        chosen = set(rng.sample(range(len(questions)), quiz.pick))
        questions = [q for index, q in enumerate(questions) if index in chosen]
    if quiz.shuffle_questions:
        rng.shuffle(questions)
    return questions


def _order_options(quiz: Quiz, question: Question, rng: random.Random) -> tuple[str, ...]:
    ids = question.option_ids
    # True comes before False everywhere, so a true/false question is never shuffled.
    if not quiz.shuffle_options or question.type == "true_false":
        return ids
    if len(ids) > MAX_LISTED_ORDERS:
        return tuple(rng.sample(ids, len(ids)))
    orders = _orders(ids)
    return orders[rng.randrange(len(orders))]


@lru_cache(maxsize=ORDERS_CACHE_SIZE)
def _orders(ids: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Every order of a question's options: one draw picks one, faster than a shuffle."""
    return tuple(itertools.permutations(ids))


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
