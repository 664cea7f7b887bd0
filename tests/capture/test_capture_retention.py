"""Retention (``--max-messages``, ``--max-age``): the oldest mail goes, with its index rows."""

from __future__ import annotations

import smtplib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from capture_helpers import StartServer

from app.capture.retention import Retention, parse_age
from app.store import MailStore


def fill(store: MailStore, count: int, recipient: str = "t@school.example") -> list[str]:
    ids = []
    for number in range(count):
        ids += store.deliver([recipient], f"Subject: message {number}\r\n\r\nbody\r\n".encode())
        time.sleep(0.002)  # distinct arrival times, so that "oldest" means something
    return ids


def test_max_messages_keeps_the_newest(tmp_path: Path) -> None:
    with MailStore(tmp_path) as store:
        ids = fill(store, 7)
        assert Retention(max_messages=3).prune(store) == 4
        kept = [summary.id for summary in store.search(limit=10)]
        assert sorted(kept) == sorted(ids[-3:])
        assert store.count() == 3
        assert Retention(max_messages=3).prune(store) == 0


def test_max_age_removes_what_is_older(tmp_path: Path) -> None:
    with MailStore(tmp_path) as store:
        fill(store, 3)
        assert Retention(max_age=3600).prune(store) == 0
        later = datetime.now(UTC) + timedelta(hours=2)
        assert Retention(max_age=3600).prune(store, now=later) == 3
        assert store.count() == 0
        assert not list((tmp_path / "t@school.example" / "new").iterdir())


def test_both_limits_and_many_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.capture.retention.PAGE", 2)
    with MailStore(tmp_path) as store:
        ids = fill(store, 5) + fill(store, 2, "u@school.example")
        assert Retention(max_messages=4, max_age=10**6).prune(store) == 3
        assert {s.id for s in store.search(limit=10)} == set(ids[3:])


def test_retention_is_off_by_default() -> None:
    assert not Retention()


def test_the_capture_server_prunes_in_the_background(start_server: StartServer) -> None:
    server = start_server(retention=Retention(max_messages=2), retention_interval=0.05)
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
        for number in range(5):
            smtp.sendmail("a@example.org", ["t@school.example"], f"Subject: {number}\r\n\r\nx\r\n")
    with MailStore(server.mailbox) as store:
        deadline = time.monotonic() + 10
        while store.count() > 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [s.subject for s in store.search()] == ["4", "3"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86400), ("12h", 43200), ("1d12h", 129600), ("90m", 5400), ("3600", 3600)],
)
def test_ages(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0", "-5", "3w", "0d"])
def test_bad_ages(text: str) -> None:
    with pytest.raises(ValueError, match="age"):
        parse_age(text)
