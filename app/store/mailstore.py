"""The captured mail: one Maildir per recipient address, plus an index for listing and search.

Layout::

    ROOT/
      .index.sqlite3            the index (app.store.index)
      ada@example.org/          one Maildir per mailbox (tmp/ new/ cur/), name = mailbox_name()
        new/1763888400.M12345P99R3f2a9c1eQ0.host

A message id is the Maildir key of the stored file: URL-safe (letters, digits, ``.``, ``-``),
unique across the store because every copy gets its own key, and stable because it is the file
name. ``deliver`` returns only after every file and every ``new/`` directory is fsynced
(app.store.maildir): a caller that answers 250 afterwards has the message on disk. ``submit`` is
the same without waiting.

This module knows nothing of Flask or aiosmtpd.
"""

from __future__ import annotations

import contextlib
import mailbox
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from app.store.index import MailIndex, MessageSummary
from app.store.maildir import Delivery, MaildirWriter
from app.store.naming import is_mailbox

__all__ = ["MailStore"]


class MailStore:
    """Maildirs per recipient under *root*, with a SQLite index; safe across threads and processes.

    Unknown message ids raise KeyError.
    """

    def __init__(self, root: str | os.PathLike[str], *, use_fts: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.writer = MaildirWriter(self.root)
        self.index = MailIndex(self.root, use_fts=use_fts)

    @property
    def fts(self) -> bool:
        """Whether text search uses SQLite's full-text index (else LIKE over the columns)."""
        return self.index.fts

    @property
    def delivered(self) -> int:
        """Copies this object has stored so far."""
        return self.writer.delivered

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
        return self.writer.submit(recipients, message, prefix, on_done)

    def remove(self, message_id: str) -> None:
        name = self.index.mailbox_of(message_id)
        with contextlib.suppress(KeyError):
            self._maildir(name).remove(message_id)
        self.index.forget(message_id)

    def clear(self) -> None:
        """Remove every mailbox and every message."""
        self.writer.forget_maildirs()
        for entry in os.scandir(self.root):
            if entry.is_dir() and is_mailbox(entry.name):
                shutil.rmtree(entry.path, ignore_errors=True)
        self.index.forget_all()

    # --- reading ---

    def mailboxes(self, *, with_mail: bool = False) -> list[str]:
        """The mailboxes (*with_mail*: those holding a message), sorted: each once, by its key
        (:func:`app.addresses.mailbox_key`), whichever spellings its mail came for.

        A mailbox whose last message was deleted stays on disk (POP3 still opens it, empty);
        a list to filter by has no use for it.
        """
        return self.index.mailboxes(with_mail=with_mail)

    def keys(self, recipient: str) -> list[str]:
        """Message ids in *recipient*'s mailbox, oldest first."""
        return self.index.keys(recipient)

    def maildirs(self, recipient: str) -> list[Path]:
        """The Maildirs holding *recipient*'s mailbox, as of the last read (one, or one per
        spelling in a store written before mailboxes were named by their key)."""
        return [self.root / name for name in self.index.maildir_names(recipient)]

    def ids_starting_with(self, prefix: str, limit: int = 10) -> list[str]:
        """Message ids that start with *prefix* (case matters, as in ids), sorted, at most
        *limit*: an id given in full comes first, as it sorts before its longer namesakes."""
        return self.index.ids_starting_with(prefix, limit)

    def get_bytes(self, message_id: str) -> bytes:
        """The stored copy exactly as it is on disk (trace header fields included)."""
        name = self.index.mailbox_of(message_id)
        with self._maildir(name).get_file(message_id) as f:
            return f.read()

    def summary(self, message_id: str) -> MessageSummary:
        return self.index.summary(message_id)

    def search(
        self, to: str | None = None, text: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[MessageSummary]:
        """Messages in the mailbox of *to* (any spelling of it: ``mailbox_key``) whose subject,
        sender, To or Cc field, envelope recipient or text contains *text* (case-insensitive;
        both filters optional), newest first."""
        return self.index.search(to, text, limit, offset)

    def count(self, to: str | None = None, text: str | None = None) -> int:
        return self.index.count(to, text)

    def refresh(self) -> None:
        """Bring the index up to date with the Maildirs (cheap when nothing changed)."""
        self.index.refresh()

    def _maildir(self, name: str) -> mailbox.Maildir:
        return mailbox.Maildir(self.root / name, factory=None, create=False)

    # --- lifetime ---

    def close(self) -> None:
        """Finish the deliveries under way, close every thread's index connection and the open
        Maildirs (the store reopens them on next use)."""
        self.writer.close()
        self.index.close()

    def __enter__(self) -> MailStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
