"""The quizzes of one directory, loaded once and reloaded when a file changes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from app.quiz.loader import Problem, load_quizzes, quiz_files
from app.quiz.models import Quiz

log = logging.getLogger(__name__)

RECHECK_SECONDS = 2.0  # how stale a worker's view of questions/ may get; stat()s cost little

Fingerprint = tuple[tuple[str, int, int], ...]


class QuizCatalog:
    """Every valid quiz of *directory* by id; a broken file is logged and left out."""

    def __init__(self, directory: str | Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.directory = Path(directory)
        self._clock = clock
        self._lock = threading.Lock()
        self._fingerprint: Fingerprint | None = None
        self._checked_at = float("-inf")
        self._quizzes: dict[str, Quiz] = {}
        self.problems: list[Problem] = []

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

    def _reload_if_changed(self) -> None:
        fingerprint = self._current_fingerprint()
        if fingerprint == self._fingerprint:
            return
        quizzes, problems = load_quizzes(self.directory) if fingerprint else ({}, [])
        for problem in problems:
            log.error("quiz left out: %s", problem)
        # _fingerprint last: a thread that sees it set without the lock finds the quizzes in place.
        self._quizzes, self.problems, self._fingerprint = quizzes, problems, fingerprint

    def _current_fingerprint(self) -> Fingerprint:
        try:
            paths = quiz_files(self.directory)
        except OSError:
            log.error("cannot read the questions directory %s", self.directory)
            return ()
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
