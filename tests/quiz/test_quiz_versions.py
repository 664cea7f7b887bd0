"""The version store keeps quiz sources by hash, trusts nothing it reads back, and prunes by age."""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from app.durable import DRAFT_SUFFIX
from app.quiz import Quiz
from app.quiz.loader import parse_quiz, source_version
from app.quiz.versions import DRAFT_MAX_AGE, LOCK_FILE, MAX_SOURCE_BYTES, VersionStore

from .helpers import QUIZ, FakeClock

RETENTION = timedelta(days=90)
DAY = timedelta(days=1).total_seconds()
START = 1_000_000_000.0  # a wall clock in 2001: any time before it is still a valid mtime


def source(title: str) -> tuple[Quiz, bytes]:
    data = QUIZ.format(title=title).encode()
    return parse_quiz(data, Path("quiz.yaml")), data


def store_in(directory: Path, clock: FakeClock | None = None) -> VersionStore:
    return VersionStore(directory, RETENTION, clock or FakeClock(START))


def kept_once(directory: Path) -> tuple[VersionStore, FakeClock, Quiz]:
    """A store on a clock of its own, holding one version, kept at the clock's start."""
    clock = FakeClock(START)
    store = store_in(directory, clock)
    quiz, data = source("Old")
    store.keep(quiz, data)
    return store, clock, quiz


def test_a_kept_version_reads_back_in_another_store(tmp_path: Path) -> None:
    quiz, data = source("First")
    store_in(tmp_path).keep(quiz, data)
    assert store_in(tmp_path).get("quiz", quiz.version) == quiz
    assert store_in(tmp_path).path("quiz", quiz.version).read_bytes() == data


def test_an_unknown_version_or_a_path_for_a_name_is_missing(tmp_path: Path) -> None:
    quiz, data = source("First")
    store = store_in(tmp_path)
    store.keep(quiz, data)
    assert store.get("quiz", "0" * len(quiz.version)) is None
    assert store.get("other", quiz.version) is None
    assert store.get("../quiz", quiz.version) is None
    assert store.get("quiz", f"../{quiz.version}") is None


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="cut short"),
        pytest.param(lambda data: data.replace(b"First", b"Fixed"), id="other valid quiz"),
        pytest.param(lambda data: b"\x00" * len(data), id="zeroed"),
    ],
)
def test_a_damaged_copy_is_missing_and_logged(
    tmp_path: Path, damage: Callable[[bytes], bytes], caplog: pytest.LogCaptureFixture
) -> None:
    quiz, data = source("First")
    store_in(tmp_path).keep(quiz, data)
    path = store_in(tmp_path).path("quiz", quiz.version)
    path.write_bytes(damage(data))
    with caplog.at_level(logging.ERROR):
        assert store_in(tmp_path).get("quiz", quiz.version) is None
    assert "does not hold that version" in caplog.text


def test_an_oversized_copy_is_missing(tmp_path: Path) -> None:
    quiz, data = source("First")
    store_in(tmp_path).keep(quiz, data)
    with store_in(tmp_path).path("quiz", quiz.version).open("ab") as f:
        f.write(b"#" * MAX_SOURCE_BYTES)
    assert store_in(tmp_path).get("quiz", quiz.version) is None


