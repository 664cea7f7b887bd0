"""Benchmark: the item analysis of 5,000 attempts at a 40-question quiz.

Measured against what the gradebook computed before it, in the same run: the mean, spread and
facility per question (``gradebook.quiz_statistics``). Both read the same gradebook rows, built
once from generated results (students of varied ability, four options per question, some of
them multiple answer). Rounds alternate between the two so that other load on the machine falls
on both; the script prints the medians and their ratio and exits 1 if a target is missed.

    .venv/bin/python bench/item_analysis.py
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.store.answers import Answer
from app.store.gradebook import Entry, quiz_statistics
from app.store.item_analysis import analyse

ATTEMPTS = 5_000
QUESTIONS = 40
OPTIONS = ("first", "second", "third", "fourth")
ROUNDS = 7
TARGET_SECONDS = 1.0  # the whole analysis of one quiz, on this 2-core machine
TARGET_RATIO = 3.0  # at most three times today's mean and facility


def rows(seed: int = 17) -> list[Entry]:
    """Gradebook rows of ATTEMPTS students: a student of ability *a* answers a question of
    difficulty *d* right with probability a·(1 − d); wrong answers spread over the distractors."""
    rng = random.Random(seed)
    difficulty = [rng.uniform(0.05, 0.8) for _ in range(QUESTIONS)]
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    return [_row(n, rng.random(), difficulty, rng, start) for n in range(ATTEMPTS)]


def _row(
    n: int, ability: float, difficulty: list[float], rng: random.Random, start: datetime
) -> Entry:
    answers = tuple(_answer(q, ability * (1 - d), rng) for q, d in enumerate(difficulty))
    points = sum(a.points for a in answers)
    when = start + timedelta(seconds=n)
    return Entry(
        student_email=f"student{n}@example.org",
        student_name=f"Student {n}",
        quiz_id="bench",
        quiz_title="Benchmark quiz",
        attempt_id=f"attempt-{n:05d}",
        submitted_at=when,
        sent_at=when + timedelta(seconds=3),
        points=points,
        max_points=float(QUESTIONS),
        percentage=100 * points / QUESTIONS,
        passed=points >= QUESTIONS / 2,
        questions=tuple((a.question_id, a.points == a.max_points) for a in answers),
        message_id=f"<bench-{n}@example.org>",
        quiz_version="0123456789ab",
        answers=answers,
    )


def _answer(question: int, p_right: float, rng: random.Random) -> Answer:
    right = rng.random() < p_right
    if question % 5 == 4:  # multiple answer: the first two options are right
        chosen = ("first", "second") if right else tuple(sorted(rng.sample(OPTIONS, 2)))
        points = 1.0 if right else max(0.0, (len({"first", "second"} & set(chosen)) - 1) / 2)
        correct: tuple[str, ...] = ("first", "second")
    else:
        chosen = ("first",) if right else (rng.choice(OPTIONS[1:]),)
        points, correct = float(right), ("first",)
    return Answer(f"q{question + 1}", "multiple" if question % 5 == 4 else "single", chosen,
                  correct, points, 1.0)  # fmt: skip


def seconds(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def main() -> int:
    entries = rows()
    timings: dict[str, list[float]] = {"analysis": [], "mean and facility": []}
    for _ in range(ROUNDS):
        timings["mean and facility"].append(seconds(lambda: quiz_statistics(entries)))
        timings["analysis"].append(seconds(lambda: analyse(entries)))
    ours = statistics.median(timings["analysis"])
    peer = statistics.median(timings["mean and facility"])
    print(f"{ATTEMPTS} attempts × {QUESTIONS} questions, median of {ROUNDS} rounds")
    print(f"  item analysis:           {ours * 1000:7.1f} ms  (target < {TARGET_SECONDS:g} s)")
    print(f"  mean and facility only:  {peer * 1000:7.1f} ms")
    print(f"  ratio: {ours / peer:.2f}×  (target ≤ {TARGET_RATIO:g}×)")
    return 0 if ours < TARGET_SECONDS and ours / peer <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
