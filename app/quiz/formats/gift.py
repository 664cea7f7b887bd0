"""Moodle's GIFT format ↔ our quizzes: :func:`read_gift` imports, :func:`write_gift` exports.

Read as Moodle's own importer reads it (question/format/gift/format.php), so a file that
imports into Moodle imports here with the same meaning:

- Questions are separated by blank lines; a line starting with ``//`` is a comment.
- ``::name::`` names a question, ``$CATEGORY: path`` starts a category (we take the quiz title
  from the first one), ``[html]``, ``[moodle]``, ``[plain]`` or ``[markdown]`` gives a text's
  format (``moodle`` by default).
- The answers are between the first ``{`` and the first ``}``; text after the ``}`` makes it a
  "missing word" question, shown with ``_____`` in place of the answers.
- ``=`` marks the right answer, ``~`` a wrong one, ``~%50%`` a weight (negative for a penalty);
  without any ``=`` the question is multiple answer, its right options those with a positive
  weight. ``#`` starts an answer's feedback; ``####`` the general feedback (our explanation).
- ``{T}``, ``{TRUE}``, ``{F}``, ``{FALSE}`` is true/false, ``#wrong feedback#right feedback``.
- ``\\~ \\= \\# \\{ \\} \\:`` are the characters themselves, ``\\\\`` a backslash, ``\\n`` a line
  break.

Matching (``=a -> b``), numerical (``{#…}``), short-answer (only ``=``), essay (``{}``) and
description items (no braces) are reported as skipped. Weights our scoring cannot reproduce are
reported, and the question is kept with our scoring.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from app.quiz.formats.draft import Conversion, DraftOption, DraftQuestion
from app.quiz.formats.text import from_format
from app.quiz.loader import Problem
from app.quiz.models import Option, Question, Quiz

__all__ = ["read_gift", "write_gift"]

#: Moodle's escapes, each held by a Unicode noncharacter (never in interchange text) while the
#: structure is read, as Moodle holds them by ``&&058;`` and the like.
ESCAPES = {":": "\ufdd0", "#": "\ufdd1", "=": "\ufdd2", "{": "\ufdd3", "}": "\ufdd4", "~": "\ufdd5"}
ESCAPE = re.compile(r"\\([\\:#=\{\}~n])")
UNESCAPE = {held: char for char, held in ESCAPES.items()}
PLACEHOLDER = re.compile("[\ufdd0-\ufdd5]")
TEXT_FORMATS = ("html", "moodle", "plain", "markdown")
FORMAT_PREFIX = re.compile(r"^\[([a-z]+)\]")
WEIGHT = re.compile(r"^%(-?\d+(?:\.\d*)?)%")
TRUE_FALSE = {"T": True, "TRUE": True, "F": False, "FALSE": False}
MISSING_WORD = "_____"  # what Moodle shows in place of the answers of a "missing word" question
BLANK = "\ufddf"  # holds MISSING_WORD's place while the text is made Markdown (no escaping)
CATEGORY = "$CATEGORY:"
CATEGORY_SEPARATOR = re.compile(r"(?<!/)/(?!/)")  # Moodle: "//" is a "/" inside a name
CATEGORY_ROOTS = ("$course$", "$system$", "$module$", "$cat1$", "top")
WEIGHT_TOLERANCE = 0.001  # Moodle writes 100/3 as 33.33333
SKIPPED = {
    "description": "a GIFT description is text without a question",
    "essay": "GIFT essay questions are not multiple choice",
    "numerical": "GIFT numerical questions are not multiple choice",
    "matching": "GIFT matching questions are not multiple choice",
    "short answer": "GIFT short-answer questions are not multiple choice",
}


@dataclass(frozen=True)
class _Block:
    """One question's text as Moodle joins it: comment lines blanked, escapes held."""

    text: str
    line: int  # of its first line in the file

    def line_at(self, position: int) -> int:
        return self.line + self.text.count("\n", 0, position)