def test_a_copy_that_no_longer_loads_is_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Bytes that hash right but fail the loader (say, a stricter loader) answer None."""
    data = b"title: [\n"
    path = store_in(tmp_path).path("quiz", source_version(data))
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    with caplog.at_level(logging.ERROR):
        assert store_in(tmp_path).get("quiz", source_version(data)) is None
    assert "no longer loads" in caplog.text


def test_keeping_a_damaged_copy_again_repairs_it(tmp_path: Path) -> None:
    quiz, data = source("First")
    store = store_in(tmp_path)
    store.keep(quiz, data)
    store.path("quiz", quiz.version).write_bytes(b"garbage")
    store.keep(quiz, data)
    assert store_in(tmp_path).get("quiz", quiz.version) == quiz


def test_a_miss_is_not_remembered(tmp_path: Path) -> None:
    """Another worker may store the version a moment after this one looked for it."""
    quiz, data = source("First")
    store = store_in(tmp_path)
    assert store.get("quiz", quiz.version) is None
    store_in(tmp_path).keep(quiz, data)
    assert store.get("quiz", quiz.version) == quiz


def test_parsed_versions_are_cached_up_to_the_cache_size(tmp_path: Path) -> None:
    store = VersionStore(tmp_path, RETENTION, FakeClock(START), cache_size=1)
    (first, first_data), (second, second_data) = source("First"), source("Second")
    store.keep(first, first_data)
    store.keep(second, second_data)
    assert store.get("quiz", first.version) == first
    assert store.get("quiz", second.version) == second  # evicts the first
    for quiz in (first, second):
        store.path("quiz", quiz.version).unlink()
    assert store.get("quiz", second.version) == second  # from memory
    assert store.get("quiz", first.version) is None  # read again: gone


def test_a_store_that_cannot_write_logs_and_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    quiz, data = source("First")
    with caplog.at_level(logging.ERROR):
        store_in(blocker).keep(quiz, data)
    assert "cannot keep quiz quiz version" in caplog.text
    assert store_in(blocker).get("quiz", quiz.version) is None


# --- several processes ---------------------------------------------------------------------------

WRITERS = 4
VERSIONS = 20


def _keep_every_version(directory: str, start: multiprocessing.Barrier) -> None:  # type: ignore[valid-type]
    store = store_in(Path(directory))
    start.wait()  # type: ignore[attr-defined]
    for n in range(VERSIONS):
        store.keep(*source(f"Edit {n}"))


def test_processes_keeping_the_same_versions_at_once_leave_one_valid_file_each(
    tmp_path: Path,
) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WRITERS)
    writers = [
        ctx.Process(target=_keep_every_version, args=(str(tmp_path), start)) for _ in range(WRITERS)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    assert [writer.exitcode for writer in writers] == [0] * WRITERS
    for n in range(VERSIONS):
        quiz, data = source(f"Edit {n}")
        assert store_in(tmp_path).path("quiz", quiz.version).read_bytes() == data
        assert store_in(tmp_path).get("quiz", quiz.version) == quiz
    assert not list(tmp_path.glob(f"*/*{DRAFT_SUFFIX}"))


# --- pruning -------------------------------------------------------------------------------------


def test_pruning_keeps_what_is_within_retention_and_removes_what_is_past_it(
    tmp_path: Path,
) -> None:
    clock = FakeClock(START)
    store = store_in(tmp_path, clock)
    old, old_data = source("Old")
    new, new_data = source("New")
    store.keep(old, old_data)  # last seen current now
    store.keep(new, new_data)
    current = {("quiz", new.version)}
    clock.now += RETENTION.total_seconds()
    store.prune(current)
    assert store_in(tmp_path).get("quiz", old.version) == old  # exactly at the limit: kept
    clock.now += 1
    store.prune(current)
    assert store_in(tmp_path).get("quiz", old.version) is None
    assert not store.path("quiz", old.version).parent.exists()
    assert store_in(tmp_path).get("quiz", new.version) == new  # current: kept however old


def test_a_touch_restarts_the_retention(tmp_path: Path) -> None:
    store, clock, quiz = kept_once(tmp_path)
    clock.now += 80 * DAY
    store.touch("quiz", quiz.version)  # the moment it stopped being current
    clock.now += 80 * DAY
    store.prune(set())
    assert store_in(tmp_path).get("quiz", quiz.version) == quiz


def test_pruning_removes_dead_writers_drafts_and_leaves_strangers_alone(tmp_path: Path) -> None:
    store, clock, quiz = kept_once(tmp_path)
    version_dir = store.path("quiz", quiz.version).parent
    stale, fresh, stranger = (version_dir / name for name in ("s", "f", "notes.txt"))
    for path in (stale, fresh, stranger):
        path.write_text("")
    stale_draft = stale.rename(version_dir / f".quiz.yaml.1.aa{DRAFT_SUFFIX}")
    fresh_draft = fresh.rename(version_dir / f".quiz.yaml.2.bb{DRAFT_SUFFIX}")
    os.utime(stale_draft, (clock.now - DRAFT_MAX_AGE.total_seconds() - 1,) * 2)
    os.utime(fresh_draft, (clock.now,) * 2)
    os.utime(stranger, (clock.now - 1000 * DAY,) * 2)
    store.prune({("quiz", quiz.version)})
    assert sorted(p.name for p in version_dir.iterdir()) == sorted(
        [fresh_draft.name, stranger.name, "quiz.yaml"]
    )


def test_pruning_waits_for_no_store_and_skips_while_one_is_storing(tmp_path: Path) -> None:
    store, clock, quiz = kept_once(tmp_path)
    clock.now += 1000 * DAY
    fd = os.open(tmp_path / LOCK_FILE, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # another process, confirming a version current
        store.prune(set())
        assert store_in(tmp_path).get("quiz", quiz.version) == quiz
    finally:
        os.close(fd)
    store.prune(set())
    assert store_in(tmp_path).get("quiz", quiz.version) is None
