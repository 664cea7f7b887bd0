"""What the instructor's Status page reads: mail the outbox has not delivered, broken quiz files.

Read-only: listing the outbox takes no claim and changes no record, so the deliverer and the web
workers go on as if nobody looked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from app.outbox import Outbox, OutboxRecord
from app.quiz.loader import Problem
from app.web.results_email import notifier
from app.web.submissions import current_catalog

OutboxStatus = Literal["failed", "retrying", "queued"]


@dataclass(frozen=True)
class OutboxItem:
    """One undelivered message as the Status page lists it."""

    record: OutboxRecord

    @property
    def status(self) -> OutboxStatus:
        if self.record.state == "failed":
            return "failed"
        return "retrying" if self.record.attempts else "queued"

    @property
    def subject(self) -> str:
        return self.record.info.get("subject", "")

    @property
    def reason(self) -> str | None:
        """Why it is not delivered yet: the last error, else the relay's last reply."""
        return self.record.last_error or self.record.reply

    @property
    def queued_at(self) -> datetime:
        return _moment(self.record.queued_at)

    @property
    def next_try(self) -> datetime | None:
        """When the deliverer tries (again): a message never tried is due since it was queued;
        ``None`` once the outbox has given up on it."""
        if self.record.state != "queued":
            return None
        return _moment(max(self.record.next_try, self.record.queued_at))


@dataclass(frozen=True)
class Attention:
    """What the navigation counts: mail not delivered yet and quiz files left out."""

    failed: int
    retrying: int
    queued: int
    problems: int

    @property
    def total(self) -> int:
        """What needs the instructor: a message that is only queued will go by itself."""
        return self.failed + self.retrying + self.problems


def get_outbox() -> Outbox:
    """The outbox the app's notifier writes to (one object per app)."""
    return notifier().outbox


def undelivered(outbox: Outbox) -> list[OutboxItem]:
    """Failed messages first, then those waiting for a retry, then the rest; oldest first."""
    items = [OutboxItem(r) for r in (*outbox.records("failed"), *outbox.records("queued"))]
    order: dict[OutboxStatus, int] = {"failed": 0, "retrying": 1, "queued": 2}
    return sorted(items, key=lambda item: order[item.status])  # stable: oldest first in each


def quiz_problems() -> list[Problem]:
    """Why each quiz file that failed to load was left out, as ``file:line: message``."""
    catalog = current_catalog()
    catalog.quizzes()  # (re)loads the files when they changed, which fills ``problems``
    return list(catalog.problems)


def attention(items: list[OutboxItem], problems: list[Problem]) -> Attention:
    statuses = [item.status for item in items]
    return Attention(
        failed=statuses.count("failed"),
        retrying=statuses.count("retrying"),
        queued=statuses.count("queued"),
        problems=len(problems),
    )


def current_attention() -> Attention:
    return attention(undelivered(get_outbox()), quiz_problems())


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
