"""Quiz files (YAML, see docs/quiz-format.md) → :class:`Quiz`, or every problem with its line.

PyYAML's ``compose`` gives a node tree whose ``start_mark`` carries the line of every key and
value, so validation walks nodes rather than plain Python values. A file's problems are all
collected in one pass; none of them is ever raised as a traceback.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.quiz.models import Option, Question, QuestionType, Quiz

log = logging.getLogger(__name__)

QUIZ_SUFFIXES = (".yaml", ".yml")
MAX_OPTIONS = 36  # one digit 0-9a-z each in a result token (app/web/submissions.py)
VERSION_LENGTH = 12  # hex digits of sha256: enough to tell two edits of one file apart
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # safe in URLs and form field names
DURATION_PATTERN = re.compile(r"(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?")

QUIZ_KEYS = (
    "title",
    "description",
    "pass_mark",
    "shuffle",
    "pick",
    "time_limit",
    "scoring",
    "closes",
    "review",
    "questions",
)
SHUFFLE_KEYS = ("questions", "options")
QUESTION_KEYS = ("id", "type", "text", "points", "options", "answer", "feedback", "explanation")
OPTION_KEYS = ("id", "text", "correct", "feedback")
QUESTION_TYPES = ("single", "multiple", "true_false")
SCORINGS = ("partial", "all-or-nothing")
REVIEWS = ("immediately", "after_close", "never")
MOMENT_EXAMPLE = "2026-12-03 17:00+01:00"
NESTED_TOO_DEEP = "malformed YAML: lists or mappings nested far too deep for a quiz"
TRUE_FALSE_IDS = ("true", "false")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class QuizSource(NamedTuple):
    """A quiz and the file bytes it was parsed from (``quiz.version`` is their hash)."""

    quiz: Quiz
    data: bytes


class QuizFileError(Exception):
    """A quiz file that cannot be loaded; ``problems`` lists every reason with its line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


# --- public entry points -------------------------------------------------------------------------


def load_quiz(path: str | Path) -> Quiz:
    return read_quiz(path).quiz


