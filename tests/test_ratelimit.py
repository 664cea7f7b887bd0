"""RateLimiter: sliding window, per key, shared across threads and processes through SQLite."""

from __future__ import annotations

import multiprocessing
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.ratelimit import Limit, RateLimiter


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(tmp_path: Path, clock: FakeClock) -> RateLimiter:
    return RateLimiter(tmp_path / "var" / "ratelimit.sqlite3", clock=clock)


def test_hits_up_to_the_limit_are_allowed_then_refused(limiter: RateLimiter) -> None:
    assert [limiter.hit("a", 3, 60) for _ in range(3)] == [None, None, None]
    assert limiter.hit("a", 3, 60) == pytest.approx(60)


def test_wait_counts_from_the_oldest_hit_still_in_the_window(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    limiter.hit("a", 2, 60)
    clock.now += 10
    limiter.hit("a", 2, 60)
    clock.now += 5
    assert limiter.hit("a", 2, 60) == pytest.approx(45)


def test_window_slides_so_a_hit_is_allowed_once_the_oldest_leaves(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    limiter.hit("a", 2, 60)
    clock.now += 30
    limiter.hit("a", 2, 60)
    clock.now += 30  # the first hit is now exactly one window old
    assert limiter.hit("a", 2, 60) is None
    assert limiter.hit("a", 2, 60) == pytest.approx(30)


def test_refused_hits_are_not_recorded(limiter: RateLimiter, clock: FakeClock) -> None:
    limiter.hit("a", 1, 60)
    for _ in range(5):
        clock.now += 10
        assert limiter.hit("a", 1, 60) is not None
    clock.now += 10
    assert limiter.hit("a", 1, 60) is None


def test_several_limits_record_a_hit_only_when_all_allow_it(limiter: RateLimiter) -> None:
    wide, narrow = Limit("client", 3, 60), Limit("attempt", 1, 60)
    assert limiter.hit_all([wide, narrow]) is None
    refusal = limiter.hit_all([wide, narrow])
    assert refusal is not None
    assert refusal.which == 1
    assert refusal.wait > 0
    # The refused hit used up nothing of the client's limit: two more fit under it.
    assert limiter.hit("client", 3, 60) is None
    assert limiter.hit("client", 3, 60) is None
    assert limiter.hit("client", 3, 60) is not None


def test_keys_are_independent(limiter: RateLimiter) -> None:
    limiter.hit("a", 1, 60)
    assert limiter.hit("b", 1, 60) is None
    assert limiter.hit("a", 1, 60) is not None


def test_reset_forgets_a_key(limiter: RateLimiter) -> None:
    limiter.hit("a", 1, 60)
    limiter.reset("a")
    assert limiter.hit("a", 1, 60) is None


def test_take_back_forgets_the_newest_hit_of_a_key_only(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    assert limiter.hit_all([Limit("a", 2, 60), Limit("b", 1, 60)]) is None
    clock.now += 30
    assert limiter.hit("a", 2, 60) is None
    limiter.take_back("a")
    assert limiter.hit("a", 2, 60) is None  # the slot given back
    assert limiter.hit("a", 2, 60) == pytest.approx(30)  # the older hit still counts
    assert limiter.hit("b", 1, 60) is not None


def test_take_back_of_a_key_without_hits_changes_nothing(limiter: RateLimiter) -> None:
    limiter.hit("a", 1, 60)
    limiter.take_back("b")
    assert limiter.hit("a", 1, 60) is not None


def test_threads_taking_and_giving_back_slots_never_exceed_the_limit(
    limiter: RateLimiter,
) -> None:
    def use_a_slot_unless_refused(number: int) -> bool:
        if limiter.hit("a", 5, 3600) is not None:
            return False
        if number % 2:  # as a send the relay refuses: the slot is given back
            limiter.take_back("a")
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        kept = list(pool.map(use_a_slot_unless_refused, range(60)))
    assert kept.count(True) <= 5
    with sqlite3.connect(limiter.path) as db:
        assert db.execute("SELECT count(*) FROM hits WHERE key = 'a'").fetchone()[0] <= 5


def test_hits_survive_a_new_instance_on_the_same_file(
    tmp_path: Path, limiter: RateLimiter, clock: FakeClock
) -> None:
    limiter.hit("a", 1, 60)
    again = RateLimiter(limiter.path, clock=clock)
    assert again.hit("a", 1, 60) is not None


def test_database_is_in_wal_mode(limiter: RateLimiter) -> None:
    limiter.hit("a", 1, 60)
    with sqlite3.connect(limiter.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(("limit", "window"), [(0, 60), (1, 0), (1, -5)])
def test_nonsense_limits_are_a_programming_error(
    limiter: RateLimiter, limit: int, window: float
) -> None:
    with pytest.raises(ValueError, match="limit"):
        limiter.hit("a", limit, window)


def test_expired_hits_of_other_keys_are_swept(
    limiter: RateLimiter, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.ratelimit.SWEEP_EVERY_HITS", 2)
    limiter.hit("old", 5, 10)
    clock.now += 100
    limiter.hit("new", 5, 10)
    with sqlite3.connect(limiter.path) as db:
        keys = [row[0] for row in db.execute("SELECT key FROM hits")]
    assert keys == ["new"]


def test_threads_never_exceed_the_limit(limiter: RateLimiter) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: limiter.hit("a", 10, 3600), range(40)))
    assert results.count(None) == 10


def _hit_many(path: str, count: int) -> int:
    limiter = RateLimiter(path)
    return sum(limiter.hit("shared", 25, 3600) is None for _ in range(count))


def test_processes_sharing_the_file_never_exceed_the_limit(tmp_path: Path) -> None:
    path = str(tmp_path / "ratelimit.sqlite3")
    RateLimiter(path)  # create the schema before the race
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        allowed = pool.starmap(_hit_many, [(path, 20)] * 3)
    assert sum(allowed) == 25
