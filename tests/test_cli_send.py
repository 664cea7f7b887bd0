"""`quizmail send` against a real aiosmtpd server: exit codes 0, 1 and 2, and the -v dialogue."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result

from app.cli import main, parse_server


class Inbox:
    """Keeps every message; refuses recipients at nowhere.example with 550."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, _: Any
    ) -> str:
        if address.endswith("@nowhere.example"):
            return "550 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK: queued"


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def server(inbox: Inbox) -> Iterator[str]:
    with socket.socket() as sock:  # aiosmtpd's Controller cannot take port 0
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"127.0.0.1:{port}"
    controller.stop()


def send(*args: str, stdin: str | None = None) -> Result:
    base = ["send", "--from", "ada@example.org", "--subject", "Your results", "--timeout", "5"]
    return CliRunner().invoke(main, [*base, *args], input=stdin)


def test_every_recipient_accepted_exits_0(server: str, inbox: Inbox) -> None:
    result = send("--server", server, "--to", "bob@example.org", "--body", "You scored 8/10.")
    assert result.exit_code == 0, result.output
    assert "sent to bob@example.org" in result.output
    [envelope] = inbox.messages
    message = message_from_bytes(envelope.original_content, policy=policy.default)
    assert message["Subject"] == "Your results"
    assert message.get_content().strip() == "You scored 8/10."


def test_some_recipients_refused_exits_1_naming_them(server: str, inbox: Inbox) -> None:
    result = send(
        "--server", server, "--to", "bob@example.org", "--to", "x@nowhere.example", "--body", "hi"
    )
    assert result.exit_code == 1
    assert "refused <x@nowhere.example>: 550 No such user here" in result.output
    assert inbox.messages[0].rcpt_tos == ["bob@example.org"]


def test_every_recipient_refused_exits_2_with_one_line(server: str) -> None:
    result = send("--server", server, "--to", "x@nowhere.example", "--body", "hi")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "quizmail send: every recipient was refused: <x@nowhere.example>: 550 No such user here"
    ]


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_no_server_exits_2_without_a_traceback(verbose: list[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = send(
        "--server", f"127.0.0.1:{port}", "--to", "bob@example.org", "--body", "hi", *verbose
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.startswith(f"quizmail send: connecting to 127.0.0.1:{port} failed")


def test_verbose_prints_the_dialogue_like_a_textbook(server: str) -> None:
    result = send("--server", server, "--to", "bob@example.org", "--body", "hi", "-v")
    lines = result.output.splitlines()
    assert lines[0].startswith("S: 220 ")
    assert lines[1].startswith("C: EHLO ")
    assert "C: MAIL FROM:<ada@example.org>" in " ".join(lines)
    assert any(
        line.startswith("C: <") and line.endswith(" bytes of message data>") for line in lines
    )
    assert "S: 221 Bye" in lines


def test_the_body_comes_from_a_file_or_standard_input(
    server: str, inbox: Inbox, tmp_path: Path
) -> None:
    body = tmp_path / "body.txt"
    body.write_text("from a file\n", encoding="utf-8")
    assert (
        send("--server", server, "--to", "bob@example.org", "--body-file", str(body)).exit_code == 0
    )
    assert send("--server", server, "--to", "bob@example.org", stdin="from stdin\n").exit_code == 0
    assert b"from a file" in inbox.messages[0].original_content
    assert b"from stdin" in inbox.messages[1].original_content


def test_a_header_injection_attempt_exits_2(server: str, inbox: Inbox) -> None:
    result = send(
        "--server", server, "--to", "bob@example.org\r\nBcc: eve@example.org", "--body", "x"
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert inbox.messages == []


def test_a_password_needs_its_variable(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUIZMAIL_TEST_PASSWORD", raising=False)
    result = send(
        "--server", server, "--to", "b@example.org", "--body", "x",
        "--user", "ada", "--password-env", "QUIZMAIL_TEST_PASSWORD",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "QUIZMAIL_TEST_PASSWORD is not set" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail.example.org", ("mail.example.org", 25)),
        ("mail.example.org:2525", ("mail.example.org", 2525)),
        ("[::1]:2525", ("::1", 2525)),
        ("[::1]", ("::1", 25)),
    ],
)
def test_server_is_host_and_optional_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_server(text, 25) == expected


@pytest.mark.parametrize("text", ["", ":25", "host:port", "host:70000", "host:", "[::1]:x"])
def test_a_bad_server_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HOST"):
        parse_server(text, 25)
