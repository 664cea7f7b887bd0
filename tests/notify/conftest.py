"""Fixtures for the results email: a known quiz, a graded result, an app that uses them."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.quiz import Quiz, Result, grade, load_quiz, new_attempt

QUESTIONS_DIR = Path(__file__).parent / "questions"
SUBMITTED_AT = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
#: Right, half right (one of two correct options), wrong, right: 2.5 of 4 points.
ANSWERS = {
    "smtp-port": ["p25"],
    "required-headers": ["from"],
    "dot-stuffing": ["escaped"],
    "crlf": ["true"],
}


@pytest.fixture
def quiz() -> Quiz:
    return load_quiz(QUESTIONS_DIR / "smtp.yaml")


@pytest.fixture
def result(quiz: Quiz) -> Result:
    attempt = new_attempt(quiz, random.Random(5), SUBMITTED_AT)
    return grade(quiz, attempt, ANSWERS, SUBMITTED_AT)