#: What a question's import changed, each with its line (0: the question's first line).
Notes = list[tuple[int, str]]


class _Skip(Exception):
    """This question is not imported; the message says why."""


def read_gift(data: bytes, path: str) -> Conversion:
    """Every multiple-choice and true/false question of a GIFT file, and the file's problems."""
    conversion = Conversion()
    lines = conversion.lines_of(data, path)
    for block in _blocks(lines):
        _read_block(block, path, conversion)
    return conversion


def _blocks(lines: list[str]) -> Iterator[_Block]:
    """Runs of non-blank lines; a comment line is blank text inside its run (as in Moodle)."""
    start, held = 0, list[str]()
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            if not held:
                start = number
            held.append(" " if line.strip().startswith("//") else line)
            continue
        text = "\n".join(held).strip()
        if text:
            leading = len("\n".join(held)) - len("\n".join(held).lstrip())
            yield _Block(_hold_escapes(text), start + "\n".join(held)[:leading].count("\n"))
        held = []


def _hold_escapes(text: str) -> str:
    return ESCAPE.sub(lambda m: "\n" if m[1] == "n" else ESCAPES.get(m[1], "\\"), text)


def _release(text: str) -> str:
    return PLACEHOLDER.sub(lambda m: UNESCAPE[m[0]], text)


def _read_block(block: _Block, path: str, conversion: Conversion) -> None:
    if block.text.startswith(CATEGORY):
        _category(block, path, conversion)
        return
    try:
        question, notes = _question(block, path)
    except _Skip as skip:
        conversion.problems.append(Problem(path, block.line, f"skipped: {skip}"))
    else:
        conversion.questions.append(question)
        conversion.problems.extend(Problem(path, line or block.line, note) for line, note in notes)


def _category(block: _Block, path: str, conversion: Conversion) -> None:
    """The first category names the quiz; QuizMail quizzes have no categories of their own."""
    given = _release(block.text[len(CATEGORY) :]).strip()
    names = [s.replace("//", "/").strip() for s in CATEGORY_SEPARATOR.split(given)]
    names = [name for name in names if name and name not in CATEGORY_ROOTS]
    if not names:
        return
    if conversion.title is None:
        conversion.title = names[-1]
    elif names[-1] != conversion.title:
        message = f"category {'/'.join(names)!r} joins the quiz {conversion.title!r}"
        conversion.problems.append(Problem(path, block.line, message))


# --- one question --------------------------------------------------------------------------------


@dataclass
class _Parts:
    name: str | None
    text: str  # the question text, with "_____" where a missing word's answers were
    answers: str  # between the braces, general feedback removed
    general_feedback: str
    answers_at: int  # position of the "{" in the block, for line numbers


def _question(block: _Block, path: str) -> tuple[DraftQuestion, Notes]:
    parts = _split(block)
    text_format, question_text = _text_format(parts.text, "moodle")
    notes: Notes = []
    text = _markdown(question_text, text_format, "the question text", notes)
    text = text.replace(BLANK, MISSING_WORD)
    explanation = _markdown(parts.general_feedback, text_format, "the general feedback", notes)
    kind = _kind(parts.answers)
    if kind == "true_false":
        answer, feedback = _true_false(parts.answers, text_format, notes)
        return DraftQuestion(
            path,
            block.line,
            "true_false",
            text,
            answer=answer,
            feedback=feedback,
            explanation=explanation or None,
            name=parts.name,
        ), notes
    if kind != "multichoice":
        raise _Skip(SKIPPED[kind])
    options, multiple = _choices(parts, block, text_format, notes)
    return DraftQuestion(
        path,
        block.line,
        "multiple" if multiple else "single",
        text,
        options=options,
        explanation=explanation or None,
        name=parts.name,
    ), notes


