"""``quizmail deliver --once``: the outbox worker from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from notify_support import LocalRelay

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


def poison(outbox: Outbox) -> list[str]:
    """Three queued "records" that are not ours, each named like one; their names."""
    queue = outbox.root / "queue"
    good = outbox.enqueue(MESSAGE, "quizmail@localhost", ["bob@example.org"])
    line = (queue / good).read_bytes().split(b"\n", 1)[0]
    names = ["A" * 21 + c for c in "xyz"]
    (queue / names[0]).write_bytes(line.replace(b'"next_try":0.0', b'"next_try":"soon"') + b"\n")
    (queue / names[1]).write_bytes(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    (queue / names[2]).mkdir()
    return names


def test_bad_records_are_set_aside_and_the_rest_delivered(
    outbox: Outbox, running_relay: LocalRelay
) -> None:
    names = poison(outbox)
    first = outbox.enqueue(MESSAGE, "quizmail@localhost", ["ada@example.org"])
    result = CliRunner().invoke(main, ["deliver", "--once"])
    assert result.exit_code == 0, result.output
    assert sorted(c.recipients[0] for c in running_relay.captured) == [
        "ada@example.org",
        "bob@example.org",
    ]
    assert outbox.lookup(first) is not None
    bad = sorted(p.name for p in (outbox.root / "bad").iterdir())
    assert bad == sorted([*names, *(f"{name}.reason" for name in names)])
    reasons = [(outbox.root / "bad" / f"{name}.reason").read_text() for name in names]
    assert "next_try is not a number" in reasons[0]
    assert "nested too deep" in reasons[1]
    assert "directory" in reasons[2].lower()
    again = CliRunner().invoke(main, ["deliver", "--once"])  # reported once, then gone
    assert again.exit_code == 0, again.output
