"""The captured mail: one Maildir per recipient address, plus a SQLite index for listing and search.

The Maildirs are the truth. The index (``.index.sqlite3`` in the store's root) is a cache that any
process rebuilds from them: a mailbox whose ``new/`` or ``cur/`` directory changed since the index
last looked is rescanned, files missing from the index are parsed and added, rows whose file is gone
are dropped. A missing or outdated index is therefore rebuilt on first use.

Layout::

    ROOT/
      .index.sqlite3            the index (WAL mode: gunicorn workers read while capture writes)
      ada@example.org/          one Maildir per mailbox (tmp/ new/ cur/), name = mailbox_name()
        new/1763888400.M12345P99R3f2a9c1eQ0.host

A mailbox is an address as :func:`app.addresses.mailbox_key` tells addresses apart (case
ignored): mail for ``Ada@Example.org`` and for ``ada@example.org`` goes to one Maildir, named
for the key. A store written before that may hold the same mailbox in several Maildirs (one per
spelling of the local part); the index files each of them under the mailbox's key, so listing,
filtering and POP3 see one mailbox either way, and every copy once.

A message id is the Maildir key of the stored file: URL-safe (letters, digits, ``.``, ``-``),
unique across the store because every copy gets its own key, and stable because it is the file
name. ``deliver`` returns only after every file and every ``new/`` directory is fsynced: a caller
that answers 250 afterwards has the message on disk. ``submit`` is the same without waiting: two
threads store what is submitted in batches, one creating the files in ``tmp/`` while the other
syncs the previous batch, renames it into ``new/`` and syncs each ``new/`` once for the batch.

This module knows nothing of Flask or aiosmtpd.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.errors
import email.header
import email.headerregistry
import email.policy
import email.utils
import functools
import itertools
import logging
import mailbox
import os
import re
import secrets
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from app.addresses import mailbox_key
from app.batcher import Batcher
from app.durable import fsync_dir
from app.message_view import attachment_parts, parse_bounded
from app.sqlitedb import immediate

__all__ = ["Delivery", "MailStore", "MessageSummary", "address_of_mailbox", "mailbox_name"]

INDEX_FILE = ".index.sqlite3"
INDEX_SCHEMA_VERSION = 4  # bump to make every store rebuild its index from the Maildirs
#: Longest file name ext4, XFS and btrfs accept (NAME_MAX).
MAX_NAME_BYTES = 255
#: Text kept per message for search; enough for any quiz report, bounded for huge mails.
MAX_INDEXED_TEXT = 64 * 1024
#: A directory modified this recently may change again within the same mtime tick (Linux mtimes
#: come from a coarse clock), so its mtime is not trusted as a "nothing changed" stamp.
RECENT_SECONDS = 2.0
#: How long a writer waits for another process's write transaction on the index.
BUSY_TIMEOUT_MS = 10_000

_SUBDIRS = ("tmp", "new", "cur")
_KEY_TIME = re.compile(r"^(\d+)\.M(\d+)")
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "localhost"
_counter = itertools.count()
log = logging.getLogger(__name__)


def _unstructured(name: str, value: str) -> str:
    """A header field's text for the index: RFC 2047 words decoded, 8-bit read as UTF-8."""
    if _has_surrogates(value):  # raw UTF-8 (RFC 6532) reaches us surrogate-escaped
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if "=?" in value:
        with contextlib.suppress(email.errors.HeaderParseError, LookupError, UnicodeError):
            value = str(email.header.make_header(email.header.decode_header(value)))
    return " ".join(value.split())


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in value)


class _IndexHeaders(email.headerregistry.HeaderRegistry):
    """Parses only the MIME fields the body walk needs; the others stay plain decoded text.

    The full registry parses every address list and costs more than the rest of a delivery.
    """

    def __call__(self, name: str, value: str) -> Any:
        if name.lower().startswith("content-"):
            return super().__call__(name, value)
        return _unstructured(name, value)


