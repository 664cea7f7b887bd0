"""Every version of a quiz that a student may still hold, kept on disk by content hash.

A signed attempt or result names its quiz by id and version, the hash of the file's bytes
(:func:`~app.quiz.loader.source_version`). When the file is edited, the catalog's current quiz
has a new version; the old one is read back from here, in any worker, after any restart.

Layout::

    <directory>/<version>/<quiz id>.yaml    the source bytes exactly as read from questions/
    <directory>/.lock                       flock: shared while storing, exclusive while pruning

By version first, then under the quiz's own file name: a stored file *is* a quiz file, which the
loader parses as it is (``parse_quiz(data, path)`` takes the quiz id from the file name), and
``quizmail check`` can check. The id cannot be dropped from the path: the same bytes under two
file names are two quizzes with one version.

Never trusting the disk: a stored file is used only if it holds at most
:data:`MAX_SOURCE_BYTES`, its bytes hash to the version its directory names, and it parses as the
quiz it names; anything else is logged and treated as missing, never raised. Parsed versions stay
in an LRU of :data:`CACHE_SIZE` per store; misses are not cached (another worker may store the
version a moment later).

Writing: a version is written by :func:`app.durable.replace_durably` (a private draft, fsync,
rename, fsync of the directory), so a reader finds the whole file or none. Several processes
storing the same version at once each rename their own draft over the same name with the same
bytes: whichever rename lands last, one valid file is left. A valid stored file is not rewritten.

Retention: a stored file's mtime is the last time a catalog saw its version current.
:meth:`VersionStore.keep` sets it to now, and the catalog keeps every current version at every
reload and at least every :data:`~app.quiz.catalog.KEEP_ALIVE`; at a reload it also
touches the versions that were current until then, which is the moment they stopped being current.
:meth:`VersionStore.prune` removes the files of versions not current whose mtime is older than
``retention``. Nothing of this lives in memory, so it holds across restarts and workers: a version
edited away while no server ran was last touched at most the keep-alive interval before it stopped
being current, and the catalog adds that interval to the retention it asks for. The flock keeps a
prune from removing a file that another process is confirming current at that moment (a file
edited back to an old version).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import re
import time
from collections.abc import Callable, Collection, Iterator
from datetime import timedelta
from pathlib import Path

from app.durable import DRAFT_SUFFIX, fsync_dir, replace_durably
from app.quiz.loader import (
    ID_PATTERN,
    VERSION_LENGTH,
    QuizFileError,
    parse_quiz,
    source_version,
)
from app.quiz.models import Quiz

log = logging.getLogger(__name__)

# The largest shipped quiz is ~20 KB; a bank of a thousand questions with explanations fits too.
MAX_SOURCE_BYTES = 4 * 1024 * 1024
CACHE_SIZE = 256  # parsed versions per worker: a few old versions of each quiz of a term
DRAFT_MAX_AGE = timedelta(hours=1)  # a write takes milliseconds: an older draft is a dead writer's
SUFFIX = ".yaml"
LOCK_FILE = ".lock"
VERSION_PATTERN = re.compile(f"[0-9a-f]{{{VERSION_LENGTH}}}")

QuizVersion = tuple[str, str]  # (quiz id, version)


class _Unusable(Exception):
    """A stored version that is missing or not to be trusted (never leaves this module)."""

    def __init__(self, reason: str, level: int = logging.ERROR) -> None:
        super().__init__(reason)
        self.level = level  # a version never stored is ordinary; a damaged one is news


class VersionStore:
    """Quiz sources by (quiz id, version) under *directory*; see the module docstring."""

    def __init__(
        self,
        directory: str | Path,
        retention: timedelta,
        clock: Callable[[], float] = time.time,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.directory = Path(directory)
        self.retention = retention
        self._clock = clock
        self._cached_read = functools.lru_cache(maxsize=cache_size)(self._read)

    def path(self, quiz_id: str, version: str) -> Path:
        return self.directory / version / f"{quiz_id}{SUFFIX}"

    # --- reading ---

    def get(self, quiz_id: str, version: str) -> Quiz | None:
        """The stored quiz *quiz_id* at *version*, or None if it is missing or not to be trusted."""
        if not (ID_PATTERN.fullmatch(quiz_id) and VERSION_PATTERN.fullmatch(version)):
            return None  # not a name this store could have written (nor a path to follow)
        try:
            return self._cached_read(quiz_id, version)
        except _Unusable as unusable:
            log.log(unusable.level, "quiz %s version %s: %s", quiz_id, version, unusable)
            return None

    def _read(self, quiz_id: str, version: str) -> Quiz:
        path = self.path(quiz_id, version)
        data = _read_trusted(path, version)
        try:
            return parse_quiz(data, path)
        except QuizFileError as error:  # e.g. stored before the loader grew stricter
            raise _Unusable(f"{path} no longer loads: {error.problems[0]}") from None
        except Exception as exc:  # whatever else a stored file does, no result page shows a 500
            raise _Unusable(f"{path} cannot be loaded: {exc!r}") from None

    # --- storing ---

    def keep(self, quiz: Quiz, data: bytes) -> None:
        """Store *data*, the source of *quiz*, unless a valid copy is there; mark it current now.

        A failure to write is logged, not raised: the quiz is still served from memory."""
        path = self.path(quiz.id, quiz.version)
        try:
            with self._lock(fcntl.LOCK_SH):
                if not _holds(path, quiz.version):
                    self._write(path, data)
                self._touch(path)
        except OSError as exc:
            log.error("cannot keep quiz %s version %s in %s: %s", quiz.id, quiz.version, path, exc)

    def touch(self, quiz_id: str, version: str) -> None:
        """Mark a stored version current now (e.g. the moment it stopped being current)."""
        with contextlib.suppress(OSError), self._lock(fcntl.LOCK_SH):
            self._touch(self.path(quiz_id, version))

    def _write(self, path: Path, data: bytes) -> None:
        if len(data) > MAX_SOURCE_BYTES:
            raise OSError(f"the file has more than {MAX_SOURCE_BYTES} bytes")
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
            fsync_dir(path.parent.parent)
        replace_durably(path, data)

    def _touch(self, path: Path) -> None:
        now = self._clock()
        os.utime(path, (now, now))

    # --- pruning ---

    def prune(self, current: Collection[QuizVersion]) -> None:
        """Remove versions not in *current* untouched for longer than the retention, and dead
        writers' drafts. Skipped when another process holds the lock: it will prune, or the next
        call will."""
        now = self._clock()
        try:
            with self._lock(fcntl.LOCK_EX | fcntl.LOCK_NB):
                for version_dir in _subdirectories(self.directory):
                    self._prune_version(version_dir, current, now)
        except BlockingIOError:
            return
        except OSError as exc:
            log.error("cannot prune the quiz versions in %s: %s", self.directory, exc)

    def _prune_version(
        self, version_dir: Path, current: Collection[QuizVersion], now: float
    ) -> None:
        for path in _files(version_dir):
            if self._is_expired(path, (path.stem, version_dir.name), current, now):
                path.unlink()
                log.info("pruned %s", path)
        with contextlib.suppress(OSError):
            version_dir.rmdir()  # only once empty

    def _is_expired(
        self, path: Path, named: QuizVersion, current: Collection[QuizVersion], now: float
    ) -> bool:
        age = now - path.stat().st_mtime
        if path.name.endswith(DRAFT_SUFFIX):
            return age > DRAFT_MAX_AGE.total_seconds()
        is_version = path.suffix == SUFFIX and ID_PATTERN.fullmatch(path.stem) is not None
        return is_version and named not in current and age > self.retention.total_seconds()

    @contextlib.contextmanager
    def _lock(self, operation: int) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, operation)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def _read_trusted(path: Path, version: str) -> bytes:
    """The bytes at *path* if they are whole: no larger than a quiz may be, hashing to *version*."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_SOURCE_BYTES + 1)
    except FileNotFoundError:
        raise _Unusable("not stored", logging.INFO) from None
    except OSError as exc:
        raise _Unusable(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_SOURCE_BYTES or source_version(data) != version:
        raise _Unusable(f"{path} does not hold that version (altered or damaged)")
    return data


def _holds(path: Path, version: str) -> bool:
    try:
        _read_trusted(path, version)
    except _Unusable:
        return False
    return True


def _subdirectories(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if VERSION_PATTERN.fullmatch(p.name) and p.is_dir()]


def _files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.is_file()]
