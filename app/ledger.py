"""The server's memory of each attempt: the answers saved in time, and the one graded submission.

A quiz page can be submitted more than once (Back, then Submit again; two tabs; a double click),
and after the first time the student has seen the review. So an attempt is graded once: the
first submission's result token is recorded here, and every later submission of the same attempt
is shown that result instead of a new grade. A *retake* is a new attempt, with a new id, which
the gradebook counts as another attempt.

While an attempt is open, the page saves its answers here as the student works (and the summary
step before submitting saves them too), stamped with the server's clock. When a submission
arrives after the time limit, the answers saved before the deadline are the ones graded: what was
given in time is never thrown away, and nothing given late is counted.

One SQLite file (:class:`~app.sqlitedb.SharedDatabase`) in ``VAR_DIR``, shared by every worker.
A row is kept as long as its attempt can still be submitted, then swept.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from typing import NamedTuple

from app.sqlitedb import SharedDatabase

__all__ = ["AttemptLedger", "SavedAnswers"]

#: Expired rows are swept once in this many writes; sweeping on every write would make each
#: request pay for the whole table.
SWEEP_EVERY_WRITES = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id       TEXT PRIMARY KEY,
    answers  TEXT,             -- the answers last saved in time, as a result token encodes them
    saved_at REAL,
    result   TEXT,             -- the result token of the first submission, once graded
    expires  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_expiry ON attempts (expires);
"""


class SavedAnswers(NamedTuple):
    answers: str
    saved_at: float  # seconds since the epoch, the server's clock


class AttemptLedger:
    """Submissions and saved answers by attempt id; safe to share between threads and workers.

    *clock* returns wall-clock seconds; it is shared across processes, so it must not be a
    monotonic clock.
    """

    def __init__(
        self, sqlite_path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = SharedDatabase(sqlite_path, _SCHEMA)
        self._clock = clock
        self._writes = 0

    def graded(self, attempt_id: str) -> str | None:
        """The result token of the attempt's first submission, or ``None`` if not graded yet."""
        row = (
            self._db.connection()
            .execute("SELECT result FROM attempts WHERE id = ?", (attempt_id,))
            .fetchone()
        )
        return row[0] if row else None

    def record_submission(self, attempt_id: str, result_token: str, expires: float) -> str:
        """Record *result_token* unless the attempt was graded before; the token that stands."""
        with self._db.immediate() as db:
            row = db.execute("SELECT result FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
            if row and row[0]:
                return str(row[0])
            db.execute(
                "INSERT INTO attempts (id, result, expires) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET result = excluded.result",
                (attempt_id, result_token, expires),
            )
            self._maybe_sweep(db)
        return result_token

    def save_answers(self, attempt_id: str, answers: str, expires: float) -> bool:
        """Keep *answers* as the attempt's latest; ``False`` (nothing kept) once it is graded."""
        now = self._clock()
        with self._db.immediate() as db:
            row = db.execute("SELECT result FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
            if row and row[0]:
                return False
            db.execute(
                "INSERT INTO attempts (id, answers, saved_at, expires) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET"
                " answers = excluded.answers, saved_at = excluded.saved_at",
                (attempt_id, answers, now, expires),
            )
            self._maybe_sweep(db)
        return True

    def saved_answers(self, attempt_id: str) -> SavedAnswers | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT answers, saved_at FROM attempts WHERE id = ? AND answers IS NOT NULL",
                (attempt_id,),
            )
            .fetchone()
        )
        return SavedAnswers(row[0], row[1]) if row else None

    def _maybe_sweep(self, db: sqlite3.Connection) -> None:
        self._writes += 1
        if self._writes % SWEEP_EVERY_WRITES == 0:
            db.execute("DELETE FROM attempts WHERE expires <= ?", (self._clock(),))
