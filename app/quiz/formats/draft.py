"""Questions read from another tool's file, before they are a quiz file of ours.

An importer turns its format into :class:`DraftQuestion` s, each with the file and line it came
from, and :class:`~app.quiz.loader.Problem` s for what does not map. :func:`quiz_file` writes
them as our YAML and has the loader itself check the result: a question the loader refuses is
left out and reported at its line in the *source* file, so what is written always passes
``quizmail check``, and the only rules are the loader's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from app.quiz.formats.text import SourceError, decode_source
from app.quiz.loader import ID_PATTERN, Problem, QuizFileError, parse_quiz
from app.quiz.models import QuestionType, Quiz
from app.quiz.versions import MAX_SOURCE_BYTES

__all__ = ["Conversion", "DraftOption", "DraftQuestion", "QuizFile", "quiz_file", "quiz_id_from"]

UNSAFE_IN_ID = re.compile(r"[^A-Za-z0-9_-]+")
ID_LENGTH = 64  # ID_PATTERN's limit
MAX_PASSES = 3  # a question the loader refuses is dropped, then the rest is checked once more


@dataclass(frozen=True)
class DraftOption:
    text: str
    correct: bool = False
    feedback: str | None = None


@dataclass(frozen=True, eq=False)  # one question, told apart by identity
class DraftQuestion:
    path: str  # the source file
    line: int  # where the question starts in it
    type: QuestionType
    text: str
    options: tuple[DraftOption, ...] = ()  # single and multiple
    answer: bool = True  # true_false
    feedback: dict[str, str] = field(default_factory=dict)  # true_false: "true"/"false" → text
    explanation: str | None = None
    name: str | None = None  # the source's own name for it, made into the id when it can be

    def problem(self, message: str) -> Problem:
        return Problem(self.path, self.line, message)


@dataclass
class Conversion:
    """What an importer read from one file."""

    questions: list[DraftQuestion] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    title: str | None = None  # the quiz title the file suggests (a GIFT $CATEGORY)

    def lines_of(self, data: bytes, path: str) -> list[str]:
        """The lines of a source file; none, and the reason as a problem, if it is not text."""
        try:
            return decode_source(data)
        except SourceError as error:
            self.problems.append(Problem(path, error.line, str(error)))
            return []

    def extend(self, other: Conversion) -> None:
        self.questions.extend(other.questions)
        self.problems.extend(other.problems)
        self.title = self.title or other.title


@dataclass(frozen=True)
class QuizFile:
    """A quiz file ready to write: its bytes, the quiz the loader read from them, and every
    problem met on the way (sorted by file and line)."""

    data: bytes
    quiz: Quiz | None
    problems: list[Problem]


def quiz_id_from(name: str, fallback: str = "imported") -> str:
    """A usable quiz or question id from a file stem or a question name: ``Jesus' hometown`` →
    ``Jesus-hometown``; an id that is usable already is kept as it is."""
    candidate = UNSAFE_IN_ID.sub("-", name).strip("-_")[:ID_LENGTH].strip("-_")
    return candidate if ID_PATTERN.fullmatch(candidate) else fallback


def quiz_file(conversion: Conversion, quiz_id: str, title: str | None = None) -> QuizFile:
    """*conversion* as our YAML, checked by the loader; refused questions are left out."""
    problems = list(conversion.problems)
    questions = list(conversion.questions)
    title = title or conversion.title or quiz_id
    for _ in range(MAX_PASSES):
        data, spans = render_yaml(questions, title)
        if len(data) > MAX_SOURCE_BYTES:
            return QuizFile(data, None, _sorted([*problems, _too_big(conversion, len(data))]))
        if not questions:
            return QuizFile(data, None, _sorted(problems))
        try:
            quiz = parse_quiz(data, Path(f"{quiz_id}.yaml"))
        except QuizFileError as error:
            refused = _refused(error.problems, spans, questions)
            if not refused:  # a problem of the quiz itself: nothing to leave out
                return QuizFile(data, None, _sorted(problems + error.problems))
            problems += [q.problem(f"skipped: {message}") for q, message in refused.items()]
            questions = [q for q in questions if q not in refused]
        else:
            return QuizFile(data, quiz, _sorted(problems))
    return QuizFile(data, None, _sorted(problems))


def _too_big(conversion: Conversion, size: int) -> Problem:
    first = conversion.questions[0]
    return Problem(
        first.path,
        1,
        f"the quiz file would take {size / 2**20:.1f} MiB, and quiz files hold at most"
        f" {MAX_SOURCE_BYTES // 2**20} MiB: split the questions into several files",
    )


def _refused(
    found: list[Problem], spans: list[tuple[int, int]], questions: list[DraftQuestion]
) -> dict[DraftQuestion, str]:
    """The loader's problems, each given to the question whose YAML lines hold it."""
    refused: dict[DraftQuestion, str] = {}
    for problem in found:
        for question, (first, last) in zip(questions, spans, strict=True):
            if first <= problem.line <= last:
                refused.setdefault(question, _in_source_terms(problem.message))
    return refused


def _in_source_terms(message: str) -> str:
    """The loader's message without the generated id, which the source file does not show."""
    return re.sub(r"question '[^']*'", "the question", message)


def _sorted(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.path, p.line))


# --- YAML ----------------------------------------------------------------------------------------


#: libyaml's emitter when PyYAML has it (ten times faster for a bank of thousands of questions).
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _QuizDumper(_Dumper):  # type: ignore[valid-type,misc]
    """Block style, keys in the order given, text with line breaks as ``|`` blocks."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_QuizDumper.add_representer(str, _represent_text)


def _dump(value: Any) -> str:
    return yaml.dump(value, Dumper=_QuizDumper, sort_keys=False, allow_unicode=True, width=100)


def render_yaml(
    questions: Sequence[DraftQuestion], title: str
) -> tuple[bytes, list[tuple[int, int]]]:
    """The quiz file's bytes and, per question, the first and last line it takes in them."""
    lines = _dump({"title": title}).splitlines()
    lines.append("questions:")
    spans: list[tuple[int, int]] = []
    for question, question_id in zip(questions, _ids(questions), strict=True):
        chunk = _dump([_question_fields(question, question_id)]).splitlines()
        lines.append(f"  # {question.path}:{question.line}")
        spans.append((len(lines) + 1, len(lines) + len(chunk)))
        lines.extend("  " + line if line else line for line in chunk)
    return ("\n".join(lines) + "\n").encode("utf-8"), spans


def _ids(questions: Sequence[DraftQuestion]) -> list[str]:
    """The source's names where they make unique ids, else ``q<number>``."""
    ids: list[str] = []
    taken: set[str] = set()
    for number, question in enumerate(questions, start=1):
        wanted = quiz_id_from(question.name, "") if question.name else ""
        candidate, suffix = wanted or f"q{number}", 2
        while candidate in taken:
            candidate = f"{wanted or f'q{number}'}-{suffix}"
            suffix += 1
        taken.add(candidate)
        ids.append(candidate)
    return ids


def _question_fields(question: DraftQuestion, question_id: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": question_id}
    if question.type != "single":
        fields["type"] = question.type
    fields["text"] = question.text
    if question.type == "true_false":
        fields["answer"] = question.answer
        if question.feedback:
            fields["feedback"] = dict(question.feedback)
    else:
        fields["options"] = [_option_fields(option) for option in question.options]
    if question.explanation:
        fields["explanation"] = question.explanation
    return fields


def _option_fields(option: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"text": option.text}
    if option.correct:
        fields["correct"] = True
    if option.feedback:
        fields["feedback"] = option.feedback
    return fields
