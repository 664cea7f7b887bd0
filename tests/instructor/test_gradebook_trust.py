"""The gradebook trusts what the server computed: results it signed are verified, others are
marked, and a results email it cannot read is listed with its reason beside the good rows."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from capture.capture_helpers import free_port
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from app.capture import CaptureServer
from app.cli import main
from app.config import PROJECT_ROOT
from app.notify import Notifier
from app.quiz import grade, load_quiz, new_attempt
from app.report import Student
from app.results_signature import HEADER, Verdict
from app.store import MailStore, gradebook

from .helpers import results_email, results_payload

SUBMITTED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def relay(app: Flask) -> Iterator[int]:
    """The capture server writing into the instructor's mailbox, as in the demo."""
    port = free_port()
    with CaptureServer(app.config["MAILBOX_DIR"], "127.0.0.1", port):
        yield port


def send_results(app: Flask, port: int, address: str) -> None:
    """What "Email my results" does, through the real client to the capture server."""
    quiz = load_quiz(PROJECT_ROOT / "questions" / "smtp.yaml")
    result = grade(quiz, new_attempt(quiz, random.Random(7), SUBMITTED_AT), {}, SUBMITTED_AT)
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    notifier = Notifier.from_config(app.config)
    try:
        notifier.email_results(result, Student(address, "Ada"))
    finally:
        notifier.close()


def typed_results(address: str) -> bytes:
    """A results email as anyone could write it: right schema, no server signature."""
    return results_email(results_payload(student=address))


def only_copy(store: MailStore) -> bytes:
    (summary,) = store.search()
    return store.get_bytes(summary.id)


def test_results_the_server_sent_are_signed_and_verified(app: Flask, relay: int) -> None:
    send_results(app, relay, "ada@school.example")
    store = MailStore(app.config["MAILBOX_DIR"])
    assert HEADER.encode() + b": " in only_copy(store)
    (row,) = gradebook.read_store(store, secret=app.config["SECRET_KEY"])
    assert row.verdict is Verdict.VERIFIED
    assert not row.unverified


def test_results_signed_by_another_key_or_edited_are_unverified(app: Flask, relay: int) -> None:
    send_results(app, relay, "ada@school.example")
    store = MailStore(app.config["MAILBOX_DIR"])
    (row,) = gradebook.read_store(store, secret="another server's key")
    assert row.verdict is Verdict.FORGED
    assert row.unverified


def test_a_typed_results_email_is_marked_unverified_on_the_page(
    app: Flask, relay: int, instructor: FlaskClient, store: MailStore
) -> None:
    send_results(app, relay, "ada@school.example")
    store.deliver(["bob@school.example"], typed_results("bob@school.example"))
    page = instructor.get("/instructor/gradebook").get_data(as_text=True)
    rows = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr")[1:]
    by_student = {("bob" if "bob@school.example" in row else "ada"): row for row in rows}
    assert "Unverified" in by_student["bob"]
    assert "not signed by this server" in by_student["bob"]
    assert "Unverified" not in by_student["ada"]


def test_an_unreadable_results_email_is_listed_with_its_reason_beside_the_good_rows(
    instructor: FlaskClient, store: MailStore
) -> None:
    store.deliver(["ada@school.example"], typed_results("ada@school.example"))
    poisoned = results_payload(student="eve@school.example")
    poisoned["score"]["points"] = int("9" * 400)
    store.deliver(["eve@school.example"], results_email(poisoned))
    response = instructor.get("/instructor/gradebook")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "ada@school.example" in page.split('id="unreadable-heading"')[0]
    assert "1 results email could not be read" in page
    assert "unreadable results (score.points is too large a number)" in page
    (bad,) = [s for s in store.search() if s.recipient == "eve@school.example"]
    assert f"/instructor/messages/{bad.id}" in page
    csv_text = instructor.get("/instructor/gradebook.csv").get_data(as_text=True)
    assert "ada@school.example" in csv_text
    assert "eve@school.example" not in csv_text


def test_export_counts_the_unverified_rows(app: Flask, store: MailStore, tmp_path: Path) -> None:
    store.deliver(["bob@school.example"], typed_results("bob@school.example"))
    poisoned = results_payload(student="eve@school.example")
    poisoned["questions"] = "none"
    store.deliver(["eve@school.example"], results_email(poisoned))
    out = tmp_path / "grades.csv"
    env = {"QUIZMAIL_VAR_DIR": app.config["VAR_DIR"], "QUIZMAIL_MAILBOX_DIR": str(store.root)}
    result = CliRunner().invoke(main, ["mailbox", "export", "--gradebook", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "1 gradebook row written" in result.output
    assert "(1 unverified: not signed by this server)" in result.output
    assert "unreadable results (questions is a string, not a list)" in result.output
    header, row = out.read_text().splitlines()
    assert header.endswith(",verified")
    assert row.endswith(",no")
