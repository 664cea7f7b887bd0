"""Local mailboxes a download writes into, and the log of what was already downloaded.

A message goes into a Maildir as the Maildir convention asks: written and fsynced under a name in
``tmp/``, then renamed into ``new/``, so that a reader sees it whole or not at all. An mbox gets
each message in one write at its end; if that write fails, the file is cut back to where it was.
Either way, what is given to :meth:`LocalMailbox.add` arrived whole (the POP3 client hands out a
message only once its final "." is in): a download cut short leaves no part of a message.

Local files end lines in LF, as every Unix mail reader expects (mutt, s-nail, Python's
``mailbox``); the POP3 wire form's CRLF stays on the wire.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import re
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Protocol

from app.durable import fsync_dir, replace_durably, write_draft

#: mboxrd (Hall's "From " quoting): a body line ">*From " gets one more ">", so that no line of a
#: message can be taken for the separator, and readers that unquote get the line back exactly.
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)
_RETURN_PATH = re.compile(rb"^Return-Path:[ \t]*<([^<>\s]*)>", re.MULTILINE | re.IGNORECASE)
_counter = itertools.count(1)


def to_lf(raw: bytes) -> bytes:
    """*raw* (POP3's CRLF form) with LF line ends, ending in one."""
    text = raw.replace(b"\r\n", b"\n")
    return text if text.endswith(b"\n") or not text else text + b"\n"


class LocalMailbox(Protocol):
    def add(self, raw: bytes) -> None:
        """Store one whole message (CRLF form)."""

    def sync(self) -> None:
        """Make every message added so far survive a crash."""

    def close(self) -> None:
        """Release the files held."""


class Maildir:
    """A Maildir (cur/, new/, tmp/), made if missing; messages go into new/ (unread)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("cur", "new", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._unsynced = False

    def add(self, raw: bytes) -> None:
        name = _unique_name()
        draft = write_draft(self.root / "tmp" / name, to_lf(raw), 0o600)  # fsynced
        try:
            os.rename(draft, self.root / "new" / name)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                draft.unlink()
            raise
        self._unsynced = True

    def sync(self) -> None:
        # The messages are on disk already; their names in new/ are, once new/ is synced.
        if self._unsynced:
            fsync_dir(self.root / "new")
            self._unsynced = False

    def close(self) -> None:
        self.sync()


class Mbox:
    """An mbox file (mboxrd quoting), made if missing, locked while a message is appended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "ab", buffering=0)

    def add(self, raw: bytes) -> None:
        entry = _mbox_entry(raw)
        fd = self._file.fileno()
        fcntl.flock(fd, fcntl.LOCK_EX)  # as mutt, s-nail and procmail lock it
        try:
            size = os.fstat(fd).st_size
            try:
                written = os.write(fd, entry)
                if written != len(entry):
                    raise OSError(f"only {written} of {len(entry)} octets were written")
            except BaseException:
                os.ftruncate(fd, size)  # no part of a message stays behind
                raise
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def sync(self) -> None:
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _mbox_entry(raw: bytes) -> bytes:
    """The "From " line, the message quoted (mboxrd), and the blank line that ends it."""
    found = _RETURN_PATH.search(raw.partition(b"\r\n\r\n")[0])
    sender = (found.group(1) if found else b"") or b"MAILER-DAEMON"
    separator = b"From " + sender + b" " + time.asctime().encode("ascii") + b"\n"
    return separator + _FROM_LINE.sub(rb">\1", to_lf(raw)) + b"\n"


def _unique_name() -> str:
    """A Maildir file name (time, microseconds, process, count, host): unique on this host."""
    now = time.time_ns()
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
    return f"{now // 10**9}.M{now // 1000 % 10**6}P{os.getpid()}Q{next(_counter)}.{host}"


class SeenLog:
    """The unique ids (RFC 1939 §7 UIDL) of the messages already downloaded, per account.

    A text file of ``account<TAB>uid`` lines, appended to as each message is stored, so that a
    download cut short resumes after the last message it kept. A line cut by a crash has no LF
    and is ignored: at worst that message is downloaded again, never lost.
    """

    def __init__(self, path: Path, account: str) -> None:
        self.path = path
        self.account = account
        self.seen: set[str] = set()
        self._others: list[bytes] = []
        self._read()
        self._file: BinaryIO | None = None  # opened at the first id added

    def __enter__(self) -> SeenLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __contains__(self, uid: object) -> bool:
        return uid in self.seen

    def add(self, uid: str) -> None:
        self.seen.add(uid)
        if self._file is None:
            self._file = open(self.path, "ab")  # noqa: SIM115 (open for the download's length)
        self._file.write(f"{self.account}\t{uid}\n".encode())

    def sync(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def keep_only(self, uids: Iterable[str]) -> None:
        """Forget the ids of this account not in *uids* (messages gone from the server)."""
        self.seen &= set(uids)
        self.close()
        mine = [f"{self.account}\t{uid}\n".encode() for uid in sorted(self.seen)]
        replace_durably(self.path, b"".join(self._others + mine), 0o600)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _read(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        prefix = self.account.encode() + b"\t"
        for line in data.split(b"\n")[:-1]:  # the last piece has no LF: cut short, or empty
            if line.startswith(prefix):
                self.seen.add(line[len(prefix) :].decode("ascii", errors="replace"))
            elif line:
                self._others.append(line + b"\n")
