"""The catalog loads a directory once, reloads a changed file and leaves broken files out."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from app.quiz import QuizCatalog, render_markdown
from app.quiz.catalog import RECHECK_SECONDS

QUIZ = """\
title: {title}
questions:
  - id: q
    text: Why?
    options: [{{text: a, correct: true}}, {{text: b}}]
"""


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_broken_file_is_logged_and_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "good.yaml").write_text(QUIZ.format(title="Good"))
    (tmp_path / "bad.yaml").write_text("title: [\n")
    with caplog.at_level(logging.ERROR):
        quizzes = QuizCatalog(tmp_path).quizzes()
    assert list(quizzes) == ["good"]
    assert "bad.yaml:2: malformed YAML" in caplog.text


def test_a_changed_file_is_reloaded_after_the_recheck_interval(tmp_path: Path) -> None:
    path = tmp_path / "quiz.yaml"
    path.write_text(QUIZ.format(title="First"))
    clock = FakeClock()
    catalog = QuizCatalog(tmp_path, clock=clock)
    first = catalog.get("quiz")
    assert first is not None
    assert first.title == "First"
    path.write_text(QUIZ.format(title="Second title"))
    os.utime(path, ns=(1, 10**18))
    assert catalog.get("quiz") is first  # not yet rechecked: loaded once, not per request
    clock.now += RECHECK_SECONDS
    second = catalog.get("quiz")
    assert second is not None
    assert second.title == "Second title"
    assert second.version != first.version


def test_an_unchanged_directory_is_not_reloaded(tmp_path: Path) -> None:
    (tmp_path / "quiz.yaml").write_text(QUIZ.format(title="Same"))
    clock = FakeClock()
    catalog = QuizCatalog(tmp_path, clock=clock)
    quizzes = catalog.quizzes()
    clock.now += 10 * RECHECK_SECONDS
    assert catalog.quizzes() is quizzes


def test_a_missing_directory_has_no_quizzes(tmp_path: Path) -> None:
    assert QuizCatalog(tmp_path / "nowhere").quizzes() == {}


def test_markdown_renders_code_and_never_raw_html() -> None:
    html = render_markdown("Run `EHLO`:\n\n```\nMAIL FROM:<a@b>\n```\n\n<script>alert(1)</script>")
    assert "<code>EHLO</code>" in html
    assert "<pre><code>MAIL FROM:&lt;a@b&gt;\n</code></pre>" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in render_markdown("[x](javascript:alert(1))")


def test_a_single_paragraph_is_unwrapped_to_fit_a_label() -> None:
    assert render_markdown("just *text*") == "just <em>text</em>"
