"""``quizmail deliver --once``: the outbox worker from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import LocalRelay

from app.cli import main
from app.outbox import Outbox

MESSAGE = b"Subject: queued\r\n\r\nbody\r\n"


@pytest.fixture
def outbox(tmp_path: Path, relay: LocalRelay, monkeypatch: pytest.MonkeyPatch) -> Outbox:
    monkeypatch.setenv("QUIZMAIL_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("QUIZMAIL_SMTP_PORT", str(relay.port))
    return Outbox(tmp_path / "var" / "outbox")


def test_deliver_once_sends_what_is_due(outbox: Outbox, running_relay: LocalRelay) -> None:
    message_id = outbox.enqueue(MESSAGE, "quizmail@localhost", ["ada@example.org"])
    result = CliRunner().invoke(main, ["deliver", "--once"])
    assert result.exit_code == 0, result.output
    assert "outbox: 0 queued, 1 sent, 0 failed" in result.output
    assert [c.data for c in running_relay.captured] == [MESSAGE]
    record = outbox.lookup(message_id)
    assert record is not None
    assert record.state == "sent"


def test_deliver_once_keeps_the_message_when_the_relay_is_down(outbox: Outbox) -> None:
    outbox.enqueue(MESSAGE, "quizmail@localhost", ["ada@example.org"])
    result = CliRunner().invoke(main, ["deliver", "--once"])
    assert result.exit_code == 0, result.output
    assert "outbox: 1 queued, 0 sent, 0 failed" in result.output


def test_deliver_is_listed_in_help() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert "deliver" in result.output
