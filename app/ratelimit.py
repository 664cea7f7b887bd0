"""A sliding-window rate limiter in SQLite, shared by every gunicorn worker on one machine.

Each hit is one row ``(key, at, expires)``. A hit is allowed when fewer than *limit* rows for the
key lie inside the window; the check and the insert happen in one ``BEGIN IMMEDIATE`` transaction,
so two workers racing for the last slot cannot both win. WAL mode lets readers and the one writer
proceed together, and the file lives in ``VAR_DIR`` next to the other state of the instance.

A sliding log (rather than fixed buckets) means "20 per hour" is never 40 across a bucket edge.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

from app.sqlitedb import SharedDatabase

__all__ = ["Limit", "RateLimiter", "Refusal"]

#: Expired rows of *every* key are swept once in this many hits; the key being hit is always
#: trimmed. Sweeping on every hit would make each request pay for the whole table.
SWEEP_EVERY_HITS = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hits (
    key     TEXT NOT NULL,
    at      REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS hits_by_key ON hits (key, at);
CREATE INDEX IF NOT EXISTS hits_by_expiry ON hits (expires);
"""


class Limit(NamedTuple):
    """At most *limit* hits of *key* in any *window_seconds*."""

    key: str
    limit: int
    window_seconds: float


class Refusal(NamedTuple):
    """Which of several limits refused a hit, and the seconds until it would allow one."""

    which: int  # the position of the refusing limit in the list given
    wait: float


class RateLimiter:
    """``hit(key, limit, window_seconds)`` → ``None`` when allowed, else seconds to wait.

    Safe to share between threads (one SQLite connection per thread) and between processes (the
    database serialises writers). *clock* returns wall-clock seconds; it is shared across
    processes, so it must not be a monotonic clock.
    """

    def __init__(
        self, sqlite_path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ):
        self._db = SharedDatabase(sqlite_path, _SCHEMA)
        self.path = self._db.path
        self._clock = clock
        self._hits = 0

    def hit(self, key: str, limit: int, window_seconds: float) -> float | None:
        """Record a hit for *key*; return ``None`` if it is within *limit* per *window_seconds*.

        A refused hit is not recorded, so a client that keeps retrying is let in as soon as its
        oldest hit leaves the window — the returned number of seconds.
        """
        refusal = self.hit_all([Limit(key, limit, window_seconds)])
        return None if refusal is None else refusal.wait

    def hit_all(self, limits: Sequence[Limit]) -> Refusal | None:
        """Record one hit under every limit if all allow it, else none; ``None`` when allowed.

        One request may count against several limits (a client's, an attempt's): a hit that
        one limit refuses must not use up the others, so they are checked and recorded in one
        transaction. The refusal names the first limit that refused.
        """
        for key, limit, window_seconds in limits:
            if limit < 1 or window_seconds <= 0:
                raise ValueError(f"{key}: limit must be ≥ 1 and window_seconds > 0")
        now = self._clock()
        with self._db.immediate() as db:
            for index, (key, limit, window_seconds) in enumerate(limits):
                db.execute(
                    "DELETE FROM hits WHERE key = ? AND at <= ?", (key, now - window_seconds)
                )
                wait = _wait_for_slot(db, key, limit, window_seconds, now)
                if wait is not None:
                    return Refusal(index, wait)  # nothing inserted yet: the commit keeps none
            db.executemany(
                "INSERT INTO hits VALUES (?, ?, ?)",
                [(key, now, now + window) for key, _, window in limits],
            )
            self._maybe_sweep(db, now)
        return None

    def take_back(self, key: str) -> None:
        """Forget the newest hit of *key*: a request that, as it turned out, must not count.

        Taking a slot with :meth:`hit_all` before the work and giving it back afterwards keeps
        the check and the record in one transaction, so racing workers never exceed the limit
        (checking first and recording after the work would let two through for the last slot).
        Hits of one key count alike: if a racing request's hit (made a moment later) is the one
        forgotten, the count is the same and the remaining hit leaves the window that moment
        sooner.
        """
        with self._db.immediate() as db:
            db.execute(
                "DELETE FROM hits WHERE rowid ="
                " (SELECT rowid FROM hits WHERE key = ? ORDER BY at DESC LIMIT 1)",
                (key,),
            )

    def reset(self, key: str) -> None:
        """Forget every hit of *key* (e.g. after a successful login)."""
        with self._db.immediate() as db:
            db.execute("DELETE FROM hits WHERE key = ?", (key,))

    def _maybe_sweep(self, db: sqlite3.Connection, now: float) -> None:
        self._hits += 1
        if self._hits % SWEEP_EVERY_HITS == 0:
            db.execute("DELETE FROM hits WHERE expires <= ?", (now,))


def _wait_for_slot(
    db: sqlite3.Connection, key: str, limit: int, window_seconds: float, now: float
) -> float | None:
    """Seconds until a hit on *key* would be allowed, or ``None`` if one is allowed now."""
    rows = db.execute(
        "SELECT at FROM hits WHERE key = ? ORDER BY at DESC LIMIT 1 OFFSET ?", (key, limit - 1)
    ).fetchall()
    if not rows:
        return None
    # The limit-th newest hit must leave the window before another fits; it lies inside the
    # window (older hits were just deleted), so the wait is positive.
    return float(rows[0][0] + window_seconds - now)
