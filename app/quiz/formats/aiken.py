"""Moodle's Aiken format → our quizzes: single-answer questions, plain text, no feedback.

::

    What is the correct answer to this question?
    A. Is it this one?
    B) Maybe this answer?
    ANSWER: B

The question text comes first (one line in Moodle's documentation; several are joined), then
options, each a capital letter, ``.`` or ``)``, a space and its text, then ``ANSWER:`` and the
letter of the right one. Blank lines between questions are optional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.quiz.formats.draft import Conversion, DraftOption, DraftQuestion
from app.quiz.formats.text import escape_markdown
from app.quiz.loader import Problem

__all__ = ["read_aiken"]

OPTION = re.compile(r"^([A-Z])[.)][ \t]+(.*)$")
ANSWER = re.compile(r"^ANSWER:\s*(.*)$")
ANSWER_ANY_CASE = re.compile(r"^answer\s*:", re.IGNORECASE)


@dataclass
class _Open:
    """The question being read."""

    line: int
    text: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)  # letter → text, in file order
    broken: str | None = None  # why it cannot be imported; reported at its ANSWER line


def read_aiken(data: bytes, path: str) -> Conversion:
    """Every question of an Aiken file, and the file's problems."""
    conversion = Conversion()
    lines = conversion.lines_of(data, path)
    current: _Open | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if current is None:
            current = _Open(number)
        if ANSWER_ANY_CASE.match(line):  # ends the question, well written or not
            answer = ANSWER.match(line)
            if answer is None:
                current.broken = current.broken or f"line {number}: write ANSWER: in capitals"
            _finish(current, answer[1].strip() if answer else "", path, conversion)
            current = None
        else:
            _read_line(current, line, number)
    if current is not None:
        conversion.problems.append(
            Problem(path, current.line, "skipped: the question has no ANSWER: line")
        )
    return conversion


def _read_line(current: _Open, line: str, number: int) -> None:
    option = OPTION.match(line)
    if option and option[1] in current.options:
        current.broken = current.broken or f"line {number}: a second option {option[1]}"
    elif option:
        current.options[option[1]] = option[2].strip()
    elif current.options:
        current.broken = current.broken or (
            f"line {number} is neither an option ('B. …') nor the ANSWER: line"
        )
    else:
        current.text.append(line)


def _finish(current: _Open, letter: str, path: str, conversion: Conversion) -> None:
    problem = current.broken or _answer_problem(current, letter)
    if problem:
        conversion.problems.append(Problem(path, current.line, f"skipped: {problem}"))
        return
    options = tuple(
        DraftOption(escape_markdown(text), key == letter) for key, text in current.options.items()
    )
    text = "\\\n".join(escape_markdown(line) for line in current.text)
    conversion.questions.append(DraftQuestion(path, current.line, "single", text, options))


def _answer_problem(current: _Open, letter: str) -> str | None:
    if not current.text:
        return "options without a question text before them"
    if not current.options:
        return "a question without options (A. …, B. …)"
    if letter not in current.options:
        letters = ", ".join(current.options)
        return f"ANSWER: {letter or '(nothing)'} names none of the options {letters}"
    return None
