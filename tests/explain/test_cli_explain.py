"""`quizmail send -v --explain` against the capture server: the dialogue, each line explained."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from smtp.smtp_servers import free_port

from app.capture import CaptureServer, RecipientPolicy
from app.cli import main


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[CaptureServer]:
    server = CaptureServer(
        port=free_port(),
        hostname="capture.test",
        mailbox=tmp_path / "mailbox",
        policy=RecipientPolicy(domains=frozenset({"example.com"})),
    )
    server.start()
    yield server
    server.stop()


def send(capture: CaptureServer, *options: str) -> list[str]:
    arguments = ["send", "--server", f"127.0.0.1:{capture.port}", "--from", "a@example.com"]
    arguments += ["--to", "b@example.com", "--to", "c@elsewhere.test", "--subject", "Hi"]
    result = CliRunner().invoke(main, [*arguments, "--body", "Hello", *options])
    assert result.exit_code == 1, result.output  # one recipient refused
    return result.stdout.splitlines()


def test_each_line_is_followed_by_what_it_means(capture: CaptureServer) -> None:
    lines = send(capture, "-v", "--explain")
    assert lines[0] == "S: 220 capture.test QuizMail capture (never relays)"
    assert lines[1].startswith("     = 220: The greeting")
    assert lines[1].endswith("[RFC 5321 §3.1]")
    at = lines.index("S: 550 5.7.1 We do not relay messages")
    assert lines[at - 2] == "C: RCPT TO:<c@elsewhere.test>"  # the reply beside its command
    assert "delivery not authorized, message refused" in lines[at + 2]
    assert any(line.startswith("-- pipelined group 1:") for line in lines)
    assert not any(line.lstrip().startswith("?") for line in lines)  # nothing unknown here


def test_without_explain_the_dialogue_is_bare(capture: CaptureServer) -> None:
    lines = send(capture, "-v")
    assert lines[0].startswith("S: 220 ")
    assert not any(line.startswith("     ") for line in lines)