def read_quiz(path: str | Path) -> QuizSource:
    """The quiz in *path* with the bytes it came from: read once, so the version is their hash."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise QuizFileError([Problem(str(path), 1, f"cannot read: {exc.strerror}")]) from exc
    return QuizSource(parse_quiz(data, path), data)


def load_quizzes(directory: str | Path) -> tuple[dict[str, Quiz], list[Problem]]:
    """Every valid quiz in *directory* by id, and the problems of the files left out."""
    sources, problems = read_quizzes(directory)
    return {quiz_id: source.quiz for quiz_id, source in sources.items()}, problems


def read_quizzes(directory: str | Path) -> tuple[dict[str, QuizSource], list[Problem]]:
    """As :func:`load_quizzes`, each quiz with the bytes it came from."""
    sources: dict[str, QuizSource] = {}
    problems: list[Problem] = []
    for path in quiz_files(Path(directory)):
        try:
            source = read_quiz(path)
        except QuizFileError as error:
            problems.extend(error.problems)
        except Exception as error:  # a bug the file found: that file is left out, not the rest
            log.exception("quiz file %s could not be read", path)
            problems.append(Problem(str(path), 1, f"could not be read ({type(error).__name__})"))
        else:
            sources[source.quiz.id] = source
    return sources, problems


def quiz_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in QUIZ_SUFFIXES and p.is_file())


def parse_quiz(data: bytes, path: Path) -> Quiz:
    reader = _Reader(str(path))
    root = reader.compose(data)
    try:
        quiz = reader.quiz(root, path.stem, source_version(data)) if root is not None else None
    except RecursionError:  # lists in lists hundreds deep: no quiz has that shape
        raise QuizFileError([Problem(str(path), 1, NESTED_TOO_DEEP)]) from None
    if reader.problems or quiz is None:
        raise QuizFileError(
            sorted(reader.problems, key=lambda p: p.line)
            or [Problem(str(path), 1, "the file is empty")]
        )
    return quiz


def source_version(data: bytes) -> str:
    """The version of a quiz whose file holds *data*: a changed byte is a new version."""
    return hashlib.sha256(data).hexdigest()[:VERSION_LENGTH]


# --- the node walker -----------------------------------------------------------------------------


def line_of(node: Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    """Turns nodes into models, noting a :class:`Problem` for everything wrong on the way."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, node: Node | int, message: str) -> None:
        line = node if isinstance(node, int) else line_of(node)
        self.problems.append(Problem(self.path, line, message))

    def compose(self, data: bytes) -> Node | None:
        try:
            return yaml.compose(data, Loader=yaml.SafeLoader)
        except RecursionError:
            self.problem(1, NESTED_TOO_DEEP)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            self.problem(line, f"malformed YAML: {exc.problem or exc.context}")
        except yaml.YAMLError as exc:  # e.g. bytes that are not text; its second line says
            # where in "<byte string>", which means nothing to the quiz's author
            self.problem(1, f"malformed YAML: {str(exc).splitlines()[0]}")
        return None

    # --- generic shapes ---

    def mapping(self, node: Node, what: str, known: tuple[str, ...]) -> dict[str, Node] | None:
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping of keys to values")
            return None
        fields: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in fields:
                self.problem(key_node, f"duplicate key {key!r} in {what}")
            elif key not in known:
                self.problem(key_node, f"unknown key {key!r} in {what}{_did_you_mean(key, known)}")
            else:
                fields[key] = value_node
        return fields

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list")
            return []
        return list(node.value)

    def scalar(self, node: Node, what: str, convert: Callable[[Any], Any], kind: str) -> Any:
        try:
            value = _plain_value(node)
        except (ValueError, OverflowError):  # 2001-02-30 as a YAML timestamp, a 5,000-digit int
            self.problem(node, f"{what} must be {kind}, not {node.value!r}")
            return None
        try:
            if value is None:
                raise ValueError
            return convert(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: 10**20 minutes
            self.problem(node, f"{what} must be {kind}, not {_describe(node, value)}")
            return None

    def text(self, node: Node, what: str) -> str | None:
        value = self.scalar(node, what, _as_text, "text")
        if value is not None and not value.strip():
            self.problem(node, f"{what} is empty")
            return None
        return value

    def required(self, fields: dict[str, Node], key: str, owner: Node, what: str) -> Node | None:
        if key not in fields:
            self.problem(owner, f"{what} has no {key!r}")
        return fields.get(key)

    # --- the quiz ---

    def quiz(self, root: Node, quiz_id: str, version: str) -> Quiz | None:
        fields = self.mapping(root, "the quiz", QUIZ_KEYS)
        if fields is None:
            return None
        title_node = self.required(fields, "title", root, "the quiz")
        questions_node = self.required(fields, "questions", root, "the quiz")
        settings = self.quiz_settings(fields)
        questions = self.questions(questions_node) if questions_node else ()
        bank_size = len(questions_node.value) if isinstance(questions_node, SequenceNode) else 0
        self.check_pick(fields.get("pick"), settings.get("pick"), bank_size)
        if not ID_PATTERN.fullmatch(quiz_id):
            self.problem(1, f"the file name {quiz_id!r} is not a usable quiz id: {ID_HINT}")
        title = self.text(title_node, "title") if title_node else None
        if self.problems or title is None:
            return None
        return Quiz(id=quiz_id, title=title, version=version, questions=questions, **settings)

    def quiz_settings(self, fields: dict[str, Node]) -> dict[str, Any]:
        readers: dict[str, Callable[[Node], Any]] = {
            "description": lambda n: self.scalar(n, "description", _as_text, "text"),
            "pass_mark": self.pass_mark,
            "pick": lambda n: self.scalar(n, "pick", _as_positive_int, "a whole number ≥ 1"),
            "time_limit": self.time_limit,
            "scoring": lambda n: self.choice(n, "scoring", SCORINGS),
            "closes": self.closes,
            "review": lambda n: self.choice(n, "review", REVIEWS),
        }
        settings = {key: reader(fields[key]) for key, reader in readers.items() if key in fields}
        settings.setdefault("description", "")
        if "shuffle" in fields:
            settings.update(self.shuffle(fields["shuffle"]))
        if settings.get("review") == "after_close" and "closes" not in fields:
            self.problem(fields["review"], "review: after_close needs a closes: date and time")
        return {key: value for key, value in settings.items() if value is not None}

    def closes(self, node: Node) -> datetime | None:
        """Read from the scalar's text: YAML's own timestamps drop or mangle the zone."""
        kind = f"a date and time with its zone, like {MOMENT_EXAMPLE}"
        text = node.value if isinstance(node, ScalarNode) else node
        return self.scalar(node, "closes", lambda _: _as_moment(text), kind)

    def pass_mark(self, node: Node) -> float | None:
        return self.scalar(node, "pass_mark", _as_fraction, "a percentage like 60% or 0..1")

    def time_limit(self, node: Node) -> timedelta | None:
        return self.scalar(node, "time_limit", _as_duration, "a duration like 15m or 1h30m")

    def choice(self, node: Node, what: str, allowed: tuple[str, ...]) -> str | None:
        value = self.scalar(node, what, _as_text, "text")
        if value is not None and value not in allowed:
            hint = _did_you_mean(value, allowed) or f"; use one of {', '.join(allowed)}"
            self.problem(node, f"{what} {value!r} is not known{hint}")
            return None
        return value

    def shuffle(self, node: Node) -> dict[str, bool]:
        if not isinstance(node, MappingNode):
            both = self.scalar(node, "shuffle", _as_bool, "true, false or a mapping")
            return {} if both is None else {"shuffle_questions": both, "shuffle_options": both}
        fields = self.mapping(node, "shuffle", SHUFFLE_KEYS) or {}
        flags = {
            f"shuffle_{key}": self.scalar(v, key, _as_bool, "true or false")
            for key, v in fields.items()
        }
        return {key: value for key, value in flags.items() if value is not None}

    def check_pick(self, node: Node | None, pick: int | None, bank_size: int) -> None:
        if node is not None and pick is not None and bank_size and pick > bank_size:
            self.problem(node, f"pick {pick} is larger than the bank of {bank_size} questions")

    # --- questions ---

    def questions(self, node: Node) -> tuple[Question, ...]:
        nodes = self.sequence(node, "questions")
        if isinstance(node, SequenceNode) and not nodes:
            self.problem(node, "the quiz has no questions")
        questions = tuple(q for n in nodes if (q := self.question(n)) is not None)
        self.check_unique_ids(nodes, "question")
        return questions

    def check_unique_ids(self, nodes: list[Node], what: str) -> None:
        first_line: dict[str, int] = {}
        for id_node in _id_nodes(nodes):
            key = str(id_node.value)
            if key in first_line:
                self.problem(
                    id_node, f"duplicate {what} id {key!r} (first used on line {first_line[key]})"
                )
            first_line.setdefault(key, line_of(id_node))

    def question(self, node: Node) -> Question | None:
        fields = self.mapping(node, "a question", QUESTION_KEYS)
        if fields is None:
            return None
        question_id = self.identifier(
            self.required(fields, "id", node, "a question"), "question id"
        )
        what = f"question {question_id!r}" if question_id else "a question"
        kind = self.choice(fields["type"], "type", QUESTION_TYPES) if "type" in fields else "single"
        text_node = self.required(fields, "text", node, what)
        text = self.text(text_node, f"the text of {what}") if text_node else None
        options = self.options_for(cast(QuestionType, kind), fields, node, what)
        extras = self.question_extras(fields)
        if None in (question_id, kind, text, options) or extras is None:
            return None
        return Question(question_id, kind, text, options, **extras)  # type: ignore[arg-type]

    def question_extras(self, fields: dict[str, Node]) -> dict[str, Any] | None:
        extras: dict[str, Any] = {}
        if "points" in fields:
            extras["points"] = self.scalar(fields["points"], "points", _as_points, "a number > 0")
        if "explanation" in fields:
            extras["explanation"] = self.text(fields["explanation"], "explanation")
        return None if None in extras.values() else extras

    def identifier(self, node: Node | None, what: str) -> str | None:
        value = self.scalar(node, what, _as_text, "text") if node else None
        if value is not None and not ID_PATTERN.fullmatch(value):
            self.problem(node or 1, f"{what} {value!r} is not usable: {ID_HINT}")
            return None
        return value

    # --- options ---

    def options_for(
        self, kind: QuestionType | None, fields: dict[str, Node], node: Node, what: str
    ) -> tuple[Option, ...] | None:
        if kind == "true_false":
            return self.true_false_options(fields, node, what)
        for key in ("answer", "feedback"):
            if key in fields:
                self.problem(
                    fields[key], f"{key!r} is only for true_false questions; {what} has options"
                )
        options_node = self.required(fields, "options", node, what)
        if options_node is None:
            return None
        # An unknown type is reported already; its options are still checked as "multiple".
        return self.options(options_node, kind or "multiple", what)

    def options(self, node: Node, kind: QuestionType, what: str) -> tuple[Option, ...] | None:
        nodes = self.sequence(node, f"the options of {what}")
        if isinstance(node, SequenceNode) and len(nodes) < 2:
            self.problem(node, f"{what} needs at least two options")
        if len(nodes) > MAX_OPTIONS:
            self.problem(
                node, f"{what} has {len(nodes)} options; at most {MAX_OPTIONS} are allowed"
            )
        options = [self.option(n, index, what) for index, n in enumerate(nodes)]
        self.check_unique_ids(nodes, "option")
        if not nodes or None in options:
            return None
        return self.check_correct(tuple(cast(list[Option], options)), node, kind, what)

    def check_correct(
        self, options: tuple[Option, ...], node: Node, kind: QuestionType, what: str
    ) -> tuple[Option, ...] | None:
        correct = sum(option.correct for option in options)
        if correct == 0:
            self.problem(node, f"{what} has no correct option")
        elif correct > 1 and kind == "single":
            self.problem(
                node,
                f"{what} is single-answer but has {correct} correct options"
                " (use type: multiple for 'select all that apply')",
            )
        else:
            return options
        return None

    def option(self, node: Node, index: int, what: str) -> Option | None:
        fields = self.mapping(node, f"an option of {what}", OPTION_KEYS)
        if fields is None:
            return None
        option_id = self.identifier(fields["id"], "option id") if "id" in fields else _letter(index)
        text_node = self.required(fields, "text", node, f"an option of {what}")
        text = self.text(text_node, f"an option of {what}") if text_node else None
        correct = (
            self.scalar(fields["correct"], "correct", _as_bool, "true or false")
            if "correct" in fields
            else False
        )
        feedback = self.text(fields["feedback"], "feedback") if "feedback" in fields else None
        if None in (option_id, text, correct) or ("feedback" in fields and feedback is None):
            return None
        return Option(cast(str, option_id), cast(str, text), correct, feedback)

    def true_false_options(
        self, fields: dict[str, Node], node: Node, what: str
    ) -> tuple[Option, ...] | None:
        if "options" in fields:
            self.problem(fields["options"], f"{what} is true_false: give 'answer', not 'options'")
        answer_node = self.required(fields, "answer", node, what)
        answer = (
            self.scalar(answer_node, "answer", _as_bool, "true or false") if answer_node else None
        )
        feedback = self.true_false_feedback(fields.get("feedback"))
        if answer is None or feedback is None:
            return None
        return tuple(
            Option(key, key.capitalize(), answer == (key == "true"), feedback.get(key))
            for key in TRUE_FALSE_IDS
        )

    def true_false_feedback(self, node: Node | None) -> dict[str, str] | None:
        if node is None:
            return {}
        fields = self.mapping(node, "feedback", TRUE_FALSE_IDS) or {}
        feedback = {key: self.text(value, f"feedback for {key}") for key, value in fields.items()}
        return None if None in feedback.values() else cast(dict[str, str], feedback)


ID_HINT = "use letters, digits, '-' and '_' (at most 64), starting with a letter or digit"


# --- scalar conversions --------------------------------------------------------------------------


def _plain_value(node: Node | None) -> Any:
    """A scalar node's value as YAML 1.1 resolves it; a list or mapping stays a node."""
    if not isinstance(node, ScalarNode):
        return node
    return yaml.SafeLoader(b"").construct_object(node)  # type: ignore[no-untyped-call]


def _describe(node: Node, value: Any) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, MappingNode):
        return "a mapping"
    return "nothing" if value is None else repr(value)


