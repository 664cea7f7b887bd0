"""Durable Maildir writes: a message is on disk, in ``new/``, before its delivery is done.

Each copy is created in ``tmp/`` under a fresh key, fsynced, renamed into ``new/``, and ``new/``
is fsynced (Maildir's own protocol, made crash-safe). Two threads do it in batches
(:class:`MaildirWriter`): one creates the files of a batch while the other syncs the previous
batch, renames it and syncs each ``new/`` once for all of its copies, so a server that answers
250 only afterwards never waits a disk flush per message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.addresses import mailbox_key
from app.batcher import Batcher
from app.durable import fsync_dir
from app.store.naming import cached_mailbox_name

__all__ = ["Delivery", "MaildirWriter", "received_at"]

SUBDIRS = ("tmp", "new", "cur")
_KEY_TIME = re.compile(r"^(\d+)\.M(\d+)")
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "localhost"
_counter = itertools.count()
log = logging.getLogger(__name__)


# --- keys ----------------------------------------------------------------------------------------


def _process_tag() -> str:
    """``Ppid`` and randomness for the keys a process makes (the pid alone repeats across
    containers sharing a volume); remade in a forked child, whose pid and counter differ."""
    return f"P{os.getpid()}R{secrets.token_hex(4)}"


_tag = _process_tag()


def _retag() -> None:
    global _tag  # noqa: PLW0603 -- per process, refreshed after fork
    _tag = _process_tag()


os.register_at_fork(after_in_child=_retag)


def new_key() -> str:
    """A Maildir key (the usual ``time.MusecPpidQn.host`` form plus randomness), URL-safe.

    The pid and the random part are made once per process: a key costs no system call.
    """
    seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
    return f"{seconds}.M{micros}{_tag}Q{next(_counter)}.{_HOST}"


def received_at(key: str, path: Path) -> float:
    """When the copy stored under *key* arrived: the time in its key, else its file's mtime."""
    match = _KEY_TIME.match(key)
    if match:
        return int(match[1]) + int(match[2]) / 1_000_000
    return path.stat().st_mtime


# --- files ---------------------------------------------------------------------------------------


def _open_dir(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY)


def _write_unsynced(directory: int, name: str, chunks: list[bytes]) -> int:
    """Create file *name* in the open *directory*, write *chunks*, start its writeback; the
    still open file is returned for the caller to fsync.

    Starting the writeback of every file of a batch before waiting for any (POSIX_FADV_DONTNEED
    begins it without waiting) lets the first fsync's journal commit cover all of their blocks:
    the later fsyncs then find their file clean and return at once, where each would otherwise
    wait for a commit of its own.
    """
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=directory)
    try:
        size = sum(len(chunk) for chunk in chunks)
        written = os.writev(fd, chunks)
        if written < size:  # short write (disk nearly full, signals): finish chunk by chunk
            view = memoryview(b"".join(chunks))[written:]
            while view:
                view = view[os.write(fd, view) :]
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _ensure_maildir(root: Path, name: str) -> Path:
    """The Maildir called *name*, created (and its creation made durable) if needed."""
    path = root / name
    if (path / "new").is_dir():
        return path
    for sub in SUBDIRS:
        (path / sub).mkdir(parents=True, exist_ok=True)
    fsync_dir(path)
    fsync_dir(root)
    return path


@dataclass(frozen=True, slots=True)
class _MaildirFds:
    """The open tmp/ and new/ directories of one Maildir: a delivery looks up no paths."""

    tmp: int
    new: int

    def close(self) -> None:
        os.close(self.tmp)
        os.close(self.new)


@dataclass(frozen=True, slots=True)
class _Written:
    """A copy written into tmp/ by a delivery, its file still open: all that syncing it and
    moving it into new/ need."""

    key: str
    dirs: _MaildirFds
    fd: int


# --- deliveries ----------------------------------------------------------------------------------


@dataclass(eq=False)
class Delivery:
    """One message for its recipients, queued for the writer's batch threads.

    Once every copy is on disk, ``ids`` holds their message ids; if storing failed, ``error``
    says why instead. Either way ``on_done(self)`` is then called, from a batch thread: it must
    be quick, and must not wait for another delivery.
    """

    recipients: Sequence[str]
    message: bytes
    prefix: Callable[[str], bytes] | None
    on_done: Callable[[Delivery], None]
    copies: list[_Written] = dataclasses.field(default_factory=list)
    error: BaseException | None = None

    @property
    def ids(self) -> list[str]:
        return [copy.key for copy in self.copies]

    def failing(self) -> contextlib.AbstractContextManager[None]:
        return _failing([self])


@contextlib.contextmanager
def _failing(deliveries: list[Delivery]) -> Iterator[None]:
    """Record an exception raised in the block as the error of each of *deliveries*."""
    try:
        yield
    except Exception as exc:
        for delivery in deliveries:
            delivery.error = delivery.error or exc


def _report_done(batch: list[Delivery]) -> None:
    for delivery in batch:
        try:
            delivery.on_done(delivery)
        except Exception:  # the others still hear of theirs
            log.exception("a delivery's completion callback failed")


def _close_files(delivery: Delivery) -> None:
    for copy in delivery.copies:
        os.close(copy.fd)