def _split(block: _Block) -> _Parts:
    """Name, text and answers, as Moodle finds them; braces that do not pair are a problem."""
    text, name = block.text, None
    if text.startswith("::"):
        end = text.find("::", 2)
        if end != -1:
            name = _release(text[2:end]).strip()
            text = text[end + 2 :].strip()
    offset = len(block.text) - len(text)
    start, finish = text.find("{"), text.find("}")
    if start == -1 and finish == -1:
        raise _Skip(SKIPPED["description"])
    _check_braces(text, start, finish, block, offset)
    answers = text[start + 1 : finish].strip()
    after = text[finish + 1 :]
    question_text = text[:start] + BLANK + after if after.strip() else text[:start]
    general = ""
    if "####" in answers:
        answers, general = answers[: answers.rindex("####")].strip(), answers.rsplit("####", 1)[1]
    return _Parts(name, question_text, answers, general.strip(), offset + start)


def _check_braces(text: str, start: int, finish: int, block: _Block, offset: int) -> None:
    def line(position: int) -> str:
        return f"line {block.line_at(offset + position)}"

    if start == -1:
        raise _Skip(f"'}}' on {line(finish)} closes no '{{' (write \\}} for a brace in the text)")
    if finish == -1:
        raise _Skip(
            f"'{{' on {line(start)} is not closed before the blank line that ends the question"
        )
    if finish < start:
        raise _Skip(f"'}}' on {line(finish)} comes before any '{{' (write \\}} for a brace)")
    second = text.find("{", start + 1)
    if second != -1:
        where = "inside the answers" if second < finish else "after the answers"
        raise _Skip(
            f"a second '{{' on {line(second)}, {where} (write \\{{ for a brace in the text)"
        )
    if text.find("}", finish + 1) != -1:
        extra = text.find("}", finish + 1)
        raise _Skip(f"a second '}}' on {line(extra)} (write \\}} for a brace in the text)")


def _kind(answers: str) -> str:
    """The question type as Moodle decides it, in Moodle's order."""
    if not answers:
        return "essay"
    if answers.startswith("#"):
        return "numerical"
    if "~" in answers:
        return "multichoice"
    if "=" in answers and "->" in answers:
        return "matching"
    if answers.split("#", 1)[0].strip() in TRUE_FALSE:
        return "true_false"
    return "short answer"


def _text_format(text: str, default: str) -> tuple[str, str]:
    match = FORMAT_PREFIX.match(text)
    if match and match[1] in TEXT_FORMATS:
        return match[1], text[match.end() :]
    return default, text


def _markdown(text: str, text_format: str, what: str, notes: Notes) -> str:
    text_format, text = _text_format(text.strip(), text_format)
    converted = from_format(_release(text).strip(), text_format)
    if converted.dropped:
        tags = ", ".join(converted.dropped)
        notes.append(
            (0, f"HTML {tags} in {what} cannot be shown in Markdown: only its text is kept")
        )
    return converted.markdown


def _true_false(answers: str, text_format: str, notes: Notes) -> tuple[bool, dict[str, str]]:
    """``{TRUE#shown when wrong#shown when right}``."""
    answer, *comments = answers.split("#", 2)
    right = TRUE_FALSE[answer.strip()]
    wrong_feedback, right_feedback = ([*comments, "", ""])[:2]
    by_answer = {str(right).lower(): right_feedback, str(not right).lower(): wrong_feedback}
    feedback = {
        key: _markdown(value, text_format, f"the feedback for {key}", notes)
        for key, value in by_answer.items()
        if value.strip()
    }
    return right, {key: value for key, value in feedback.items() if value}


# --- multiple choice -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Choice:
    text: str
    weight: float  # percent
    feedback: str
    line: int


