"""`email` tells what became of the message in the web's words: handed to the relay, refused and
why (and the send given back), or waiting in the outbox until `status` finds it sent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from telnet_support import Client, Site, quiz_number, site_fixture

from app.capture import RecipientPolicy
from app.notify import Deliverer
from app.outbox import Outbox


@pytest.fixture
def school_only(tmp_path: Path) -> Iterator[Site]:
    """The relay takes mail for school.example only (550 5.7.1 for anyone else)."""
    yield from site_fixture(tmp_path, RecipientPolicy(domains=frozenset({"school.example"})))


def graded(client: Client) -> None:
    client.line(quiz_number(client.greeting, "A timed quiz"))
    client.line("a")
    client.line("a")
    assert "Score:  2 of 2 points (100%)" in client.line("submit")


def words(text: str) -> str:
    return " ".join(text.split())


def test_a_refused_address_says_why_and_another_may_be_tried(school_only: Site) -> None:
    with Client(school_only.port) as client:
        graded(client)
        for _ in range(3):  # refusals use up none of the attempt's three emails
            refused = words(client.line("email ada@example.org"))
            assert "The mail server refused your results" in refused
            assert "only delivers to its own domains" in refused
            assert "Server's reply: 550 5.7.1" in refused
            assert "Type email with another address to try again" in refused
        sent = words(client.line("email ada@school.example"))
        assert "Your results were handed to the mail server" in sent


def test_with_the_relay_down_the_email_waits_and_status_finds_it_sent(site: Site) -> None:
    site.capture.stop()
    site.capture_running = False
    with Client(site.port) as client:
        graded(client)
        queued = words(client.line("email ada@example.org"))
        assert "Your results are waiting to be sent" in queued
        assert "QuizMail has saved it and keeps trying" in queued
        assert "Type status to check again" in queued
        assert "Your results are waiting to be sent" in words(client.line("status"))
        restarted = type(site.capture)(
            site.capture.mailbox, port=site.capture.port, hostname="capture.test"
        )
        restarted.start()
        try:
            outbox = Outbox(site.app.config["OUTBOX_DIR"], clock=lambda: time.time() + 3600)
            later = Deliverer(outbox, Deliverer.from_config(site.app.config).relay)
            sent = later.run_once()  # an hour on: every retry is due
            assert [record.state for record in sent] == ["sent"]
            status = words(client.line("status"))
            assert "Your results were handed to the mail server" in status
            assert "Server's reply: 250" in status
        finally:
            restarted.stop()
