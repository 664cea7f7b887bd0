"""The Sessions pages and `quizmail sessions`: list, filter, show, export; hostile sessions are
shown escaped and never a 500; a captured message links to its session and back."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from instructor.helpers import PASSWORD, build_message, log_in

from app import create_app
from app.cli import main
from app.store import MailStore
from app.store.session_record import SessionRecord
from app.store.sessions import SessionLog

from .scripted import GOOD_MESSAGE, GREETING, polite, record


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "VAR_DIR": str(tmp_path / "var"),
            "MAILBOX_DIR": str(tmp_path / "mailbox"),
            "INSTRUCTOR_PASSWORD": PASSWORD,
        }
    )


@pytest.fixture
def instructor(client: FlaskClient) -> FlaskClient:
    assert log_in(client).status_code == 302
    return client


@pytest.fixture
def log(app: Flask) -> SessionLog:
    return SessionLog(app.config["MAILBOX_DIR"])


def stored_session(app: Flask, log: SessionLog) -> tuple[SessionRecord, str]:
    """A polite session whose message is in the mailbox, logged."""
    with MailStore(app.config["MAILBOX_DIR"]) as store:
        (message_id,) = store.deliver(["bob@school.example"], build_message(subject="Linked"))
    rec = record(polite(GOOD_MESSAGE))
    message = dataclasses.replace(rec.messages[0], ids=(message_id,))
    rec = dataclasses.replace(
        rec, id="20261202T183000-aaaa0001", messages=(message,), outcome="accepted"
    )
    log.add(rec)
    return rec, message_id


HOSTILE = [
    GREETING,
    ("C", b"<script>alert(1)</script>\r\n"),
    ("S", '500 Error: command "<SCRIPT>ALERT(1)</SCRIPT>" not recognized'),
    ("C", b"\x00\xff\xfe\x1b]0;pwned\x07\r\n"),
    ("C", b"X" * 5000),
]


def test_the_sessions_page_needs_the_login(client: FlaskClient) -> None:
    assert client.get("/instructor/sessions/").status_code == 302


def test_list_filter_show_and_export(app: Flask, instructor: FlaskClient, log: SessionLog) -> None:
    rec, message_id = stored_session(app, log)
    sloppy = dataclasses.replace(
        record(HOSTILE), id="20261202T183001-bbbb0002", peer="198.51.100.9"
    )
    log.add(sloppy)
    page = instructor.get("/instructor/sessions/").get_data(as_text=True)
    assert "198.51.100.9" in page
    assert "192.0.2.7" in page
    assert 'aria-current="page">Sessions' in page
    assert "MUST</span>" in page  # findings counted on the list
    filtered = instructor.get("/instructor/sessions/?outcome=accepted").get_data(as_text=True)
    assert rec.id in filtered
    assert sloppy.id not in filtered
    by_peer = instructor.get("/instructor/sessions/?peer=198.51.100.9").get_data(as_text=True)
    assert sloppy.id in by_peer
    assert rec.id not in by_peer
    shown = instructor.get(f"/instructor/sessions/{rec.id}").get_data(as_text=True)
    assert f"/instructor/messages/{message_id}" in shown
    assert "EHLO client.test" in shown
    assert "https://www.rfc-editor.org/rfc/rfc5321" in shown  # explained, line by line
    bare = instructor.get(f"/instructor/sessions/{rec.id}?dialogue=bare").get_data(as_text=True)
    assert '<li id="line-2" class="side-C">' in bare
    assert "C: EHLO client.test" in bare
    exported = instructor.get(f"/instructor/sessions/{rec.id}/session.json").get_json()
    assert exported["session"]["id"] == rec.id
    assert exported["conformance"]["must"] == 0
    message_page = instructor.get(f"/instructor/messages/{message_id}").get_data(as_text=True)
    assert f"/instructor/sessions/{rec.id}" in message_page


def test_hostile_sessions_are_shown_escaped(instructor: FlaskClient, log: SessionLog) -> None:
    rec = dataclasses.replace(record(HOSTILE), id="20261202T183002-cccc0003")
    log.add(rec)
    response = instructor.get(f"/instructor/sessions/{rec.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\x1b" not in page
    assert "\x00" not in page
    assert "\\x1B]0;pwned\\x07" in page
    assert "Content-Security-Policy" in response.headers


def test_unknown_and_unreadable_sessions_are_404s(instructor: FlaskClient, log: SessionLog) -> None:
    assert instructor.get("/instructor/sessions/nope").status_code == 404
    with log.db.immediate() as db:
        db.execute("INSERT INTO sessions VALUES ('bad', 0, 0, 'x', 'accepted', 0, 0, '{oops')")
    assert instructor.get("/instructor/sessions/bad").status_code == 404
    assert instructor.get("/instructor/sessions/").status_code == 200


def test_retention_keeps_the_newest(tmp_path: Path) -> None:
    log = SessionLog(tmp_path, keep=3)
    for n in range(5):
        rec = record(polite(GOOD_MESSAGE))
        log.add(dataclasses.replace(rec, id=f"s{n}", started_at=1_000.0 + n))
    log.close()  # prunes: between two writes the log may hold a few more
    assert [s.id for s in log.search()] == ["s4", "s3", "s2"]


def test_the_cli_lists_and_shows_sessions(app: Flask, log: SessionLog) -> None:
    rec, _ = stored_session(app, log)
    log.add(dataclasses.replace(record(HOSTILE), id="20261202T183003-dddd0004"))
    mailbox = app.config["MAILBOX_DIR"]
    runner = CliRunner()
    listed = runner.invoke(main, ["sessions", "list", "--mailbox", mailbox])
    assert listed.exit_code == 0
    assert rec.id in listed.output
    as_json = json.loads(
        runner.invoke(main, ["sessions", "list", "--mailbox", mailbox, "--json"]).output
    )
    assert {row["id"] for row in as_json} == {rec.id, "20261202T183003-dddd0004"}
    shown = runner.invoke(main, ["sessions", "show", "--mailbox", mailbox, "20261202T183003"])
    assert shown.exit_code == 0
    assert "\x1b" not in shown.output
    assert "MUST" in shown.output
    data = json.loads(
        runner.invoke(main, ["sessions", "show", "--mailbox", mailbox, rec.id, "--json"]).output
    )
    assert data["conformance"]["findings"] == []
    explained = runner.invoke(main, ["sessions", "show", "--mailbox", mailbox, rec.id, "--explain"])
    assert "RFC 5321" in explained.output
    assert "C: EHLO client.test" in explained.output
    ambiguous = runner.invoke(main, ["sessions", "show", "--mailbox", mailbox, "2026"])
    assert ambiguous.exit_code == 1
    assert "more than one" in ambiguous.output
    missing = runner.invoke(main, ["sessions", "show", "--mailbox", mailbox, "zzz"])
    assert missing.exit_code == 1
    assert "No session" in missing.output


def test_the_capture_command_keeps_as_many_sessions_as_the_log_by_default() -> None:
    from app.cli import capture
    from app.store.sessions import DEFAULT_KEEP

    (option,) = [p for p in capture.params if p.name == "keep_sessions"]
    assert option.default == DEFAULT_KEEP


def test_the_cli_offers_every_outcome() -> None:
    from app import sessions_cli
    from app.store.session_record import OUTCOMES

    assert sessions_cli.OUTCOMES == OUTCOMES


def test_a_session_log_that_is_no_database_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / ".sessions.sqlite3").write_bytes(b"\0not a database" * 100)
    log = SessionLog(tmp_path)
    assert log.count() == 0
    (aside,) = tmp_path.glob(".sessions.sqlite3.unreadable-*")
    assert aside.read_bytes().startswith(b"\0not a database")
