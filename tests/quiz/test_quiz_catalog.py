"""The catalog loads a directory once, reloads a changed file and leaves broken files out."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from app.quiz import QuizCatalog, load_quizzes, render_markdown
from app.quiz import catalog as catalog_module
from app.quiz.catalog import RECHECK_SECONDS

from .helpers import QUIZ, FakeClock


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


LATE_CALLERS = 8
STARTUP_WAIT = 0.5  # seconds the late callers get to overtake the load (old code: they did)


def test_requests_during_the_first_load_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's first requests arrive together: none may see a catalog still being loaded."""
    (tmp_path / "quiz.yaml").write_text(QUIZ.format(title="Slow"))
    loading, finish = threading.Event(), threading.Event()

    def slow_load(directory: Path) -> object:
        loading.set()
        finish.wait(timeout=10)
        return load_quizzes(directory)

    monkeypatch.setattr(catalog_module, "load_quizzes", slow_load)
    catalog = QuizCatalog(tmp_path)
    seen: list[list[str]] = []

    def request() -> None:
        seen.append(list(catalog.quizzes()))

    first = threading.Thread(target=request)
    first.start()
    assert loading.wait(timeout=10)
    late = [threading.Thread(target=request) for _ in range(LATE_CALLERS)]
    for thread in late:
        thread.start()
    for thread in late:
        thread.join(timeout=STARTUP_WAIT / LATE_CALLERS)
    finish.set()
    for thread in [first, *late]:
        thread.join(timeout=10)
    assert seen == [["quiz"]] * (LATE_CALLERS + 1)


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
