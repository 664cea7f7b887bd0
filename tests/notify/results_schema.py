"""The ``quizmail.results/1`` document (docs/results-json.md), checked key by key and by type."""

from __future__ import annotations

import re
from typing import Any

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

TOP_LEVEL = {
    "schema": str,
    "quiz": dict,
    "student": dict,
    "attempt_id": str,
    "submitted_at": str,
    "sent_at": str,
    "score": dict,
    "questions": list,
}
QUIZ = {"id": str, "title": str, "version": str}
STUDENT = {"email": str, "name": (str, type(None))}
SCORE = {
    "points": float,
    "max_points": float,
    "percentage": float,
    "passed": bool,
    "pass_mark": float,
}
QUESTION = {
    "id": str,
    "type": str,
    "chosen": list,
    "correct": list,
    "points": float,
    "max_points": float,
    "is_correct": bool,
}


def _check(value: Any, shape: dict[str, Any], where: str) -> None:
    assert isinstance(value, dict), f"{where} is not an object"
    assert set(value) == set(shape), f"{where} keys {sorted(value)} != {sorted(shape)}"
    for key, kind in shape.items():
        assert isinstance(value[key], kind), f"{where}.{key} is {type(value[key]).__name__}"


def assert_results_document(doc: Any) -> None:
    """Fail unless *doc* (parsed JSON) follows ``quizmail.results/1`` exactly."""
    _check(doc, TOP_LEVEL, "document")
    assert doc["schema"] == "quizmail.results/1"
    _check(doc["quiz"], QUIZ, "quiz")
    _check(doc["student"], STUDENT, "student")
    _check(doc["score"], SCORE, "score")
    assert ISO_UTC.fullmatch(doc["submitted_at"])
    assert ISO_UTC.fullmatch(doc["sent_at"])
    assert 0 <= doc["score"]["percentage"] <= 100
    for index, question in enumerate(doc["questions"]):
        _check(question, QUESTION, f"questions[{index}]")
        assert question["type"] in ("single", "multiple", "true_false")
        assert all(isinstance(text, str) for text in question["chosen"] + question["correct"])
