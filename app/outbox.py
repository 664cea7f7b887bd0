"""A durable outbox on disk: messages waiting for the relay, retried with backoff.

Layout under the outbox root, in the spirit of Maildir (one file a message, written in ``tmp/``
and renamed into place)::

    tmp/      files being written; never read
    queue/    waiting for (another) delivery attempt
    sent/     accepted by the relay (2xx) — kept for the status page, pruned after a week
    failed/   refused for good (5xx) or given up on
    bad/      queued records that cannot be read (damaged, or not written by us), set aside with
              a ``<id>.reason`` beside each, so that one of them never stops the others

A file is one JSON line of metadata (envelope, attempts, next try, last error, transcript, and
what became of each recipient so far) followed by the message bytes exactly as they go to DATA.
Every write is: write to ``tmp/``, fsync the file, rename into place, fsync the directory — so
once :meth:`Outbox.enqueue` returns, or a claim is resolved as "retry later", the message
survives a crash or a power cut, and "queued" is true. (Two writes skip an fsync where nobody
has been told anything yet, or where the file's name alone carries the meaning: see
:meth:`Outbox.hold_new` and ``Outbox._rewrite``.)

Claims: a deliverer claims a message by taking an exclusive ``flock`` on its file (non-blocking;
a busy file is someone else's). The kernel drops the lock when the holder exits, however it exits,
so a crashed deliverer's messages are free again at once. A time-based lease cannot promise that:
it either expires under a sender that is slow but alive (two senders) or holds a dead sender's
message for the whole lease. After locking, the claimer checks the path still names the locked
file, since a file replaced or moved while it waited for the lock must not be sent again.

Exactly once: a message leaves ``queue/`` only after a 2xx (to ``sent/``) or a 5xx (to
``failed/``), and the record there is written before the ``queue/`` copy is unlinked. A crash in
between leaves both; a claimer seeing the finished copy drops the stale one instead of sending.
What no client can close is the gap between the relay's 250 and our rename (RFC 1047).

Per recipient: a message sent straight to several domains may be taken by one and deferred by
another. :meth:`Claim.settle` records each recipient's outcome in ``deliveries`` and narrows the
envelope (``recipients``) to those still waiting, so the next attempt goes only to them: a
recipient that took the message never gets it twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.durable import fsync_dir

__all__ = ["Backoff", "Claim", "Delivery", "Outbox", "OutboxRecord", "State"]

log = logging.getLogger(__name__)

State = Literal["queued", "sent", "failed"]
#: One recipient's outcome as stored: ``{"state": "sent", "reply": "250 2.0.0 OK", "host": …}``.
Delivery = dict[str, str]

#: First retry after a temporary failure. Short, because the usual cause in the demo is the
#: capture server restarting, and a student may be watching the status page.
FIRST_RETRY_SECONDS = 10.0
#: Longest wait between attempts. RFC 5321 §4.5.4.1 asks MTAs for at least 30 minutes between
#: retries to a remote host; we submit to one relay we own, so a quarter of that is enough.
MAX_RETRY_SECONDS = 15 * 60.0
#: Stop retrying after this long in the queue: RFC 5321 §4.5.4.1, "at least 4-5 days".
GIVE_UP_SECONDS = 5 * 24 * 3600.0
#: How long delivered messages stay in ``sent/`` for the status page and for audit.
SENT_RETENTION_SECONDS = 7 * 24 * 3600.0
#: A file in ``tmp/`` older than this was left by a crash mid-write (a write takes milliseconds).
STALE_TMP_SECONDS = 3600.0

_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16)
BAD_DIR = "bad"
_STATES: tuple[State, ...] = ("queued", "sent", "failed")
_DIRS: dict[State, str] = {"queued": "queue", "sent": "sent", "failed": "failed"}


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with a cap: ``first``, ``2·first``, ``4·first`` … up to ``cap``."""

    first: float = FIRST_RETRY_SECONDS
    cap: float = MAX_RETRY_SECONDS
    give_up: float = GIVE_UP_SECONDS

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the *attempts*-th failed attempt (attempts ≥ 1)."""
        exponent = min(max(attempts - 1, 0), 60)  # 2**60 · first is past any cap; no overflow
        return min(self.first * 2.0**exponent, self.cap)


@dataclass(frozen=True)
class OutboxRecord:
    """What the outbox knows about one message besides its bytes."""

    id: str
    sender: str
    recipients: tuple[str, ...]
    queued_at: float
    state: State = "queued"
    attempts: int = 0
    next_try: float = 0.0
    last_error: str | None = None
    finished_at: float | None = None
    reply: str | None = None
    transcript: tuple[str, ...] = ()
    info: dict[str, str] = field(default_factory=dict)
    deliveries: dict[str, Delivery] = field(default_factory=dict)  # by recipient address

    def to_json(self) -> bytes:
        data = dataclasses.asdict(self)
        return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")

    @classmethod
    def from_json(cls, line: bytes) -> OutboxRecord:
        """The record of one JSON line; ValueError saying what is wrong with any other line."""
        try:
            data: dict[str, Any] = json.loads(line)
            data["recipients"] = tuple(data["recipients"])
            data["transcript"] = tuple(data["transcript"])
            record = cls(**data)
        except RecursionError:
            raise ValueError("the record is nested too deep to be one of ours") from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"the record lacks or has odd fields: {exc}") from None
        record._check_types()
        return record

    def _check_types(self) -> None:
        """Every field of the type it has when we write it: a ``next_try`` of ``"soon"`` would
        fail every comparison of the deliverer's, for every message."""
        numbers = {"queued_at": self.queued_at, "next_try": self.next_try}
        if self.finished_at is not None:
            numbers["finished_at"] = self.finished_at
        for name, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} is not a number: {value!r:.40}")
        texts = [self.id, self.sender, *self.recipients, *self.transcript]
        if not (isinstance(self.attempts, int) and all(isinstance(t, str) for t in texts)):
            raise ValueError("attempts, addresses or transcript of the wrong type")
        if self.state not in _STATES or not isinstance(self.info, dict):
            raise ValueError(f"no such state or info: {self.state!r:.40}")
        if not isinstance(self.deliveries, dict) or not all(
            isinstance(d, dict) and d.get("state") in _STATES and isinstance(d.get("reply"), str)
            for d in self.deliveries.values()
        ):
            raise ValueError("deliveries of the wrong shape")


