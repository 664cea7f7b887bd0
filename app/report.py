"""A graded :class:`~app.quiz.Result` → the results email's parts: subject, text, HTML, CSV, JSON.

Rendering only; nothing here sends (that is :mod:`app.notify`). The text and HTML parts come from
the Jinja2 templates ``templates/email/results.txt`` and ``results.html``; the attachments are
built here. ``results.json`` follows the ``quizmail.results/1`` schema of docs/results-json.md
exactly, because the gradebook reads it back.

Everything shown comes from the result the server graded; only the student's address and name come
from the form, and they appear only where a greeting or the schema needs them.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jinja2

from app import config
from app.quiz import QuestionResult, Result, render_markdown

__all__ = ["RESULTS_SCHEMA", "Report", "Student", "render_report", "results_document"]

RESULTS_SCHEMA = "quizmail.results/1"
CSV_COLUMNS = (
    "number",
    "question_id",
    "type",
    "chosen",
    "correct",
    "points",
    "max_points",
    "is_correct",
)
CSV_LIST_SEPARATOR = " | "  # between several chosen options in one cell; rare in option text
SCORE_DECIMALS = 2  # partial credit gives fractions like 0.333…; two places are what a person reads


@dataclass(frozen=True)
class Student:
    email: str
    name: str | None = None


@dataclass(frozen=True)
class Report:
    subject: str
    text: str
    html: str
    csv: bytes
    json: bytes

    def attachments(self) -> list[tuple[str, str, bytes]]:
        """The two attachments as ``app.mail.build_message`` takes them."""
        return [
            ("results.csv", "text/csv", self.csv),
            ("results.json", "application/json", self.json),
        ]


def render_report(result: Result, student: Student, sent_at: datetime) -> Report:
    """Every part of the results email for *student*, as of *sent_at*."""
    subject = subject_line(result)
    context = {
        "result": result,
        "quiz": result.quiz,
        "student": student,
        "subject": subject,
        "show_answers": result.quiz.shows_answers(sent_at),
    }
    env = _environment()
    return Report(
        subject=subject,
        text=env.get_template("email/results.txt").render(context),
        html=env.get_template("email/results.html").render(context),
        csv=results_csv(result, sent_at),
        json=json.dumps(results_document(result, student, sent_at), indent=2).encode("utf-8"),
    )


def subject_line(result: Result) -> str:
    """``Your results: SMTP and Internet mail — 8/10 (80%)``."""
    score = f"{format_points(result.points)}/{format_points(result.max_points)}"
    return f"Your results: {result.quiz.title} — {score} ({result.percentage:.0f}%)"


def format_points(value: float) -> str:
    """8.0 → ``8``, 7.5 → ``7.5``, 2/3 → ``0.67``."""
    return f"{round(value, SCORE_DECIMALS):g}"


def results_document(result: Result, student: Student, sent_at: datetime) -> dict[str, Any]:
    """The ``quizmail.results/1`` document (docs/results-json.md)."""
    quiz = result.quiz
    return {
        "schema": RESULTS_SCHEMA,
        "quiz": {"id": quiz.id, "title": quiz.title, "version": quiz.version},
        "student": {"email": student.email, "name": student.name},
        "attempt_id": result.attempt.id,
        "submitted_at": iso_utc(result.submitted_at),
        "sent_at": iso_utc(sent_at),
        "score": {
            "points": _score(result.points),
            "max_points": _score(result.max_points),
            "percentage": _score(result.percentage),
            "passed": result.passed,
            "pass_mark": _score(quiz.pass_mark * 100),
        },
        "questions": [
            _question_entry(answer, quiz.shows_answers(sent_at)) for answer in result.questions
        ],
    }


def _question_entry(answer: QuestionResult, show_answers: bool) -> dict[str, Any]:
    """One question of ``results.json``; ``correct`` is ``None`` while the quiz keeps its answers
    back (``review: after_close`` before the close, ``review: never``)."""
    return {
        "id": answer.question.id,
        "type": answer.question.type,
        "chosen": chosen_texts(answer),
        "correct": correct_texts(answer) if show_answers else None,
        "points": _score(answer.points),
        "max_points": _score(answer.max_points),
        "is_correct": answer.is_correct,
    }


def chosen_texts(answer: QuestionResult) -> list[str]:
    """The chosen options' texts, in the order they were shown."""
    return [o.text for o in answer.options_shown if o.id in answer.chosen]


def correct_texts(answer: QuestionResult) -> list[str]:
    """The correct options' texts, in the order they were shown."""
    return [o.text for o in answer.options_shown if o.correct]


def results_csv(result: Result, sent_at: datetime) -> bytes:
    """One row a question (RFC 4180: CRLF line ends, quoted where needed), UTF-8; the correct
    column is empty while the quiz keeps its answers back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for number, answer in enumerate(result.questions, start=1):
        entry = _question_entry(answer, result.quiz.shows_answers(sent_at))
        writer.writerow(
            [
                number,
                entry["id"],
                entry["type"],
                CSV_LIST_SEPARATOR.join(entry["chosen"]),
                CSV_LIST_SEPARATOR.join(entry["correct"] or ()),
                format_points(answer.points),
                format_points(answer.max_points),
                "true" if answer.is_correct else "false",
            ]
        )
    return out.getvalue().encode("utf-8")


def iso_utc(moment: datetime) -> str:
    """``2026-11-23T10:00:00Z``: UTC, whole seconds, as the schema shows."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _score(value: float) -> float:
    return round(float(value), SCORE_DECIMALS)


@cache
def _environment() -> jinja2.Environment:
    """The email templates' own environment: no Flask, so the CLI and the deliverer can render.

    HTML escapes everything (``.html`` autoescape); undefined names are errors, not blanks.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(config.PROJECT_ROOT / "templates"),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = render_markdown
    env.filters["points"] = format_points
    env.globals.update(chosen_texts=chosen_texts, correct_texts=correct_texts)
    return env
