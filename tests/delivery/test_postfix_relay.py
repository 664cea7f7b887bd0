"""A real relay in the loop: QuizMail's client → a private Postfix → the capture server.

Postfix relays for the school's domain only (``relay_domains``) and for no client network
(``mynetworks`` names no address the test uses), so any other destination gets Postfix's own
"Relay access denied" — the "We do not relay" of the lab — which QuizMail explains in plain words.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from exchangers import free_port_on
from private_postfix import PrivatePostfix, missing_reason

from app import create_app
from app.capture import CaptureServer, RecipientPolicy
from app.config import PROJECT_ROOT
from app.notify import Notifier, explain
from app.quiz import Result, grade, load_quiz, new_attempt
from app.report import Student
from app.store import MailStore

RELAY_SECONDS = 30.0  # Postfix's queue manager picks new mail up within a second or two


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[CaptureServer]:
    server = CaptureServer(
        tmp_path / "mailbox", "127.0.0.1", free_port_on("127.0.0.1"), RecipientPolicy()
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postfix(capture: CaptureServer) -> Iterator[PrivatePostfix]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    settings = {
        "mynetworks": "192.0.2.0/32",  # TEST-NET-1: no client of this test relays by network
        "relay_domains": "school.example",
        "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
    }
    with PrivatePostfix(free_port_on("127.0.0.1"), capture.port, settings=settings) as running:
        yield running


@pytest.fixture
def notifier(tmp_path: Path, postfix: PrivatePostfix) -> Iterator[Notifier]:
    config = {
        "TESTING": True,
        "VAR_DIR": str(tmp_path / "var"),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": postfix.smtpd_port,
        "MAIL_FROM": "QuizMail <quizmail@school.example>",
    }
    running = Notifier.from_config(create_app(config).config)
    yield running
    running.close()


@pytest.fixture
def result() -> Result:
    quiz = load_quiz(PROJECT_ROOT / "questions" / "smtp.yaml")
    attempt = new_attempt(quiz, random.Random(3))
    return grade(quiz, attempt, {}, attempt.started_at)


def wait_for(store: MailStore, recipient: str, postfix: PrivatePostfix) -> list[bytes]:
    deadline = time.monotonic() + RELAY_SECONDS
    while time.monotonic() < deadline:
        if keys := store.keys(recipient):
            return [store.get_bytes(key) for key in keys]
        time.sleep(0.2)
    raise AssertionError(f"nothing reached {recipient} through Postfix:\n{postfix.log()}")


def test_a_results_email_goes_through_postfix_into_the_right_maildir(
    notifier: Notifier, result: Result, capture: CaptureServer, postfix: PrivatePostfix
) -> None:
    record = notifier.email_results(result, Student("ada@school.example", "Ada"))
    assert record.state == "sent", record.last_error
    assert record.reply is not None
    assert record.reply.startswith("250 2.0.0 Ok: queued as ")  # Postfix's own words
    (stored,) = wait_for(capture.store, "ada@school.example", postfix)
    assert b"Received: from " in stored  # Postfix's trace header (RFC 5321 §4.4)
    assert record.info["message_id"].encode() in stored
    assert b"results.json" in stored
    assert capture.store.keys("bob@school.example") == []


def test_a_destination_postfix_does_not_relay_for_is_refused_and_explained(
    notifier: Notifier, result: Result, capture: CaptureServer
) -> None:
    record = notifier.email_results(result, Student("eve@elsewhere.example"))
    assert record.state == "failed"
    assert record.reply == "554 5.7.1 <eve@elsewhere.example>: Relay access denied"
    words = explain(record)
    assert "refused to pass the message on" in words
    assert "relays only for its own network and domains" in words
    assert capture.store.keys("eve@elsewhere.example") == []
