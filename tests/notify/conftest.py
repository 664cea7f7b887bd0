"""Fixtures for the results email: a known quiz, a graded result, a relay that can be down."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from notify_support import ANSWERS, QUESTIONS_DIR, SUBMITTED_AT, LocalRelay

from app.quiz import Quiz, Result, grade, load_quiz, new_attempt


@pytest.fixture
def quiz() -> Quiz:
    return load_quiz(QUESTIONS_DIR / "smtp.yaml")


@pytest.fixture
def result(quiz: Quiz) -> Result:
    attempt = new_attempt(quiz, random.Random(5), SUBMITTED_AT)
    return grade(quiz, attempt, ANSWERS, SUBMITTED_AT)


@pytest.fixture
def relay() -> Iterator[LocalRelay]:
    """A relay that is *down* until the test calls ``relay.start()``."""
    test_relay = LocalRelay()
    yield test_relay
    test_relay.stop()


@pytest.fixture
def running_relay(relay: LocalRelay) -> LocalRelay:
    return relay.start()
