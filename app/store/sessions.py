"""The session log: every SMTP session the capture server took, beside the mail store's index.

It lives in ``ROOT/.sessions.sqlite3``, a file of its own rather than tables in the index:
the index is a cache that any process drops and rebuilds from the Maildirs, while a session
log cannot be rebuilt from anything. WAL mode (``app.sqlitedb``) lets the web app's workers
read while the capture server writes.

The capture server hands each finished session over with :meth:`SessionLog.submit`; a thread of
the log's own wakes every WRITE_INTERVAL to build the records and write them in one transaction,
so that no client waits for it — and the server's thread is never woken for one (handing the GIL
to a writer per session cost the capture server a third of its rate). Only the newest ``keep``
sessions are kept (:data:`DEFAULT_KEEP`, give or take PRUNE_EVERY): the oldest go as new come.
A captured message's id names the session that delivered it (:meth:`SessionLog.session_of`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.sqlitedb import SharedDatabase
from app.store.session_record import Outcome, SessionRecord

__all__ = ["DEFAULT_KEEP", "SESSIONS_FILE", "SessionLog", "SessionSummary"]

SESSIONS_FILE = ".sessions.sqlite3"
#: Sessions kept. A session of a few messages takes a few kilobytes; one at the recorder's
#: limits (app.capture.recorder) under a megabyte.
DEFAULT_KEEP = 5_000
#: Seconds between the writer's rounds: a session shows on the pages this long after it ends.
WRITE_INTERVAL = 0.5
#: Sessions written between two prunings (finding the oldest to drop walks the time index).
PRUNE_EVERY = 200
#: zlib's fastest level: most of what a higher one would save, at a fraction of its time.
COMPRESSION = 1
#: Records longer than this (in characters of JSON) are stored compressed.
COMPRESS_OVER = 8 * 1024

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    peer TEXT NOT NULL,
    outcome TEXT NOT NULL,
    messages INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    record NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_time ON sessions(started_at, id);
CREATE TABLE IF NOT EXISTS session_messages (
    message_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL
);
"""
# No index by peer, nor of the messages by session: a few thousand rows are scanned in a
# millisecond when filtering or pruning, and every index costs each of the capture server's
# writes.
_SUMMARY = "id, started_at, ended_at, peer, outcome, messages, lines"