def _discard_unmoved(delivery: Delivery) -> None:
    """Remove a failed delivery's copies still in tmp/: its client was told 451 and will retry,
    and nothing else ever removes them (Maildir readers ignore tmp/)."""
    for copy in delivery.copies:
        with contextlib.suppress(OSError):  # already moved into new/, or gone with its Maildir
            os.unlink(copy.key, dir_fd=copy.dirs.tmp)


def _one_per_mailbox(recipients: Iterable[str]) -> list[str]:
    """*recipients*, each mailbox once: two spellings of one address get one copy between them."""
    first: dict[str, str] = {}
    for recipient in recipients:
        first.setdefault(mailbox_key(recipient), recipient)
    return list(first.values())


class MaildirWriter:
    """Writes deliveries into the Maildirs under *root*, durably and in batches; thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self.syncer = Batcher("mailstore-sync", self._sync_batch, _report_done)
        self._writer = Batcher("mailstore-write", self._write_batch, self.syncer.submit_all)
        self._maildir_fds: dict[str, _MaildirFds] = {}
        #: Of Maildirs removed meanwhile; closed only by close(), as a delivery may still hold them.
        self._retired_fds: list[_MaildirFds] = []
        #: Copies written so far (counted only by the batch thread).
        self.delivered = 0

    def submit(
        self,
        recipients: Sequence[str],
        message: bytes,
        prefix: Callable[[str], bytes] | None,
        on_done: Callable[[Delivery], None],
    ) -> Delivery:
        """Queue *message* for *recipients*; *on_done* is called once it is on disk (or failed)."""
        delivery = Delivery(recipients, message, prefix, on_done)
        self._writer.submit(delivery)
        return delivery

    def forget_maildirs(self) -> None:
        """Stop using the open Maildirs (they are being removed); the next copy reopens them."""
        with self._lock:
            self._retire([*self._maildir_fds])

    def _write_batch(self, batch: list[Delivery]) -> None:
        """Write every copy of *batch* into tmp/ and start sending it to the disk.

        This is the first of two stages, each with a thread of its own: creating files costs
        the kernel more than anything else in a delivery, and here it overlaps with the second
        stage (``_sync_batch``) waiting for the disk on behalf of the previous batch.
        """
        for delivery in batch:
            with delivery.failing():
                try:
                    for recipient in _one_per_mailbox(delivery.recipients):
                        delivery.copies.append(self._write_copy(delivery, recipient))
                except BaseException:
                    _close_files(delivery)
                    raise

    def _sync_batch(self, batch: list[Delivery]) -> None:
        """Sync the copies written by ``_write_batch``, move them into new/ and sync each new/
        directory once; a delivery that fails anywhere gets the error, the others go on."""
        written = [delivery for delivery in batch if delivery.error is None]
        try:
            for delivery in written:
                with delivery.failing():
                    for copy in delivery.copies:
                        os.fsync(copy.fd)
        finally:
            for delivery in written:
                _close_files(delivery)
        with _failing(batch):
            self._commit([delivery for delivery in written if delivery.error is None])
        for delivery in batch:
            if delivery.error is not None:
                _discard_unmoved(delivery)

    def _write_copy(self, delivery: Delivery, recipient: str) -> _Written:
        """Write one copy into the Maildir's tmp/, unsynced and still open."""
        head = delivery.prefix(recipient) if delivery.prefix else b""
        chunks = [head, delivery.message]
        name = cached_mailbox_name(recipient)
        key = new_key()
        try:
            dirs = self._open_maildir(name)
            fd = _write_unsynced(dirs.tmp, key, chunks)
        except FileNotFoundError:  # removed since we opened it (clear(), maybe elsewhere): anew
            with self._lock:
                self._retire([name])
            dirs = self._open_maildir(name)
            fd = _write_unsynced(dirs.tmp, key, chunks)
        return _Written(key, dirs, fd)

    def _open_maildir(self, name: str) -> _MaildirFds:
        """Maildir *name*'s directories, created if need be and kept open for the next copy."""
        with self._lock:
            dirs = self._maildir_fds.get(name)
            if dirs is None:
                path = _ensure_maildir(self.root, name)
                dirs = _MaildirFds(_open_dir(path / "tmp"), _open_dir(path / "new"))
                self._maildir_fds[name] = dirs
            return dirs

    def _retire(self, names: Iterable[str]) -> None:
        for name in names:
            if name in self._maildir_fds:
                self._retired_fds.append(self._maildir_fds.pop(name))

    def _commit(self, synced: list[Delivery]) -> None:
        """Move synced copies into new/ and sync each directory once."""
        for delivery in synced:
            with delivery.failing():
                for copy in delivery.copies:
                    os.rename(
                        copy.key, copy.key, src_dir_fd=copy.dirs.tmp, dst_dir_fd=copy.dirs.new
                    )
        users: dict[_MaildirFds, list[Delivery]] = {}
        for delivery in synced:
            for copy in delivery.copies:
                if not delivery.error:
                    users.setdefault(copy.dirs, []).append(delivery)
        for dirs, deliveries in users.items():
            with _failing(deliveries):
                os.fsync(dirs.new)
        self.delivered += sum(len(d.copies) for d in synced if not d.error)

    def close(self) -> None:
        """Finish the deliveries under way and close the open Maildirs (reopened on next use)."""
        self._writer.close()  # hands what it has written to the syncer
        self.syncer.close()
        with self._lock:
            dirs = [*self._maildir_fds.values(), *self._retired_fds]
            self._maildir_fds, self._retired_fds = {}, []
        for maildir in dirs:
            maildir.close()
