"""What a results email says of each question: the answer given, for item analysis.

Read leniently from ``results.json``'s ``questions[]`` (docs/results-json.md): a field that is
missing or of the wrong type is read as "not known" rather than making the whole email
unreadable, since the row it belongs to is still good (the gradebook decides what is readable).
Options are known by their text, which is what results.json names them by: the same option has
the same text in every attempt of one quiz version, whatever order it was shown in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.words import LONE_SURROGATE

__all__ = ["Answer", "read_answer"]

QUESTION_TYPES = ("single", "multiple", "true_false")


@dataclass(frozen=True, slots=True)  # slots: a gradebook holds one per question per attempt
class Answer:
    """One question of one attempt."""

    question_id: str
    type: str  # single, multiple, true_false; "" when results.json does not say
    chosen: tuple[str, ...]  # the texts of the options chosen
    correct: tuple[str, ...] | None  # the right options' texts; None while the quiz holds them back
    points: float
    max_points: float


def read_answer(question: dict[str, Any], question_id: str, is_correct: bool) -> Answer:
    """The answer in one ``questions[]`` object (whose id and is_correct are read already)."""
    max_points = _number(question.get("max_points"), 1.0)
    return Answer(
        question_id=question_id,
        type=kind if (kind := question.get("type")) in QUESTION_TYPES else "",
        chosen=_texts(question.get("chosen")) or (),
        correct=_texts(question.get("correct")),
        points=_number(question.get("points"), max_points if is_correct else 0.0),
        max_points=max_points,
    )


def _texts(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(LONE_SURROGATE.sub("\ufffd", v) for v in value if isinstance(v, str))


def _number(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    try:
        number = float(value)
    except OverflowError:
        return default
    return number if math.isfinite(number) else default