_parser = BytesParser(policy=email.policy.default.clone(header_factory=_IndexHeaders()))


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """What a listing shows about one stored copy.

    ``sender`` and ``to`` are the decoded ``From`` and ``To`` header fields (``sender`` falls back
    to ``Return-Path`` when there is no ``From``); ``recipient`` is the mailbox holding the copy:
    the envelope recipient's key (``mailbox_key``), whatever case the recipient was given in.
    ``date`` is the ``Date`` field (None when absent or unparsable); ``received_at`` is when the
    store accepted it (UTC). ``size`` is in bytes as stored.
    """

    id: str
    recipient: str
    sender: str
    to: str
    subject: str
    date: datetime | None
    size: int
    received_at: datetime
    has_attachments: bool


# --- mailbox names -------------------------------------------------------------------------------


def mailbox_name(address: str) -> str:
    """A file-system-safe, reversible directory name for the mailbox of *address* (its key).

    Percent-encoding (ASCII only) when that fits in one directory entry; otherwise, as for a long
    internationalized address (RFC 6531: up to 254 octets of UTF-8, up to three times as many once
    percent-encoded), the UTF-8 itself with only ``%``, ``/``, controls and a leading ``.``
    encoded. Either way the name decodes back with ``unquote``, and each address has one name.

    Raises ValueError when not even that fits (longer than RFC 5321 §4.5.3.1.3 allows a path).
    """
    key = mailbox_key(address)
    name = _encoded_name(key) if key else None
    if name is None:
        raise ValueError(f"address cannot be a mailbox name: {address!r}")
    return name


def _encoded_name(address: str) -> str | None:
    """*address* as a directory name (see mailbox_name), or None if it is too long for one."""
    for encoded in (quote(address, safe="@+=,"), _UNSAFE_IN_NAME.sub(_percent, address)):
        # never ".", "..", or a hidden file such as the index
        name = "%2E" + encoded[1:] if encoded.startswith(".") else encoded
        if len(name.encode()) <= MAX_NAME_BYTES:
            return name
    return None


_UNSAFE_IN_NAME = re.compile(r"[\x00-\x1f\x7f%/]")


def _percent(match: re.Match[str]) -> str:
    return f"%{ord(match[0]):02X}"


def address_of_mailbox(name: str) -> str | None:
    """The address whose mailbox is called *name*, or None for a name we would not have made.

    A name made before mailboxes were named by their key (``Ada@example.org``) is still one:
    the address as it was spelt then, whose key is the mailbox's.
    """
    address = unquote(name)
    return address if address and _encoded_name(address) == name else None


#: mailbox_name() of each recipient, for deliveries (it percent-encodes character by character).
_mailbox_name = functools.lru_cache(maxsize=4096)(mailbox_name)


@functools.lru_cache(maxsize=4096)
def _is_mailbox(name: str) -> bool:
    """Whether the directory entry *name* is a mailbox (cached: refresh asks on every read)."""
    return address_of_mailbox(name) is not None


def _process_tag() -> str:
    """``Ppid`` and randomness for the keys a process makes (the pid alone repeats across
    containers sharing a volume); remade in a forked child, whose pid and counter differ."""
    return f"P{os.getpid()}R{secrets.token_hex(4)}"


_tag = _process_tag()


def _retag() -> None:
    global _tag  # noqa: PLW0603 -- per process, refreshed after fork
    _tag = _process_tag()


os.register_at_fork(after_in_child=_retag)


def _new_key() -> str:
    """A Maildir key (the usual ``time.MusecPpidQn.host`` form plus randomness), URL-safe.

    The pid and the random part are made once per process: a key costs no system call.
    """
    seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
    return f"{seconds}.M{micros}{_tag}Q{next(_counter)}.{_HOST}"


# --- durable writes ------------------------------------------------------------------------------


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
    for sub in _SUBDIRS:
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


# --- parsing for the index -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Parsed:
    sender: str
    to: str
    cc: str
    subject: str
    date: float | None
    has_attachments: bool
    text: str


class _TextOfHTML(HTMLParser):
    """The words of an HTML body, for search: inline markup vanishes, blocks become spaces."""

    BLOCKS = frozenset({"p", "br", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "table"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.parts)).strip()


def _header(message: EmailMessage, name: str) -> str:
    return str(message.get(name, "") or "")