class Outbox:
    """The outbox directory. Safe to share between threads and processes (see module docs)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.backoff = backoff or Backoff()
        self.clock = clock
        for name in ("tmp", BAD_DIR, *_DIRS.values()):
            (self.root / name).mkdir(parents=True, exist_ok=True)

    # -- adding --------------------------------------------------------------------------------

    def hold_new(
        self,
        message: bytes,
        sender: str,
        recipients: Sequence[str],
        *,
        info: dict[str, str] | None = None,
        durable: bool = True,
    ) -> Claim:
        """Queue *message* and return it already claimed by the caller.

        The lock is taken before the file is visible in ``queue/``, so a running deliverer cannot
        pick it up while the caller makes the first attempt itself. ``durable=False`` skips the
        fsyncs, for a caller about to try the message at once: should that attempt not deliver
        it, resolving the claim (retry or refusal) makes the record durable before anyone is
        told. Until then the file is visible to every process, so a caller that dies leaves it to
        the deliverer; only a power cut could lose it, before anyone was told anything.
        """
        record = OutboxRecord(
            id=secrets.token_urlsafe(16),
            sender=sender,
            recipients=tuple(recipients),
            queued_at=self.clock(),
            info=dict(info or {}),
        )
        fd = self._write_tmp(record, message, sync=durable)
        try:
            self._publish(record.id, "queued", sync=durable)
        except BaseException:
            os.close(fd)
            raise
        return Claim(self, record, message, fd)

    def enqueue(
        self,
        message: bytes,
        sender: str,
        recipients: Sequence[str],
        *,
        info: dict[str, str] | None = None,
    ) -> str:
        """Queue *message* durably for the deliverer; return its id."""
        with self.hold_new(message, sender, recipients, info=info) as claim:
            return claim.record.id

    # -- claiming ------------------------------------------------------------------------------

    def due(self) -> list[str]:
        """Ids of queued messages whose next try has come, soonest first (unlocked: a hint)."""
        now = self.clock()
        records = (self._peek(self._path("queued", name)) for name in self._names("queued"))
        due = [r for r in records if r is not None and r.next_try <= now]
        return [r.id for r in sorted(due, key=lambda r: (r.next_try, r.queued_at))]

    def claim(self, message_id: str) -> Claim | None:
        """Claim a queued message, or ``None`` if it is gone, busy or not yet due."""
        path = self._path("queued", message_id)
        fd = _open_locked(path)
        if fd is None:
            return None
        if self._finished_elsewhere(message_id):
            _unlink_and_sync(path)
            os.close(fd)
            return None
        try:
            record, message = _read(fd)
        except ValueError as exc:
            os.close(fd)
            self._set_aside(path, str(exc))
            return None
        if record.next_try > self.clock():
            os.close(fd)
            return None
        return Claim(self, record, message, fd)

    # -- looking -------------------------------------------------------------------------------

    def lookup(self, message_id: str) -> OutboxRecord | None:
        """The record of *message_id* in whichever state it is, or ``None``."""
        if not _ID_PATTERN.fullmatch(message_id):
            return None
        for state in ("sent", "failed"):  # a finished copy wins over a stale queued one
            path = self._path(state, message_id)
            if path.exists():
                return self._peek(path)
        return self._peek(self._path("queued", message_id))

    def records(self, state: State) -> list[OutboxRecord]:
        """Every record in *state*, oldest first."""
        found = (self._peek(self._path(state, name)) for name in self._names(state))
        return sorted((r for r in found if r is not None), key=lambda r: r.queued_at)

    def counts(self) -> dict[State, int]:
        return {state: len(self._names(state)) for state in _STATES}

    def prune(self, *, sent_older_than: float = SENT_RETENTION_SECONDS) -> int:
        """Remove ``sent/`` records finished over *sent_older_than* ago; return how many.

        Files in ``tmp/`` left by a crash mid-write go too (judged by their mtime).
        """
        cutoff = self.clock() - sent_older_than
        old = [r.id for r in self.records("sent") if (r.finished_at or 0.0) < cutoff]
        for message_id in old:
            _unlink_and_sync(self._path("sent", message_id))
        _remove_stale_tmp(self.root / "tmp", time.time() - STALE_TMP_SECONDS)
        return len(old)

    # -- storage -------------------------------------------------------------------------------

    def _path(self, state: State, message_id: str) -> Path:
        return self.root / _DIRS[state] / message_id

    def _names(self, state: State) -> list[str]:
        return [n for n in os.listdir(self.root / _DIRS[state]) if _ID_PATTERN.fullmatch(n)]

    def _finished_elsewhere(self, message_id: str) -> bool:
        return any(self._path(s, message_id).exists() for s in ("sent", "failed"))

    def _peek(self, path: Path) -> OutboxRecord | None:
        try:
            with open(path, "rb") as f:
                return OutboxRecord.from_json(f.readline())
        except FileNotFoundError:
            return None
        except (ValueError, IsADirectoryError) as exc:
            if path.parent.name == _DIRS["queued"]:
                self._set_aside(path, str(exc))
            else:  # a sent record cut short by a power failure (see _rewrite): its name counts
                log.warning("unreadable outbox record %s: %s", path, exc)
            return None

    def _set_aside(self, path: Path, reason: str) -> None:
        """Move an unreadable queued record to ``bad/`` with its reason, and say so once."""
        target = self.root / BAD_DIR / path.name
        with contextlib.suppress(FileNotFoundError):  # another process set it aside first
            os.replace(path, target)
            (self.root / BAD_DIR / f"{path.name}.reason").write_text(reason + "\n")
            fsync_dir(target.parent)
            log.error("outbox record %s set aside in %s: %s", path.name, target.parent, reason)

    def _write_tmp(self, record: OutboxRecord, message: bytes, *, sync: bool) -> int:
        """Write record and message to ``tmp/<id>``, fsynced if *sync*; return the locked fd."""
        fd = os.open(self.root / "tmp" / record.id, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # nobody else can know this fresh file yet
            with os.fdopen(os.dup(fd), "wb") as f:
                f.write(record.to_json() + b"\n" + message)
                f.flush()
                if sync:
                    os.fsync(f.fileno())
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _publish(self, message_id: str, state: State, *, sync: bool = True) -> None:
        """Rename ``tmp/<id>`` into *state*'s directory; fsync the directory if *sync*."""
        target = self._path(state, message_id)
        os.replace(self.root / "tmp" / message_id, target)
        if sync:
            fsync_dir(target.parent)

    def _rewrite(self, record: OutboxRecord, message: bytes) -> None:
        """Store *record* in its state's directory; drop the ``queue/`` copy when it is done.

        The new name is always made durable. A queued or failed record's content is too; a sent
        record's content is not (one fsync fewer per delivered message): after a power cut it may
        be unreadable, yet its name alone keeps the message from being sent again. Unlinking the
        ``queue/`` copy needs no fsync either: a copy that reappears is dropped by :meth:`claim`.
        """
        os.close(self._write_tmp(record, message, sync=record.state != "sent"))
        self._publish(record.id, record.state)
        if record.state != "queued":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path("queued", record.id))