def _as_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError
    return str(value)


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def _as_positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError
    return value


def _as_points(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError
    return float(value)


def _as_fraction(value: Any) -> float:
    """``60%`` or ``0.6`` → 0.6."""
    if isinstance(value, str) and value.strip().endswith("%"):
        value = float(value.strip()[:-1]) / 100
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError
    return float(value)


def _as_duration(value: Any) -> timedelta:
    """``15m``, ``90s``, ``1h30m``; a bare number means minutes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return timedelta(minutes=value)
    match = DURATION_PATTERN.fullmatch(str(value).strip()) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        raise ValueError
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    duration = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if not duration:
        raise ValueError
    return duration


def _as_moment(value: Any) -> datetime:
    """``2026-12-03 17:00+01:00`` or ``2026-12-03T16:00Z``: ISO 8601 with an explicit zone."""
    if not isinstance(value, str):
        raise TypeError
    moment = datetime.fromisoformat(value.strip())  # ValueError for 2026-02-30 and the like
    if moment.tzinfo is None:
        raise ValueError("no zone")
    return moment.astimezone(UTC)


def format_duration(duration: timedelta) -> str:
    """The inverse of the quiz files' durations, for people: ``1 h 30 min``, ``90 s``."""
    seconds = int(duration.total_seconds())
    hours, minutes = seconds // 3600, seconds % 3600 // 60
    if seconds % 60:
        return f"{seconds} s"
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    return " ".join(parts)


def _letter(index: int) -> str:
    return chr(ord("a") + index) if index < 26 else f"o{index + 1}"


def _id_nodes(nodes: list[Node]) -> Iterator[ScalarNode]:
    for node in nodes:
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == "id" and isinstance(value_node, ScalarNode):
                    yield value_node


def _did_you_mean(word: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
