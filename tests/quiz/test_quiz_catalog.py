"""The catalog loads a directory once, reloads a changed file and leaves broken files out."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.quiz import Quiz, QuizCatalog, render_markdown
from app.quiz import catalog as catalog_module
from app.quiz.catalog import DEFAULT_RETENTION, KEEP_ALIVE, RECHECK_SECONDS
from app.quiz.loader import read_quizzes

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
        return read_quizzes(directory)

    monkeypatch.setattr(catalog_module, "read_quizzes", slow_load)
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


# --- versions kept on disk -----------------------------------------------------------------------

DAY = timedelta(days=1).total_seconds()


class Questions:
    """A questions directory whose one file is edited in steps a catalog always notices."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "quiz.yaml"
        self.edits = 0

    def write(self, title: str) -> None:
        self.directory.mkdir(exist_ok=True)
        self.path.write_text(QUIZ.format(title=title))
        self.edits += 1
        os.utime(self.path, ns=(self.edits, self.edits))  # a new mtime, however fast the edits


def catalog_of(
    questions: Questions, versions: Path, wall_clock: FakeClock | None = None
) -> QuizCatalog:
    return QuizCatalog(
        questions.directory,
        clock=FakeClock(),
        versions_dir=versions,
        wall_clock=wall_clock or FakeClock(),
    )


def current(catalog: QuizCatalog) -> Quiz:
    catalog.recheck()
    quiz = catalog.get("quiz")
    assert quiz is not None
    return quiz


def test_an_edited_quiz_keeps_its_old_version_for_a_new_worker(tmp_path: Path) -> None:
    questions = Questions(tmp_path / "questions")
    questions.write("Typo")
    catalog = catalog_of(questions, tmp_path / "versions")
    old = current(catalog)
    questions.write("Fixed")
    new = current(catalog)
    restarted = catalog_of(questions, tmp_path / "versions")
    assert restarted.get_version("quiz", old.version) == old
    assert restarted.get_version("quiz", new.version) is restarted.get("quiz")
    assert catalog.get_version("quiz", old.version) == old
    assert restarted.get_version("quiz", "0" * len(old.version)) is None


def test_a_deleted_quiz_is_not_listed_but_its_versions_answer(tmp_path: Path) -> None:
    questions = Questions(tmp_path / "questions")
    questions.write("Gone soon")
    catalog = catalog_of(questions, tmp_path / "versions")
    gone = current(catalog)
    questions.path.unlink()
    catalog.recheck()
    assert catalog.quizzes() == {}
    assert catalog.get("quiz") is None
    assert catalog.get_version("quiz", gone.version) == gone
    assert catalog_of(questions, tmp_path / "versions").get_version("quiz", gone.version) == gone


def test_without_a_versions_dir_nothing_is_written_and_old_versions_are_gone(
    tmp_path: Path,
) -> None:
    questions = Questions(tmp_path / "questions")
    questions.write("Typo")
    catalog = QuizCatalog(questions.directory, clock=FakeClock())
    old = current(catalog)
    questions.write("Fixed")
    new = current(catalog)
    assert catalog.get_version("quiz", old.version) is None
    assert catalog.get_version("quiz", new.version) is new
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["questions", "quiz.yaml"]


def test_a_version_is_kept_for_the_retention_after_it_stopped_being_current(
    tmp_path: Path,
) -> None:
    """However long a version was current, its retention counts from the edit that ended it."""
    questions, wall = Questions(tmp_path / "questions"), FakeClock()
    questions.write("Long lived")
    catalog = catalog_of(questions, tmp_path / "versions", wall)
    old = current(catalog)
    wall.now += 400 * DAY
    questions.write("Edited")
    current(catalog)  # the edit's reload marks the old version as current until now

    def kept_after_a_reload() -> Quiz | None:
        questions.write(f"Edited on day {wall.now / DAY:.5f}")  # every reload prunes
        current(catalog)
        return catalog_of(questions, tmp_path / "versions", wall).get_version("quiz", old.version)

    wall.now += (DEFAULT_RETENTION + KEEP_ALIVE).total_seconds()
    assert kept_after_a_reload() == old
    wall.now += 1
    assert kept_after_a_reload() is None


def test_a_version_edited_away_while_no_server_ran_is_kept_from_its_last_keep_alive(
    tmp_path: Path,
) -> None:
    questions, wall = Questions(tmp_path / "questions"), FakeClock()
    questions.write("Before the holidays")
    clock = FakeClock()
    catalog = QuizCatalog(
        questions.directory, clock=clock, versions_dir=tmp_path / "versions", wall_clock=wall
    )
    old = current(catalog)
    clock.now += KEEP_ALIVE.total_seconds()
    wall.now += 200 * DAY
    catalog.recheck()
    catalog.quizzes()  # unchanged, but an hour on: marks its versions current
    wall.now += KEEP_ALIVE.total_seconds()  # stopped (the server stopped before the next mark)
    questions.write("After the holidays")
    wall.now += DEFAULT_RETENTION.total_seconds()
    restarted = catalog_of(questions, tmp_path / "versions", wall)
    assert restarted.get_version("quiz", old.version) == old


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["One", "Two", "Three", "Four"]), min_size=1, max_size=8))
def test_every_version_seen_reads_back_equal_to_the_quiz_current_then(titles: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        questions = Questions(Path(directory) / "questions")
        catalog: QuizCatalog | None = None
        seen: dict[str, Quiz] = {}
        for title in titles:
            questions.write(title)
            catalog = catalog or catalog_of(questions, Path(directory) / "versions")
            quiz = current(catalog)
            seen[quiz.version] = quiz
        restarted = catalog_of(questions, Path(directory) / "versions")
        for version, quiz in seen.items():
            assert restarted.get_version("quiz", version) == quiz
