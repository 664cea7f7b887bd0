"""Retention: a long-running lab server keeps at most so many messages, or so old (off by default).

``Retention.prune`` removes the oldest copies beyond ``max_messages`` and those received more
than ``max_age`` seconds ago, through the mail store's public methods only (``count``,
``search``, ``remove``), so the Maildir files and their index rows go together.
``RetentionKeeper`` prunes in a background thread of the capture server every
:data:`PRUNE_INTERVAL` seconds; a burst may overshoot the limit until the next pass.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.store import MailStore, MessageSummary

__all__ = ["PRUNE_INTERVAL", "Retention", "RetentionKeeper", "parse_age"]

log = logging.getLogger(__name__)

PRUNE_INTERVAL = 60.0  # seconds between passes: a lab's disk fills in hours, not seconds
PAGE = 500  # summaries read at a time, oldest first
_AGE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNITS = (86400, 3600, 60, 1)


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``1d12h``, ``90m``, ``45s`` or a number of seconds → seconds (> 0)."""
    value = text.strip().lower()
    found = _AGE.fullmatch(value)
    if value.replace(".", "", 1).isdigit():
        seconds = float(value)
    elif found and value:
        parts = zip(found.groups(), _UNITS, strict=True)
        seconds = float(sum(int(n or 0) * unit for n, unit in parts))
    else:
        raise ValueError(f"{text!r} is not an age such as 30d, 12h, 1d12h, 90m or 3600")
    if seconds <= 0:
        raise ValueError(f"{text!r}: an age must be more than zero")
    return seconds


def _oldest_first(store: MailStore, total: int) -> Iterator[MessageSummary]:
    """Every summary, oldest first (``search`` lists newest first: read it from the end)."""
    end = total
    while end > 0:
        start = max(end - PAGE, 0)
        yield from reversed(store.search(limit=end - start, offset=start))
        end = start


@dataclass(frozen=True)
class Retention:
    """How much mail to keep: at most *max_messages* copies, none older than *max_age* seconds."""

    max_messages: int | None = None
    max_age: float | None = None

    def __bool__(self) -> bool:
        return self.max_messages is not None or self.max_age is not None

    def __str__(self) -> str:
        kept = [f"at most {self.max_messages} messages"] if self.max_messages else []
        if self.max_age:
            kept.append(f"none older than {self.max_age:g} s")
        return "keep " + ", ".join(kept) if kept else "keep everything"

    def prune(self, store: MailStore, now: datetime | None = None) -> int:
        """Remove what is beyond the limits, oldest first; the number of copies removed."""
        total = store.count()
        excess = total - self.max_messages if self.max_messages is not None else 0
        cutoff = (now or datetime.now(UTC)) - timedelta(seconds=self.max_age or 0)
        removed = 0
        for position, summary in enumerate(_oldest_first(store, total)):
            too_old = self.max_age is not None and summary.received_at < cutoff
            if position >= excess and not too_old:
                break  # everything after it is newer
            store.remove(summary.id)
            removed += 1
        return removed


class RetentionKeeper:
    """Prunes *store* by *retention* in a background thread until ``stop()``."""

    def __init__(
        self, store: MailStore, retention: Retention, interval: float = PRUNE_INTERVAL
    ) -> None:
        self.store, self.retention, self.interval = store, retention, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            try:
                removed = self.retention.prune(self.store)
            except Exception:  # the disk or the index: log, and try again next time
                log.exception("pruning the captured mail failed")
            else:
                if removed:
                    log.info("retention: removed %d of the oldest messages", removed)
            if self._stop.wait(self.interval):
                return
