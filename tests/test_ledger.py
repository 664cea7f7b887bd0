"""The attempt ledger: one graded submission per attempt, across threads and processes."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app.ledger import SWEEP_EVERY_WRITES, AttemptLedger

FAR = 4_000_000_000.0  # an expiry that never comes in these tests


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_submission_stands(tmp_path: Path) -> None:
    ledger = AttemptLedger(tmp_path / "attempts.sqlite3")
    assert ledger.graded("a1") is None
    assert ledger.record_submission("a1", "first", FAR) == "first"
    assert ledger.record_submission("a1", "second", FAR) == "first"
    assert ledger.graded("a1") == "first"
    assert ledger.record_submission("a2", "other", FAR) == "other"


def test_saved_answers_are_the_latest_and_stop_at_grading(tmp_path: Path) -> None:
    clock = FakeClock()
    ledger = AttemptLedger(tmp_path / "attempts.sqlite3", clock=clock)
    assert ledger.saved_answers("a1") is None
    assert ledger.save_answers("a1", "0;;", FAR)
    clock.now += 5
    assert ledger.save_answers("a1", "0;1;", FAR)
    assert ledger.saved_answers("a1") == ("0;1;", 1_005.0)
    ledger.record_submission("a1", "token", FAR)
    assert not ledger.save_answers("a1", "1;1;", FAR)
    assert ledger.saved_answers("a1") == ("0;1;", 1_005.0)  # kept, as graded late attempts need


def test_expired_rows_are_swept(tmp_path: Path) -> None:
    clock = FakeClock()
    ledger = AttemptLedger(tmp_path / "attempts.sqlite3", clock=clock)
    ledger.record_submission("old", "token", clock.now + 10)
    clock.now += 11
    for number in range(SWEEP_EVERY_WRITES):
        ledger.save_answers(f"new{number}", "", FAR)
    assert ledger.graded("old") is None
    assert ledger.saved_answers("new0") is not None


def test_threads_racing_to_submit_one_attempt_agree(tmp_path: Path) -> None:
    ledger = AttemptLedger(tmp_path / "attempts.sqlite3")
    with ThreadPoolExecutor(8) as pool:
        standing = set(pool.map(lambda n: ledger.record_submission("a1", f"t{n}", FAR), range(32)))
    assert len(standing) == 1


def _submit_many(path: Path, worker: int) -> list[str]:
    ledger = AttemptLedger(path)
    return [ledger.record_submission(f"a{n}", f"w{worker}", FAR) for n in range(40)]


def test_workers_racing_to_submit_agree_on_every_attempt(tmp_path: Path) -> None:
    """Processes stand for gunicorn workers: for each attempt, every one sees the same winner."""
    path = tmp_path / "attempts.sqlite3"
    AttemptLedger(path)  # the schema, before the race
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        seen = pool.starmap(_submit_many, [(path, worker) for worker in range(3)])
    assert all(len({worker[n] for worker in seen}) == 1 for n in range(40))
