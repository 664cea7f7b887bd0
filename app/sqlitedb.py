"""An SQLite file shared by every gunicorn worker on one machine, and every thread in each.

One connection per thread and per process (a connection must not cross a fork), WAL so that
readers and the one writer proceed together, and ``BEGIN IMMEDIATE`` transactions that take the
write lock up front, so that two workers racing for the same row cannot both win.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

__all__ = ["BUSY_TIMEOUT_SECONDS", "SharedDatabase", "immediate"]

#: How long a worker waits for another worker's write lock before giving up (seconds). Each
#: transaction is a handful of statements on a small table, so contention clears in
#: milliseconds; five seconds only matters when the disk stalls.
BUSY_TIMEOUT_SECONDS = 5.0


class SharedDatabase:
    """The database at *path*, created with *schema* (idempotent statements) on first use."""

    def __init__(self, path: str | os.PathLike[str], schema: str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.connection().executescript(schema)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = self._connect()
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def immediate(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self.connection())

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against application crashes; what these files hold may lose its
        # last writes to a power cut, which costs nothing worth a full fsync per request.
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE … COMMIT`` on *db* (opened with ``isolation_level=None``), or ROLLBACK
    when the block raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