class Claim:
    """A message this process holds exclusively until it says what happened (or releases it).

    Use as a context manager: leaving the block releases the claim, and a claim left unresolved
    stays queued unchanged, due as before.
    """

    def __init__(self, outbox: Outbox, record: OutboxRecord, message: bytes, fd: int) -> None:
        self.outbox = outbox
        self.record = record
        self.message = message
        self._fd: int | None = fd

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    @property
    def held(self) -> bool:
        """Not yet resolved nor released: still this process's to resolve."""
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the flock
            self._fd = None

    def delivered(
        self,
        *,
        reply: str,
        transcript: Sequence[str] = (),
        deliveries: Mapping[str, Delivery] | None = None,
    ) -> OutboxRecord:
        """The relay accepted the message (2xx): move it to ``sent/``."""
        return self._finish(
            "sent",
            reply=reply,
            transcript=tuple(transcript),
            last_error=None,
            deliveries=self._merged(deliveries),
        )

    def refused(
        self,
        error: str,
        *,
        reply: str | None = None,
        transcript: Sequence[str] = (),
        deliveries: Mapping[str, Delivery] | None = None,
    ) -> OutboxRecord:
        """Refused for good (5xx or a local error no retry can fix): move it to ``failed/``."""
        return self._finish(
            "failed",
            reply=reply,
            transcript=tuple(transcript),
            last_error=error,
            deliveries=self._merged(deliveries),
        )

    def retry_later(
        self,
        error: str,
        *,
        transcript: Sequence[str] = (),
        recipients: Sequence[str] | None = None,
        deliveries: Mapping[str, Delivery] | None = None,
    ) -> OutboxRecord:
        """A temporary failure: count the attempt and schedule the next one with backoff.

        *recipients* narrows the envelope to those still to be tried (the others were accepted or
        refused for good). Past the give-up age, the message goes to ``failed/`` instead.
        """
        now = self.outbox.clock()
        attempts = self.record.attempts + 1
        if now - self.record.queued_at >= self.outbox.backoff.give_up:
            reason = f"gave up after {attempts} attempts: {error}"
            waiting = recipients or self.record.recipients
            given_up = {a: {"state": "failed", "reply": reason} for a in waiting}
            return self.refused(
                reason, transcript=transcript, deliveries={**(deliveries or {}), **given_up}
            )
        return self._update(
            attempts=attempts,
            next_try=now + self.outbox.backoff.delay(attempts),
            last_error=error,
            transcript=tuple(transcript),
            recipients=tuple(recipients or self.record.recipients),
            deliveries=self._merged(deliveries),
        )

    def settle(
        self, outcomes: Mapping[str, Delivery], *, transcript: Sequence[str] = ()
    ) -> OutboxRecord:
        """Resolve the claim by each recipient's outcome of this attempt.

        Recipients still ``queued`` are the only ones tried again; when none is, the message is
        sent if any recipient took it (in this attempt or an earlier one), else failed.
        """
        merged = self._merged(outcomes)
        waiting = [a for a, d in outcomes.items() if d["state"] == "queued"]
        if waiting:
            error = outcomes[waiting[0]]["reply"]
            return self.retry_later(
                error, transcript=transcript, recipients=waiting, deliveries=merged
            )
        sent = [d["reply"] for d in merged.values() if d["state"] == "sent"]
        if sent:
            return self.delivered(reply=sent[0], transcript=transcript, deliveries=merged)
        reply = next(iter(outcomes.values()))["reply"] if outcomes else None
        return self.refused(
            reply or "no recipient", reply=reply, transcript=transcript, deliveries=merged
        )

    def _merged(self, deliveries: Mapping[str, Delivery] | None) -> dict[str, Delivery]:
        """The record's per-recipient outcomes updated by this attempt's."""
        merged = dict(self.record.deliveries)
        merged.update({address: dict(d) for address, d in (deliveries or {}).items()})
        return merged

    def _finish(self, state: State, **changes: Any) -> OutboxRecord:
        now = self.outbox.clock()
        attempts = self.record.attempts + 1
        return self._update(state=state, finished_at=now, attempts=attempts, **changes)

    def _update(self, **changes: Any) -> OutboxRecord:
        if self._fd is None:
            raise RuntimeError(f"claim on {self.record.id} was already resolved or released")
        self.record = dataclasses.replace(self.record, **changes)
        self.outbox._rewrite(self.record, self.message)
        self.release()
        return self.record


def _open_locked(path: Path) -> int | None:
    """Open *path* and take its exclusive lock without waiting; ``None`` if gone or busy."""
    try:
        fd = os.open(path, os.O_RDWR)
    except (FileNotFoundError, IsADirectoryError):  # gone, or set aside by the next look
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            return fd
    except (BlockingIOError, FileNotFoundError):
        pass
    os.close(fd)  # busy, or replaced/moved while we locked it: not ours to send
    return None


def _read(fd: int) -> tuple[OutboxRecord, bytes]:
    os.lseek(fd, 0, os.SEEK_SET)
    with os.fdopen(os.dup(fd), "rb") as f:
        return OutboxRecord.from_json(f.readline()), f.read()


def _unlink_and_sync(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
        fsync_dir(path.parent)


def _remove_stale_tmp(directory: Path, cutoff: float) -> None:
    for entry in os.scandir(directory):
        with contextlib.suppress(FileNotFoundError):
            if entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
