"""The null reverse-path (``MAIL FROM:<>``, every bounce's) is stored as ``Return-Path: <>``.

From smtplib, and from a real Postfix (a private instance under a temp dir) bouncing a results
email that the capture server refused; then the stored copy as the instructor's pages show it.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from capture_helpers import StartServer, free_port
from flask import Flask
from instructor.helpers import PASSWORD, log_in
from private_postfix import PrivatePostfix, missing_reason

from app import create_app
from app.capture import CaptureServer, RecipientPolicy
from app.mail import build_message
from app.store import MailStore, gradebook

TEACHER = "teacher@school.example"
BOUNCE_SECONDS = 30.0  # Postfix relays, is refused, bounces and relays again: about a second


def stored_messages(store: MailStore, recipient: str) -> list[bytes]:
    return [store.get_bytes(s.id) for s in store.search(to=recipient, limit=10)]


def test_a_null_sender_from_smtplib_is_stored_as_an_empty_return_path(
    server: CaptureServer,
) -> None:
    with smtplib.SMTP("127.0.0.1", server.port) as client:
        client.sendmail("", [TEACHER], b"Subject: a report\r\n\r\nno sender\r\n")
    (raw,) = stored_messages(server.store, TEACHER)
    assert raw.startswith(b"Return-Path: <>\r\n")
    assert b"<<>>" not in raw


def test_a_sender_keeps_its_brackets_once(server: CaptureServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.port) as client:
        client.sendmail("ada@school.example", [TEACHER], b"Subject: hi\r\n\r\nhi\r\n")
    (raw,) = stored_messages(server.store, TEACHER)
    assert raw.startswith(b"Return-Path: <ada@school.example>\r\n")


def test_the_pages_show_no_sender_for_a_null_reverse_path(
    server: CaptureServer, tmp_path: Path
) -> None:
    with smtplib.SMTP("127.0.0.1", server.port) as client:
        client.sendmail("", [TEACHER], b"Subject: no From field\r\n\r\nbody\r\n")
    # As earlier versions stored a bounce: the pages read it as no sender too.
    server.store.deliver([TEACHER], b"Return-Path: <<>>\r\nSubject: stored before\r\n\r\nx\r\n")
    assert [s.sender for s in server.store.search(to=TEACHER, limit=2)] == ["", ""]
    client = instructor_app(tmp_path, server).test_client()
    log_in(client)
    page = client.get("/instructor/mailbox").get_data(as_text=True)
    assert "no From field" in page
    assert "stored before" in page
    assert "&lt;&gt;" not in page


def instructor_app(tmp_path: Path, server: CaptureServer) -> Flask:
    config = {"TESTING": True, "VAR_DIR": str(tmp_path / "var"), "INSTRUCTOR_PASSWORD": PASSWORD}
    return create_app({**config, "MAILBOX_DIR": str(server.store.root)})


# --- a real bounce, from a private Postfix --------------------------------------------------------


@pytest.fixture
def relaying_postfix(
    start_server: StartServer,
) -> Iterator[tuple[PrivatePostfix, CaptureServer]]:
    """Postfix relaying everything to a capture server that takes only school.example mail."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    capture = start_server(policy=RecipientPolicy(domains=frozenset({"school.example"})))
    with PrivatePostfix(free_port(), capture.port) as postfix:
        yield postfix, capture


def wait_for_mail(store: MailStore, recipient: str, postfix: PrivatePostfix) -> list[bytes]:
    deadline = time.monotonic() + BOUNCE_SECONDS
    while time.monotonic() < deadline:
        if found := stored_messages(store, recipient):
            return found
        time.sleep(0.2)
    raise AssertionError(f"no bounce reached {recipient}:\n{postfix.log()}")


def test_a_postfix_bounce_of_a_refused_results_email(
    relaying_postfix: tuple[PrivatePostfix, CaptureServer],
) -> None:
    postfix, capture = relaying_postfix
    results = build_message(
        sender=TEACHER,
        to="student@elsewhere.example",
        subject="Your results",
        text="8 of 10",
        attachments=[("results.json", "application/json", b'{"schema": "quizmail.results/1"}')],
    )
    with smtplib.SMTP("127.0.0.1", postfix.smtpd_port) as client:
        client.sendmail(TEACHER, ["student@elsewhere.example"], results)
    (bounce,) = wait_for_mail(capture.store, TEACHER, postfix)
    assert bounce.startswith(b"Return-Path: <>\r\n"), bounce[:200]
    assert b"Content-Type: multipart/report; report-type=delivery-status" in bounce
    assert b"550 5.7.1" in bounce  # the capture server's refusal, quoted in the report
    # The bounce carries the refused email inside it; it is no student's result.
    assert gradebook.read_store(capture.store) == []
