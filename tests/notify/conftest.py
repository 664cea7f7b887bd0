"""Fixtures for the results email: a known quiz, a graded result, an app that uses them."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from app.quiz import Quiz, Result, grade, load_quiz, new_attempt

QUESTIONS_DIR = Path(__file__).parent / "questions"
SUBMITTED_AT = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
#: Right, half right (one of two correct options), wrong, right: 2.5 of 4 points.
ANSWERS = {
    "smtp-port": ["p25"],
    "required-headers": ["from"],
    "dot-stuffing": ["escaped"],
    "crlf": ["true"],
}


@pytest.fixture
def quiz() -> Quiz:
    return load_quiz(QUESTIONS_DIR / "smtp.yaml")


@pytest.fixture
def result(quiz: Quiz) -> Result:
    attempt = new_attempt(quiz, random.Random(5), SUBMITTED_AT)
    return grade(quiz, attempt, ANSWERS, SUBMITTED_AT)


# -- a real relay: aiosmtpd in-process ---------------------------------------------------------


@dataclass
class Captured:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class RecordingHandler:
    """Stores every accepted envelope; refuses recipients or DATA as a test tells it to."""

    captured: list[Captured] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address → e.g. "550 No such user"
    data_replies: list[str] = field(default_factory=list)  # replies to use up before accepting
    connections: int = 0  # EHLO (or HELO) commands seen: one a connection

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        self.captured.append(
            Captured(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 2.0.0 Message accepted for delivery"


class LocalRelay:
    """An aiosmtpd relay on a port chosen up front, so it can be down, then come back there."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = RecordingHandler()
        self._controller: Controller | None = None

    @property
    def captured(self) -> list[Captured]:
        return self.handler.captured

    def start(self) -> LocalRelay:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def free_port() -> int:
    """A port nobody listens on (aiosmtpd's port=0 does not work)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def relay() -> Iterator[LocalRelay]:
    """A relay that is *down* until the test calls ``relay.start()``."""
    test_relay = LocalRelay()
    yield test_relay
    test_relay.stop()


@pytest.fixture
def running_relay(relay: LocalRelay) -> LocalRelay:
    return relay.start()