def _date_of(message: EmailMessage) -> float | None:
    """The Date field as a timestamp; ``None`` when it is no date or none a datetime can hold
    (``31 Dec 9999 23:59:59 -2359`` is in the year 10000 in UTC): such mail sorts by arrival."""
    try:
        when = email.utils.parsedate_to_datetime(_header(message, "Date"))
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _utc(timestamp: float | None) -> datetime | None:
    """A stored timestamp back as a datetime; ``None`` for one out of its range (older index)."""
    try:
        return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _text_of(message: EmailMessage) -> str:
    try:
        body = message.get_body(preferencelist=("plain", "html"))
        content = body.get_content() if body is not None else ""
    except (LookupError, ValueError, TypeError, AttributeError):
        return ""
    if not isinstance(content, str):
        return ""
    if body is not None and body.get_content_type() == "text/html":
        stripper = _TextOfHTML()
        stripper.feed(content)
        content = stripper.text()
    return content[:MAX_INDEXED_TEXT]


def _parse(raw: bytes) -> _Parsed:
    message = parse_bounded(_parser, raw)
    sender = _header(message, "From") or _header(message, "Return-Path").strip("<>")
    return _Parsed(
        sender=sender,
        to=_header(message, "To"),
        cc=_header(message, "Cc"),
        subject=_header(message, "Subject"),
        date=_date_of(message),
        has_attachments=bool(attachment_parts(message)),
        text=_text_of(message),
    )


def _one_per_mailbox(recipients: Iterable[str]) -> list[str]:
    """*recipients*, each mailbox once: two spellings of one address get one copy between them."""
    first: dict[str, str] = {}
    for recipient in recipients:
        first.setdefault(mailbox_key(recipient), recipient)
    return list(first.values())


def _received_at(key: str, path: Path) -> float:
    match = _KEY_TIME.match(key)
    if match:
        return int(match[1]) + int(match[2]) / 1_000_000
    return path.stat().st_mtime


# --- the index -----------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE messages (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    mailbox TEXT NOT NULL,
    recipient TEXT NOT NULL,
    sender TEXT NOT NULL,
    to_field TEXT NOT NULL,
    cc_field TEXT NOT NULL,
    subject TEXT NOT NULL,
    date REAL,
    size INTEGER NOT NULL,
    received_at REAL NOT NULL,
    has_attachments INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX messages_by_time ON messages(received_at, id);
CREATE INDEX messages_by_recipient ON messages(recipient, received_at, id);
CREATE INDEX messages_by_mailbox ON messages(mailbox);
CREATE TABLE mailboxes (name TEXT PRIMARY KEY, recipient TEXT NOT NULL, stamp TEXT NOT NULL);
CREATE INDEX mailboxes_by_recipient ON mailboxes(recipient);
"""

# Substring search through a trigram full-text index (SQLite ≥ 3.34). Measured on 10,000 messages
# of ~2 KB (search plus count of one query): 3–13 ms with it, 20–90 ms with LIKE over the columns;
# listing and filtering by recipient use the B-tree indexes below (~2 ms either way).
_FTS_SCHEMA = """
CREATE VIRTUAL TABLE messages_text USING fts5(
    subject, sender, to_field, cc_field, recipient, body,
    content='messages', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER messages_text_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_text(rowid, subject, sender, to_field, cc_field, recipient, body)
    VALUES (new.rowid, new.subject, new.sender, new.to_field, new.cc_field, new.recipient,
            new.body);
END;
CREATE TRIGGER messages_text_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_text(messages_text, rowid, subject, sender, to_field, cc_field,
                              recipient, body)
    VALUES ('delete', old.rowid, old.subject, old.sender, old.to_field, old.cc_field,
            old.recipient, old.body);
END;
"""
#: What a text search looks in: the columns of messages_text, also used by the LIKE fallback.
_SEARCHED_COLUMNS = ("subject", "sender", "to_field", "cc_field", "recipient", "body")
#: FTS5's trigram tokenizer matches substrings of at least three characters.
MIN_FTS_QUERY = 3
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")

_SUMMARY_COLUMNS = (
    "id, recipient, sender, to_field, subject, date, size, received_at, has_attachments"
)


@dataclass(frozen=True, slots=True)
class _Copy:
    """One recipient's stored copy: its key, mailbox directory name and file."""

    key: str
    mailbox: str
    recipient: str
    path: Path
    size: int


def _insert(db: sqlite3.Connection, copy: _Copy, parsed: _Parsed) -> None:
    db.execute(
        "INSERT OR IGNORE INTO messages(id, mailbox, recipient, sender, to_field, cc_field,"
        " subject, date, size, received_at, has_attachments, body)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            copy.key,
            copy.mailbox,
            mailbox_key(copy.recipient),
            parsed.sender,
            parsed.to,
            parsed.cc,
            parsed.subject,
            parsed.date,
            copy.size,
            _received_at(copy.key, copy.path),
            int(parsed.has_attachments),
            parsed.text,
        ),
    )