def _choices(
    parts: _Parts, block: _Block, text_format: str, notes: Notes
) -> tuple[tuple[DraftOption, ...], bool]:
    multiple = "=" not in parts.answers
    split_words: Notes = []  # an "=" or "~" inside a word: most likely a missing backslash
    choices = list(_read_choices(parts, block, notes, split_words))
    right = [c for c in choices if _is_right(c, multiple)]
    if not multiple and len(right) > 1:
        raise _Skip(
            split_words[0][1]
            if split_words
            else f"{len(right)} answers give full marks; a QuizMail single-answer question has one"
            " right answer (for select-all-that-apply, give the right ones ~%50% weights)"
        )
    notes.extend(split_words)
    _note_weights(choices, right, multiple, notes)
    options = tuple(
        DraftOption(
            _markdown(c.text, text_format, "an answer", notes),
            c in right,
            _markdown(c.feedback, text_format, "an answer's feedback", notes) or None,
        )
        for c in choices
    )
    return options, multiple


def _is_right(choice: _Choice, multiple: bool) -> bool:
    """Multiple answer: a positive weight; single answer: full marks."""
    return choice.weight > 0 if multiple else choice.weight >= 100 - WEIGHT_TOLERANCE


def _read_choices(
    parts: _Parts, block: _Block, notes: Notes, split_words: Notes
) -> Iterator[_Choice]:
    """Each answer with its weight and feedback (Moodle: ``=`` is ``~`` with full marks)."""
    base = parts.answers_at + 1 + _leading_space(block.text, parts.answers_at + 1)
    position = 0
    for piece in re.split(r"(?=[~=])", parts.answers):
        start, position = position, position + len(piece)
        stripped = piece.strip()
        if not stripped:
            continue
        line = block.line_at(base + start)
        if stripped[0] not in "~=":
            notes.append((line, f"{stripped[:20]!r} has no '~' or '=' before it: a wrong answer"))
        elif start and not parts.answers[start - 1].isspace():
            split_words.append((line, _unescaped(parts.answers, start)))
        yield _choice(stripped, line, notes)


def _unescaped(answers: str, at: int) -> str:
    """An ``=`` or ``~`` inside a word is most likely meant as text; Moodle splits there."""
    word = _release(answers[max(at - 10, 0) : at + 10]).split()
    context = next((w for w in word if answers[at] in w), answers[at])
    return (
        f"the '{answers[at]}' in {context!r} starts a new answer, as in Moodle"
        f" (write \\{answers[at]} for the character itself)"
    )


def _leading_space(text: str, at: int) -> int:
    return len(text[at:]) - len(text[at:].lstrip())


def _choice(piece: str, line: int, notes: Notes) -> _Choice:
    weight, body = 0.0, piece[1:] if piece[0] in "~=" else piece
    if piece[0] == "=":
        weight = 100.0
    elif match := WEIGHT.match(body):
        weight, body = float(match[1]), body[match.end() :]
    text, _, feedback = body.partition("#")
    if "#" in feedback:
        notes.append(
            (
                line,
                f"a second '#' in the feedback of {text.strip()[:20]!r} is kept as text"
                " (write \\# to say so)",
            )
        )
    return _Choice(text.strip(), weight, feedback.strip(), line)


def _note_weights(
    choices: list[_Choice], right: list[_Choice], multiple: bool, notes: Notes
) -> None:
    """Say where Moodle would score differently from us (docs/quiz-format.md#grading)."""
    if not multiple:
        partial = [c for c in choices if c not in right and c.weight]
        for choice in partial:
            notes.append(
                (
                    choice.line,
                    f"the {choice.weight:g}% weight of {choice.text[:20]!r} is not kept: a"
                    " single-answer question scores only its right answer",
                )
            )
        return
    if not right:
        return
    share = 100 / len(right)
    expected = [share if c in right else -share for c in choices]
    if any(abs(c.weight - e) > WEIGHT_TOLERANCE for c, e in zip(choices, expected, strict=True)):
        weights = "/".join(f"{c.weight:g}%" for c in choices)
        notes.append(
            (
                0,
                f"weights {weights} become QuizMail's partial scoring: each right option earns"
                f" {_percent(share)}%, each wrong one takes {_percent(share)}% away",
            )
        )


