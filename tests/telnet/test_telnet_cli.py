"""`quizmail telnet` on its own, and the demo (what `make run` runs) printing its telnet port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from capture.capture_helpers import QUIZMAIL, assert_port_in_use_error, free_port
from quiz_taking import questions_dir
from telnet_support import TIMED_QUIZ, Client, quiz_number

from app.store import MailStore


def test_quizmail_telnet_serves_the_configured_quizzes_until_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "QUIZMAIL_VAR_DIR": str(tmp_path / "var"),
        "QUIZMAIL_QUESTIONS_DIR": str(questions_dir(tmp_path, timed=TIMED_QUIZ)),
    }
    with quizmail(["telnet", "--port", str(port)], env) as stdout:
        assert stdout.readline() == f"telnet quiz on 127.0.0.1:{port}; Ctrl-C stops.\n"
        with Client(port) as client:
            assert "Question 1 of 2" in client.line(quiz_number(client.greeting, "A timed quiz"))


@contextlib.contextmanager
def quizmail(args: list[str], env: dict[str, str]) -> Iterator[IO[str]]:
    """`quizmail *args` running; its standard output; at the end Ctrl-C stops it cleanly."""
    process = subprocess.Popen(
        [QUIZMAIL, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield process.stdout
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Traceback" not in stderr


def test_a_telnet_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        assert_port_in_use_error(["telnet", "--port", str(port)], tmp_path)


def test_the_demo_prints_its_telnet_port_and_mails_what_is_taken_there(tmp_path: Path) -> None:
    ports = [free_port() for _ in range(4)]
    options = ["--web-port", "--smtp-port", "--pop3-port", "--telnet-port"]
    args = [str(item) for pair in zip(options, ports, strict=True) for item in pair]
    env = {**os.environ, "QUIZMAIL_INSTRUCTOR_PASSWORD": "pw"}
    with quizmail(["demo", *args, "--var", str(tmp_path / "var")], env) as stdout:
        banner = "".join(stdout.readline() for _ in range(6))
        telnet = ports[3]
        assert f"Telnet:      127.0.0.1:{telnet}, a quiz over `telnet 127.0.0.1 {telnet}`" in banner
        with Client(telnet) as client:
            client.line(quiz_number(client.greeting, "DNS essentials"))
            client.line("submit")
            assert "Score:  0 of" in client.line("submit")
            assert "handed to the mail server" in client.line("email ada@example.org")
        with MailStore(tmp_path / "var" / "mailbox") as store:
            assert store.count(to="ada@example.org") == 1
