"""Moodle's test statistics of a quiz's total scores: mean, median, standard deviation,
skewness and kurtosis (k-statistics), the coefficient of internal consistency (Cronbach's α),
the error ratio and the standard error. Each is ``None`` when the attempts cannot give it
(one attempt, or no spread in the scores), and a note says why.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["EPSILON", "NEEDS_TWO", "NOT_ENOUGH_SPREAD", "TestStatistics", "test_statistics"]

#: Variances below this are no spread at all (marks are rounded to 0.01).
EPSILON = 1e-9
NOT_ENOUGH_SPREAD = "not enough spread to compute"
NEEDS_TWO = "needs two or more attempts"


@dataclass(frozen=True)
class TestStatistics:
    attempts: int
    mean: float | None  # percentages of the maximum score
    median: float | None
    sd: float | None
    skewness: float | None
    kurtosis: float | None
    alpha: float | None  # percent, as Moodle shows the CIC
    error_ratio: float | None
    standard_error: float | None


def test_statistics(
    scores: list[float],
    totals: list[float],
    mark_variances: list[float],
    same_questions: bool,
    notes: list[str],
) -> TestStatistics:
    n = len(scores)
    mean = math.fsum(scores) / n
    blank = dict.fromkeys(("sd", "skewness", "kurtosis", "alpha", "error_ratio", "standard_error"))
    if n < 2:
        notes.append(f"Standard deviation, skewness, kurtosis and the CIC {NEEDS_TWO}.")
        return TestStatistics(n, mean, _median(scores), **blank)
    moments = _moments(scores, mean)
    k2 = moments[0] * n / (n - 1)
    sd = math.sqrt(k2)
    if k2 <= EPSILON:
        notes.append(f"Every attempt has the same score: {NOT_ENOUGH_SPREAD} the rest.")
        return TestStatistics(n, mean, _median(scores), sd, None, None, None, None, None)
    skewness, kurtosis = _shape(n, moments, k2)
    alpha = _alpha(totals, mark_variances, same_questions, notes)
    error_ratio = 100 * math.sqrt(max(0.0, 1 - alpha / 100)) if alpha is not None else None
    standard_error = error_ratio * sd / 100 if error_ratio is not None else None
    if n < 4:
        notes.append("Skewness needs three attempts and kurtosis four.")
    return TestStatistics(
        n, mean, _median(scores), sd, skewness, kurtosis, alpha, error_ratio, standard_error
    )


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _moments(values: Sequence[float], mean: float) -> tuple[float, float, float]:
    """The second, third and fourth central moments (divided by n), as Moodle sums them."""
    deviations = [v - mean for v in values]
    squares = [d * d for d in deviations]
    n = len(values)
    return (
        math.fsum(squares) / n,
        sum(map(operator.mul, squares, deviations)) / n,
        sum(map(operator.mul, squares, squares)) / n,
    )


def _shape(n: int, moments: tuple[float, float, float], k2: float) -> tuple[float | None, ...]:
    """Moodle's skewness ``k3 / k2^1.5`` (three attempts or more) and kurtosis ``k4 / k2²``
    (four or more), from the k-statistics."""
    m2, m3, m4 = moments
    skewness = kurtosis = None
    if n > 2:
        k3 = n * n * m3 / ((n - 1) * (n - 2))
        skewness = k3 / k2**1.5
    if n > 3:
        k4 = n * n * ((n + 1) * m4 - 3 * (n - 1) * m2 * m2) / ((n - 1) * (n - 2) * (n - 3))
        kurtosis = k4 / (k2 * k2)
    return skewness, kurtosis


def _alpha(
    totals: list[float], mark_variances: list[float], same_questions: bool, notes: list[str]
) -> float | None:
    """Moodle's CIC, in percent, on raw marks (a variance per question)."""
    p = len(mark_variances)
    if not same_questions:
        notes.append(
            "The CIC, error ratio and standard error need every attempt to show the same"
            " questions; this quiz picks them at random."
        )
        return None
    if p < 2:
        notes.append("The CIC, error ratio and standard error need two or more questions.")
        return None
    total_variance = _variance(totals)
    if total_variance <= EPSILON:
        notes.append(f"Totals do not vary: {NOT_ENOUGH_SPREAD} the CIC.")
        return None
    return 100 * p / (p - 1) * (1 - math.fsum(mark_variances) / total_variance)


def _variance(values: Sequence[float]) -> float:
    mean = math.fsum(values) / len(values)
    deviations = [v - mean for v in values]
    return sum(map(operator.mul, deviations, deviations)) / (len(values) - 1)
