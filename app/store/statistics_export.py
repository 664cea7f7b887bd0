"""The item analysis as files: CSV (one number a line, for a spreadsheet) and JSON.

Both hold every number the gradebook page shows (app/store/item_analysis.py); the JSON adds the
one-line explanation and rule of thumb of each statistic, so a program can show them too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any

from app.store.gradebook import csv_cell
from app.store.item_analysis import EXPLANATIONS, VersionAnalysis, histogram

__all__ = ["CSV_COLUMNS", "statistics_csv", "statistics_json"]

STATISTICS_SCHEMA = "quizmail.statistics/1"
CSV_COLUMNS = ("quiz_id", "quiz_title", "version", "attempts_used", "question_id", "option",
               "statistic", "value")  # fmt: skip
TEST_STATISTICS = ("attempts", "mean", "median", "sd", "skewness", "kurtosis", "alpha",
                   "error_ratio", "standard_error")  # fmt: skip
QUESTION_STATISTICS = ("attempts", "facility", "sd", "random_guess", "intended_weight",
                       "effective_weight", "discrimination", "efficiency")  # fmt: skip
OPTION_STATISTICS = ("share", "top_share", "bottom_share")


def statistics_csv(analyses: Iterable[VersionAnalysis]) -> str:
    """Long format: a row per number (blank when it cannot be computed); no cell a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for analysis in analyses:
        head = [analysis.quiz_id, analysis.quiz_title, analysis.version, analysis.which]
        for question_id, option, statistic, value in _numbers(analysis):
            row = [*head, question_id, option, statistic, _number(value)]
            writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()


def _numbers(analysis: VersionAnalysis) -> Iterator[tuple[str, str, str, Any]]:
    for name in TEST_STATISTICS:
        yield "", "", name, getattr(analysis.test, name)
    for question in analysis.questions:
        for name in QUESTION_STATISTICS:
            statistic = "question_sd" if name == "sd" else name
            yield question.question_id, "", statistic, getattr(question, name)
        for option in question.options:
            for name in OPTION_STATISTICS:
                yield question.question_id, option.text, name, getattr(option, name)
            for flag in option.flags:
                yield question.question_id, option.text, "flag", flag


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def statistics_json(analyses: Iterable[VersionAnalysis]) -> dict[str, Any]:
    """Every analysis as plain data, with the explanations and the histogram's counts."""
    return {
        "schema": STATISTICS_SCHEMA,
        "explanations": {
            key: {"meaning": meaning, "rule_of_thumb": rule or None}
            for key, (meaning, rule) in EXPLANATIONS.items()
        },
        "quizzes": [
            {**asdict(analysis), "histogram": histogram(analysis.scores)} for analysis in analyses
        ],
    }