#: Makes a session's record as JSON data (SessionRecord.to_json's form).
Build = Callable[[], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """A row of the sessions list: enough to list and filter without reading the record."""

    id: str
    started: datetime
    ended: datetime
    peer: str
    outcome: Outcome
    messages: int
    lines: int


class SessionLog:
    """The session log of the mail store under *root*; safe across threads and processes."""

    def __init__(self, root: str | os.PathLike[str], *, keep: int = DEFAULT_KEEP) -> None:
        self.path = Path(root) / SESSIONS_FILE
        self.keep = keep
        try:
            self.db = SharedDatabase(self.path, _SCHEMA)
        except sqlite3.DatabaseError:  # not a database: keep it for whoever wants to look
            aside = self.path.with_name(f"{SESSIONS_FILE}.unreadable-{int(time.time())}")
            log.warning("the session log %s is unreadable; moved to %s", self.path, aside)
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):
                self.path.with_name(SESSIONS_FILE + suffix).unlink(missing_ok=True)
            self.db = SharedDatabase(self.path, _SCHEMA)
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._queue: list[Build] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._since_prune = PRUNE_EVERY  # prune on the first write

    # --- writing ---

    def submit(self, build: Build) -> None:
        """Record the session whose JSON data ``build()`` returns, within WRITE_INTERVAL, in
        another thread."""
        with self._lock:
            self._queue.append(build)
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="session-log", daemon=True)
                self._thread.start()

    def add(self, record: SessionRecord) -> None:
        """Record *record* now (``submit`` without the thread)."""
        self._write([record.to_json])

    def _run(self) -> None:
        while not self._stop.wait(WRITE_INTERVAL):
            self.flush()

    def flush(self) -> None:
        """Write every session submitted so far."""
        with self._writing:
            with self._lock:
                builds, self._queue = self._queue, []
            if builds:
                try:
                    self._write(builds)
                except Exception:  # a full disk: these sessions are lost, the next may not be
                    log.exception("%d sessions could not be written", len(builds))

    def _write(self, builds: list[Build]) -> None:
        records = []
        for build in builds:
            try:
                records.append(build())
            except Exception:  # a recorder bug must cost one session's record, nothing more
                log.exception("a session could not be recorded")
        with self.db.immediate() as db:
            for record in records:
                _insert(db, record)
            self._since_prune += len(records)
            if self._since_prune >= PRUNE_EVERY:
                _prune(db, self.keep)
                self._since_prune = 0

    def close(self) -> None:
        """Write what is queued and stop the writer (a later ``submit`` starts another)."""
        with self._lock:
            thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join()
        self.flush()
        self.prune()

    def prune(self) -> None:
        """Drop all but the newest ``keep`` sessions now."""
        with self._writing, self.db.immediate() as db:
            _prune(db, self.keep)
            self._since_prune = 0

    # --- reading ---

    def search(
        self,
        peer: str | None = None,
        outcome: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[SessionSummary]:
        """Sessions from *peer* (an address, exactly) with *outcome*, newest first."""
        where, params = _filters(peer, outcome)
        sql = (
            f"SELECT {_SUMMARY} FROM sessions {where}"
            " ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?"
        )
        rows = self.db.connection().execute(sql, (*params, limit, offset))
        return [_summary(row) for row in rows]

    def count(self, peer: str | None = None, outcome: str | None = None) -> int:
        where, params = _filters(peer, outcome)
        sql = f"SELECT count(*) FROM sessions {where}"
        return int(self.db.connection().execute(sql, params).fetchone()[0])

    def peers(self) -> list[str]:
        """Every peer address in the log, sorted."""
        rows = self.db.connection().execute("SELECT DISTINCT peer FROM sessions ORDER BY peer")
        return [row[0] for row in rows]

    def get(self, session_id: str) -> SessionRecord:
        """The record of *session_id*: KeyError when the log has no such session, ValueError
        when what it holds is not a record (a file someone else wrote)."""
        sql = "SELECT record FROM sessions WHERE id = ?"
        row = self.db.connection().execute(sql, (session_id,)).fetchone()
        if row is None:
            raise KeyError(session_id)
        try:
            stored = row[0]
            text = zlib.decompress(stored) if isinstance(stored, bytes) else stored
            return SessionRecord.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError, zlib.error) as exc:
            raise ValueError(f"session {session_id} is not readable: {exc}") from exc

    def session_of(self, message_id: str) -> str | None:
        """The session that delivered *message_id*, if the log still has it."""
        sql = "SELECT session_id FROM session_messages WHERE message_id = ?"
        row = self.db.connection().execute(sql, (message_id,)).fetchone()
        return None if row is None else str(row[0])

    def ids_starting_with(self, prefix: str, limit: int = 10) -> list[str]:
        """Session ids that start with *prefix*, sorted, at most *limit*."""
        if not prefix:
            return []
        sql = "SELECT id FROM sessions WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT ?"
        rows = self.db.connection().execute(sql, (len(prefix), prefix, limit))
        return [row[0] for row in rows]

    def __enter__(self) -> SessionLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _insert(db: sqlite3.Connection, record: dict[str, Any]) -> None:
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    # A long dialogue repeats itself (MAIL, RCPT, 250 …): compressed, it is a tenth of its size,
    # and the log's writes stay out of the way of the Maildirs' syncs on the same disk. A short
    # one is kept as text: setting zlib up would cost more than the bytes it saves.
    blob: str | bytes = text
    if len(text) > COMPRESS_OVER:
        blob = zlib.compress(text.encode("utf-8"), COMPRESSION)
    ids = [message_id for message in record["messages"] for message_id in message["ids"]]
    db.execute(
        "INSERT INTO sessions(id, started_at, ended_at, peer, outcome, messages,"
        " lines, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record["id"],
            record["started_at"],
            record["ended_at"],
            record["peer"],
            record["outcome"],
            len(ids),
            len(record["lines"]) + record["lines_dropped"],
            blob,
        ),
    )
    for message_id in ids:
        db.execute(
            "INSERT OR REPLACE INTO session_messages(message_id, session_id) VALUES (?, ?)",
            (message_id, record["id"]),
        )


def _prune(db: sqlite3.Connection, keep: int) -> None:
    """Drop all but the newest *keep* sessions, and their messages' links."""
    cutoff = db.execute(
        "SELECT started_at, id FROM sessions ORDER BY started_at DESC, id DESC LIMIT 1 OFFSET ?",
        (max(keep, 0),),
    ).fetchone()
    if cutoff is None:
        return
    old = "(started_at < ? OR (started_at = ? AND id <= ?))"
    db.execute(
        f"DELETE FROM session_messages WHERE session_id IN (SELECT id FROM sessions WHERE {old})",
        (cutoff[0], cutoff[0], cutoff[1]),
    )
    db.execute(f"DELETE FROM sessions WHERE {old}", (cutoff[0], cutoff[0], cutoff[1]))


def _filters(peer: str | None, outcome: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    if peer:
        clauses.append("peer = ?")
        params.append(peer)
    if outcome:
        clauses.append("outcome = ?")
        params.append(outcome)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _summary(row: tuple[str, float, float, str, Outcome, int, int]) -> SessionSummary:
    session_id, started, ended, peer, outcome, messages, lines = row
    return SessionSummary(
        id=session_id,
        started=datetime.fromtimestamp(started, UTC),
        ended=datetime.fromtimestamp(ended, UTC),
        peer=peer,
        outcome=outcome,
        messages=messages,
        lines=lines,
    )
