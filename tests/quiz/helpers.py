"""What the quiz tests share: a small valid quiz file and a clock the test moves."""

from __future__ import annotations

QUIZ = """\
title: {title}
questions:
  - id: q
    text: Why?
    options: [{{text: a, correct: true}}, {{text: b}}]
"""


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