def _summary_of(row: sqlite3.Row) -> MessageSummary:
    date = row["date"]
    return MessageSummary(
        id=row["id"],
        recipient=row["recipient"],
        sender=row["sender"],
        to=row["to_field"],
        subject=row["subject"],
        date=_utc(date),
        size=row["size"],
        received_at=datetime.fromtimestamp(row["received_at"], UTC),
        has_attachments=bool(row["has_attachments"]),
    )


def _has_fts5(db: sqlite3.Connection) -> bool:
    try:
        db.execute("CREATE VIRTUAL TABLE temp.probe USING fts5(x, tokenize='trigram')")
    except sqlite3.OperationalError:
        return False
    db.execute("DROP TABLE temp.probe")
    return True


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True, slots=True)
class _Written:
    """A copy written into tmp/ by a delivery, its file still open: all that syncing it and
    moving it into new/ need."""

    key: str
    dirs: _MaildirFds
    fd: int


@dataclass(eq=False)
class Delivery:
    """One message for its recipients, queued for the store's batch threads (``submit``).

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


class MailStore:
    """Maildirs per recipient under *root*, with a SQLite index; safe across threads and processes.

    Unknown message ids raise KeyError. Each thread gets its own index connection.
    """

    def __init__(self, root: str | os.PathLike[str], *, use_fts: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._use_fts = use_fts
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._syncer = Batcher("mailstore-sync", self._sync_batch, _report_done)
        self._writer = Batcher("mailstore-write", self._write_batch, self._syncer.submit_all)
        self._maildir_fds: dict[str, _MaildirFds] = {}
        #: Of Maildirs removed meanwhile; closed only by close(), as a delivery may still hold them.
        self._retired_fds: list[_MaildirFds] = []
        #: Copies this object has delivered so far (written only by the batch thread).
        self.delivered = 0
        try:
            self.fts = self._open_index()
        except sqlite3.DatabaseError:  # not a database any more: it is only a cache, start again
            self.close()
            for path in self.root.glob(INDEX_FILE + "*"):
                path.unlink()
            self.fts = self._open_index()

    # --- writing ---

    def deliver(
        self,
        recipients: Sequence[str],
        message: bytes,
        prefix: Callable[[str], bytes] | None = None,
    ) -> list[str]:
        """Store *message* once per recipient and sync it to disk; return the new message ids.

        ``prefix(recipient)``, when given, returns header lines (CRLF-terminated) to put before
        that recipient's copy, such as ``Return-Path``, ``Received`` and ``Delivered-To``.

        Only the Maildirs are written: every read refreshes the index from them first, so the new
        copies are listed and searchable at once, and a process that delivers a lot (the capture
        server) calls refresh() in the background to keep reads cheap. Parsing and indexing are
        thus never between the client and its 250.
        """
        stored = threading.Event()
        delivery = self.submit(recipients, message, prefix, lambda _: stored.set())
        stored.wait()
        if delivery.error is not None:
            raise delivery.error
        return delivery.ids

    def submit(
        self,
        recipients: Sequence[str],
        message: bytes,
        prefix: Callable[[str], bytes] | None,
        on_done: Callable[[Delivery], None],
    ) -> Delivery:
        """``deliver`` without waiting: *on_done* is called (from another thread) once it is done.

        Deliveries submitted while others are being stored are stored together, sharing each
        directory's fsync, so a server need not tie up a thread per message waiting for the disk.
        """
        delivery = Delivery(recipients, message, prefix, on_done)
        self._writer.submit(delivery)
        return delivery

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
        name = _mailbox_name(recipient)
        key = _new_key()
        try:
            dirs = self._open_maildir(name)
            fd = _write_unsynced(dirs.tmp, key, chunks)
        except FileNotFoundError:  # removed since we opened it (clear(), maybe elsewhere): anew
            self._retire_maildirs([name])
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

    def _retire_maildirs(self, names: Iterable[str]) -> None:
        with self._lock:
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

    def remove(self, message_id: str) -> None:
        name = self._mailbox_of(message_id)
        with contextlib.suppress(KeyError):
            self._maildir(name).remove(message_id)
        with self._transaction() as db:
            db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def clear(self) -> None:
        """Remove every mailbox and every message."""
        self._retire_maildirs(list(self._maildir_fds))
        for entry in os.scandir(self.root):
            if entry.is_dir() and _is_mailbox(entry.name):
                shutil.rmtree(entry.path, ignore_errors=True)
        with self._transaction() as db:
            db.execute("DELETE FROM messages")
            db.execute("DELETE FROM mailboxes")

    # --- reading ---

    def mailboxes(self, *, with_mail: bool = False) -> list[str]:
        """The mailboxes (*with_mail*: those holding a message), sorted: each once, by its key
        (:func:`app.addresses.mailbox_key`), whichever spellings its mail came for.

        A mailbox whose last message was deleted stays on disk (POP3 still opens it, empty);
        a list to filter by has no use for it.
        """
        self.refresh()
        # One indexed look-up per mailbox (messages_by_recipient), never a scan of the messages.
        holding = " WHERE EXISTS (SELECT 1 FROM messages m WHERE m.recipient = b.recipient)"
        sql = "SELECT DISTINCT recipient FROM mailboxes b" + (holding if with_mail else "")
        rows = self._db().execute(sql + " ORDER BY recipient")
        return [row[0] for row in rows]

    def keys(self, recipient: str) -> list[str]:
        """Message ids in *recipient*'s mailbox, oldest first."""
        self.refresh()
        rows = self._db().execute(
            "SELECT id FROM messages WHERE recipient = ? ORDER BY received_at, id",
            (mailbox_key(recipient),),
        )
        return [row[0] for row in rows]

    def maildirs(self, recipient: str) -> list[Path]:
        """The Maildirs holding *recipient*'s mailbox, as of the last read (one, or one per
        spelling in a store written before mailboxes were named by their key)."""
        sql = "SELECT name FROM mailboxes WHERE recipient = ? ORDER BY name"
        return [self.root / row[0] for row in self._db().execute(sql, (mailbox_key(recipient),))]

    def ids_starting_with(self, prefix: str, limit: int = 10) -> list[str]:
        """Message ids that start with *prefix* (case matters, as in ids), sorted, at most
        *limit*: an id given in full comes first, as it sorts before its longer namesakes."""
        if not prefix or _has_surrogates(prefix):  # an argument that was not UTF-8: no id has it
            return []
        self.refresh()
        rows = self._db().execute(
            "SELECT id FROM messages WHERE id >= ? AND substr(id, 1, ?) = ? ORDER BY id LIMIT ?",
            (prefix, len(prefix), prefix, limit),
        )
        return [row[0] for row in rows]

    def get_bytes(self, message_id: str) -> bytes:
        """The stored copy exactly as it is on disk (trace header fields included)."""
        name = self._mailbox_of(message_id)
        with self._maildir(name).get_file(message_id) as f:
            return f.read()

    def summary(self, message_id: str) -> MessageSummary:
        self._mailbox_of(message_id)
        sql = f"SELECT {_SUMMARY_COLUMNS} FROM messages WHERE id = ?"
        return _summary_of(self._db().execute(sql, (message_id,)).fetchone())

    def search(
        self, to: str | None = None, text: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[MessageSummary]:
        """Messages in the mailbox of *to* (any spelling of it: ``mailbox_key``) whose subject,
        sender, To or Cc field, envelope recipient or text contains *text* (case-insensitive;
        both filters optional), newest first."""
        self.refresh()
        where, params = self._filters(to, text)
        sql = (
            f"SELECT {_SUMMARY_COLUMNS} FROM messages {where}"
            " ORDER BY received_at DESC, id DESC LIMIT ? OFFSET ?"
        )
        rows = self._db().execute(sql, (*params, limit, offset))
        return [_summary_of(row) for row in rows]

    def count(self, to: str | None = None, text: str | None = None) -> int:
        self.refresh()
        where, params = self._filters(to, text)
        return int(
            self._db().execute(f"SELECT count(*) FROM messages {where}", params).fetchone()[0]
        )

    def _filters(self, to: str | None, text: str | None) -> tuple[str, list[str]]:
        clauses: list[str] = []
        params: list[str] = []
        # Controls never occur in indexed text, and a NUL ends an FTS5 query string early
        # ("unterminated string"): search for the words around them instead.
        text = _CONTROLS.sub(" ", text).strip() if text else None
        if to:
            clauses.append("recipient = ?")
            params.append(mailbox_key(to))
        if text and self.fts and len(text) >= MIN_FTS_QUERY:
            clauses.append("rowid IN (SELECT rowid FROM messages_text WHERE messages_text MATCH ?)")
            params.append('"' + text.replace('"', '""') + '"')
        elif text:
            columns = _SEARCHED_COLUMNS
            clauses.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns) + ")")
            params.extend([_like_pattern(text)] * len(columns))
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    def _mailbox_of(self, message_id: str) -> str:
        """The mailbox directory holding *message_id*; KeyError if the store has no such id."""
        sql = "SELECT mailbox FROM messages WHERE id = ?"
        row = self._db().execute(sql, (message_id,)).fetchone()
        if row is None:
            self.refresh()
            row = self._db().execute(sql, (message_id,)).fetchone()
        if row is None:
            raise KeyError(message_id)
        return str(row[0])

    def _maildir(self, name: str) -> mailbox.Maildir:
        return mailbox.Maildir(self.root / name, factory=None, create=False)

    # --- keeping the index in step with the Maildirs ---

    def refresh(self) -> None:
        """Bring the index up to date with the Maildirs (cheap when nothing changed)."""
        db = self._db()
        known = {row[0]: row[1] for row in db.execute("SELECT name, stamp FROM mailboxes")}
        on_disk = self._mailbox_names()
        for name in on_disk:
            stamp = self._stamp(name)
            if known.get(name) != stamp or stamp == "":
                self._rescan(name, stamp, known.get(name))
        # Every indexed message's mailbox has a row in mailboxes (_rescan writes both in one
        # transaction), so the mailboxes table alone says which are gone.
        gone = set(known) - set(on_disk)
        if gone:
            with self._transaction() as tx:
                for name in gone:
                    tx.execute("DELETE FROM messages WHERE mailbox = ?", (name,))
                    tx.execute("DELETE FROM mailboxes WHERE name = ?", (name,))

    def _mailbox_names(self) -> list[str]:
        with os.scandir(self.root) as entries:
            return [entry.name for entry in entries if entry.is_dir() and _is_mailbox(entry.name)]

    def _stamp(self, name: str) -> str:
        """The mtimes of new/ and cur/; empty (never matches) while they may still change unseen."""
        maildir = os.path.join(self.root, name)
        try:
            mtimes = [os.stat(os.path.join(maildir, sub)).st_mtime_ns for sub in ("new", "cur")]
        except FileNotFoundError:
            return ""
        if time.time_ns() - max(mtimes) < RECENT_SECONDS * 1e9:
            return ""
        return f"{mtimes[0]}:{mtimes[1]}"

    def _rescan(self, name: str, stamp: str, old_stamp: str | None) -> None:
        """Index the files of mailbox *name* the index lacks and drop rows whose file is gone.

        New files are parsed outside the write transaction; deletions are decided inside it, on a
        fresh listing, so that a copy delivered meanwhile is never dropped.
        """
        recipient = mailbox_key(address_of_mailbox(name) or name)
        indexed = self._indexed(name)
        files = dict(self._files_in(name))
        if files.keys() == indexed and stamp == old_stamp:
            return  # the usual case while deliveries go on: nothing to write
        missing = [(key, path) for key, path in files.items() if key not in indexed]
        parsed = [self._read(_Copy(key, name, recipient, path, 0)) for key, path in missing]
        with self._transaction() as tx:
            for key in self._indexed(name) - {key for key, _ in self._files_in(name)}:
                tx.execute("DELETE FROM messages WHERE id = ?", (key,))
            for copy, message in filter(None, parsed):
                _insert(tx, copy, message)
            tx.execute(
                "INSERT OR REPLACE INTO mailboxes(name, recipient, stamp) VALUES (?, ?, ?)",
                (name, recipient, stamp),
            )

    def _indexed(self, name: str) -> set[str]:
        rows = self._db().execute("SELECT id FROM messages WHERE mailbox = ?", (name,))
        return {row[0] for row in rows}

    def _files_in(self, name: str) -> Iterator[tuple[str, Path]]:
        for sub in ("new", "cur"):
            with contextlib.suppress(FileNotFoundError), os.scandir(self.root / name / sub) as it:
                for entry in it:
                    if not entry.name.startswith(".") and entry.is_file():
                        yield entry.name.split(":", 1)[0], Path(entry.path)

    @staticmethod
    def _read(copy: _Copy) -> tuple[_Copy, _Parsed] | None:
        try:
            raw = copy.path.read_bytes()
        except FileNotFoundError:  # removed or moved to cur/ since the scan: the next one sees it
            return None
        return dataclasses.replace(copy, size=len(raw)), _parse(raw)

    # --- connections ---

    def _open_index(self) -> bool:
        """Create the index if missing or of another schema; return whether FTS is in use."""
        db = self._db()
        with self._transaction() as tx:
            version = tx.execute("PRAGMA user_version").fetchone()[0]
            has_text = tx.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'messages_text'"
            ).fetchone()
            if version == INDEX_SCHEMA_VERSION and bool(has_text) == self._wants_fts(db):
                return bool(has_text)
            for table in ("messages_text", "messages", "mailboxes"):
                tx.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _split_sql(_SCHEMA):
                tx.execute(statement)
            fts = self._wants_fts(db)
            if fts:
                for statement in _split_sql(_FTS_SCHEMA):
                    tx.execute(statement)
            tx.execute(f"PRAGMA user_version = {INDEX_SCHEMA_VERSION}")
            return fts

    def _wants_fts(self, db: sqlite3.Connection) -> bool:
        return self._use_fts and _has_fts5(db)

    def _db(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:  # forked (e.g. a gunicorn worker): never share a connection
            self._pid = os.getpid()
            self._local = threading.local()
            self._connections = []
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
        return db

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.root / INDEX_FILE,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode = WAL")
        # The index can be rebuilt from the Maildirs, so it need not be synced on every commit.
        db.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            self._connections.append(db)
        return db

    def _transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db())

    def close(self) -> None:
        """Finish the deliveries under way, close every thread's index connection and the open
        Maildirs (the store reopens them on next use)."""
        self._writer.close()  # hands what it has written to the syncer
        self._syncer.close()
        with self._lock:
            connections, self._connections = self._connections, []
            dirs = [*self._maildir_fds.values(), *self._retired_fds]
            self._maildir_fds, self._retired_fds = {}, []
        for db in connections:
            db.close()
        for maildir in dirs:
            maildir.close()
        self._local = threading.local()

    def __enter__(self) -> MailStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _split_sql(script: str) -> list[str]:
    """Statements of a schema script (``executescript`` would commit our transaction)."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.strip().splitlines():
        current.append(line)
        joined = "\n".join(current)
        if line.rstrip().endswith(";") and sqlite3.complete_statement(joined):
            statements.append(joined)
            current = []
    return statements