def _percent(value: float) -> str:
    """Moodle's way of writing a weight: at most five decimals (``33.33333``)."""
    return f"{value:.5f}".rstrip("0").rstrip(".")


# --- export --------------------------------------------------------------------------------------

RESERVED = re.compile(r"([\\#=~{}:])")
SETTINGS_NOT_IN_GIFT = (
    ("pass_mark", lambda q: q.pass_mark != 0.5),
    ("shuffle", lambda q: q.shuffle_questions or q.shuffle_options),
    ("pick", lambda q: q.pick is not None),
    ("time_limit", lambda q: q.time_limit is not None),
    ("scoring", lambda q: q.scoring != "partial"),
    ("closes", lambda q: q.closes is not None),
    ("review", lambda q: q.review != "immediately"),
)


def write_gift(quiz: Quiz, path: str) -> tuple[str, list[str]]:
    """*quiz* as GIFT, and what GIFT cannot say (each as ``path: message``)."""
    notes = [
        f"{path}: {key} has no GIFT equivalent and is left out"
        for key, is_set in SETTINGS_NOT_IN_GIFT
        if is_set(quiz)
    ]
    if quiz.description:
        notes.append(f"{path}: the description has no GIFT equivalent and is left out")
    category = quiz.title.replace("/", "//")
    out = [f"// {_comment(quiz.title)} (QuizMail quiz {quiz.id})", ""]
    out += [f"$CATEGORY: $course$/top/{_escape(category)}", ""]
    for question in quiz.questions:
        if question.points != 1:
            notes.append(
                f"{path}: question {question.id!r}: points {question.points:g} has no GIFT"
                " equivalent (Moodle gives each question 1 mark)"
            )
        out += [_gift_question(question), ""]
    return "\n".join(out), notes


def _comment(text: str) -> str:
    return " ".join(text.split())


def _escape(text: str, *, answer: bool = False) -> str:
    """Moodle's ``repchar``: the reserved characters escaped, line breaks as ``\\n``; an answer
    or feedback starting with ``[`` gets its format named, so it is not read as one."""
    escaped = RESERVED.sub(r"\\\1", text.replace("\r", "")).replace("\n", "\\n")
    return "[markdown]" + escaped if answer and text.startswith("[") else escaped


def _gift_question(question: Question) -> str:
    head = f"::{_escape(question.id)}::[markdown]{_escape(question.text)}"
    general = f"####{_escape(question.explanation)}" if question.explanation else ""
    if question.type == "true_false":
        return head + "{" + _true_false_answers(question) + general + "}"
    right = len(question.correct_ids)
    lines = [head + "{"]
    for option in question.options:
        lines.append("\t" + _marker(question, option.correct, right) + _option_text(option))
    if general:
        lines.append("\t" + general)
    return "\n".join([*lines, "}"])


def _marker(question: Question, correct: bool, right: int) -> str:
    if question.type == "single":
        return "=" if correct else "~"
    share = _percent(100 / right)
    return f"~%{share}%" if correct else f"~%-{share}%"


def _option_text(option: Option) -> str:
    text = _escape(option.text, answer=True)
    return text + (f"#{_escape(option.feedback, answer=True)}" if option.feedback else "")


def _true_false_answers(question: Question) -> str:
    """``TRUE#feedback when wrong#feedback when right``, as Moodle writes it."""
    right = next(option for option in question.options if option.correct)
    wrong = next(option for option in question.options if not option.correct)
    text = "TRUE" if right.id == "true" else "FALSE"
    right_feedback = _escape(right.feedback, answer=True) if right.feedback else ""
    wrong_feedback = _escape(wrong.feedback, answer=True) if wrong.feedback else ""
    if wrong_feedback:
        text += "#" + wrong_feedback
    elif right_feedback:
        text += "#"
    return text + ("#" + right_feedback if right_feedback else "")
