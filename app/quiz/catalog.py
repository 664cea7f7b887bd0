"""The quizzes of one directory, loaded once and reloaded when a file changes.

With a ``versions_dir``, every version a catalog serves is also kept on disk
(:mod:`app.quiz.versions`), so that an attempt or a result link made before an edit still finds
the quiz it was made with, in any worker and after a restart: see :meth:`QuizCatalog.get_version`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from pathlib import Path

from app.quiz.loader import Problem, QuizSource, quiz_files, read_quizzes
from app.quiz.models import Quiz
from app.quiz.versions import VersionStore

log = logging.getLogger(__name__)

RECHECK_SECONDS = 2.0  # how stale a worker's view of questions/ may get; stat()s cost little
# How often an unchanged catalog marks its versions current on disk: a few utime()s an hour cost
# nothing, and an hour is the most a version's "last seen current" may lag (added to retention).
KEEP_ALIVE = timedelta(hours=1)
# A result link lives 90 days (RESULT_MAX_AGE in app/web/submissions.py), made from an attempt
# started up to a day before it (ATTEMPT_MAX_AGE): a version must outlive its last attempt by both.
DEFAULT_RETENTION = timedelta(days=90) + timedelta(hours=24)

Fingerprint = tuple[tuple[str, int, int], ...]


class QuizCatalog:
    """Every valid quiz of *directory* by id; a broken file is logged and left out."""

    def __init__(
        self,
        directory: str | Path,
        clock: Callable[[], float] = time.monotonic,
        *,
        versions_dir: str | Path | None = None,
        retention: timedelta = DEFAULT_RETENTION,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """*versions_dir*: where to keep every version served (None: keep none, write nothing);
        a version no longer current is kept at least *retention* (*wall_clock* dates the files)."""
        self.directory = Path(directory)
        self._clock = clock
        self._lock = threading.Lock()
        self._fingerprint: Fingerprint | None = None
        self._checked_at = float("-inf")
        self._kept_at = float("-inf")
        self._sources: dict[str, QuizSource] = {}
        self._quizzes: dict[str, Quiz] = {}
        self.problems: list[Problem] = []
        self.versions = (
            VersionStore(versions_dir, retention + KEEP_ALIVE, wall_clock)
            if versions_dir is not None
            else None
        )

    def quizzes(self) -> dict[str, Quiz]:
        """Every quiz. Until the first load is complete every caller waits for it (an empty
        catalog meant 404s for a new worker's first requests); later rechecks block nobody."""
        if self._is_due():
            with self._lock:
                if self._is_due():  # another thread may have loaded while this one waited
                    self._checked_at = self._clock()
                    self._reload_if_changed()
        return self._quizzes

    def _is_due(self) -> bool:
        return self._fingerprint is None or self._clock() - self._checked_at >= RECHECK_SECONDS

    def recheck(self) -> None:
        """Look at the files again on the next access, whatever the interval."""
        self._checked_at = float("-inf")

    def get(self, quiz_id: str) -> Quiz | None:
        return self.quizzes().get(quiz_id)

    def get_version(self, quiz_id: str, version: str) -> Quiz | None:
        """Quiz *quiz_id* as it was at *version*: the current quiz if that is its version, else
        the kept copy (also of a quiz whose file is gone), else None. Never raises for a damaged
        copy: that is logged and answers None."""
        quiz = self.get(quiz_id)
        if quiz is not None and quiz.version == version:
            return quiz
        return self.versions.get(quiz_id, version) if self.versions else None

    def _reload_if_changed(self) -> None:
        fingerprint = self._current_fingerprint()
        if fingerprint == self._fingerprint:
            if self._clock() - self._kept_at >= KEEP_ALIVE.total_seconds():
                self._keep_versions(stopped=())
            return
        sources, problems = read_quizzes(self.directory) if fingerprint else ({}, [])
        for problem in problems:
            log.error("quiz left out: %s", problem)
        stopped = _no_longer_current(self._quizzes, sources)
        self._sources = sources
        self._keep_versions(stopped)  # on disk before any attempt can be made with them
        quizzes = {quiz_id: source.quiz for quiz_id, source in sources.items()}
        # _fingerprint last: a thread that sees it set without the lock finds the quizzes in place.
        self._quizzes, self.problems, self._fingerprint = quizzes, problems, fingerprint

    def _keep_versions(self, stopped: Iterable[Quiz]) -> None:
        """Store (or mark current) every current version, mark the *stopped* ones as current
        until now, and prune what is past retention."""
        if self.versions is None:
            return
        self._kept_at = self._clock()
        for source in self._sources.values():
            self.versions.keep(source.quiz, source.data)
        for quiz in stopped:
            self.versions.touch(quiz.id, quiz.version)
        self.versions.prune({(s.quiz.id, s.quiz.version) for s in self._sources.values()})

    def _current_fingerprint(self) -> Fingerprint:
        try:
            paths = quiz_files(self.directory)
        except OSError:
            log.error("cannot read the questions directory %s", self.directory)
            return ()
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths)


def _no_longer_current(before: Mapping[str, Quiz], now: Mapping[str, QuizSource]) -> list[Quiz]:
    """The quizzes of *before* whose version is not current *now* (edited, or the file gone)."""
    return [
        quiz
        for quiz_id, quiz in before.items()
        if quiz_id not in now or now[quiz_id].quiz.version != quiz.version
    ]
