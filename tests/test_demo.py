"""`quizmail demo`: capture server and web app in one process tree, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import smtplib
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from capture.capture_helpers import QUIZMAIL, assert_port_in_use_error, free_port

from app.store import MailStore

BANNER_LINES = 4


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:  # a 404 from the app still answers with its page
        return error.code, error.read().decode()


class RunningDemo:
    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [QUIZMAIL, "demo", *self.free_ports()],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.banner = "".join(self.process.stdout.readline() for _ in range(BANNER_LINES))

    def free_ports(self) -> list[str]:
        """A free port for every service, so that parallel runs and `make run` never collide."""
        self.web_port, self.smtp_port, self.pop3_port = free_port(), free_port(), free_port()
        return [
            *("--web-port", str(self.web_port)),
            *("--smtp-port", str(self.smtp_port)),
            *("--pop3-port", str(self.pop3_port)),
        ]

    def field(self, pattern: str) -> str:
        match = re.search(pattern, self.banner)
        assert match, self.banner
        return match[1]

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        _, stderr = self.process.communicate(timeout=30)
        return self.process.returncode, stderr


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[RunningDemo]:
    env = {**os.environ, "QUIZMAIL_INSTRUCTOR_PASSWORD": "correct horse"}
    running = RunningDemo(tmp_path, env)
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.communicate(timeout=30)


def test_printed_urls_answer(demo: RunningDemo) -> None:
    quiz_url = demo.field(r"Quiz:\s+(\S+)")
    instructor_url = demo.field(r"Instructor:\s+(\S+)")
    assert quiz_url == f"http://127.0.0.1:{demo.web_port}/"
    for url in (quiz_url, instructor_url):
        status, page = fetch(url)
        assert status < 500
        assert "QuizMail" in page


def test_the_given_instructor_password_is_printed(demo: RunningDemo) -> None:
    assert demo.field(r"password: ([^)]+)\)") == "correct horse"


def test_mail_sent_to_the_printed_smtp_port_lands_in_var(demo: RunningDemo, tmp_path: Path) -> None:
    assert demo.field(r"SMTP:\s+(\S+),") == f"127.0.0.1:{demo.smtp_port}"
    with smtplib.SMTP("127.0.0.1", demo.smtp_port, timeout=10) as smtp:
        smtp.sendmail("ada@example.org", ["t@school.example"], "Subject: hi\r\n\r\nhello\r\n")
    with MailStore(tmp_path / "var" / "mailbox") as store:
        assert store.count(to="t@school.example") == 1


def test_ctrl_c_stops_everything_with_exit_0(demo: RunningDemo) -> None:
    returncode, stderr = demo.stop()
    assert returncode == 0
    assert "Traceback" not in stderr
    with socket.socket() as probe:  # the web port is free again
        probe.bind(("127.0.0.1", demo.web_port))


def test_a_password_is_generated_when_none_is_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "QUIZMAIL_INSTRUCTOR_PASSWORD"}
    running = RunningDemo(tmp_path, env)
    try:
        assert len(running.field(r"password: ([^)]+)\)")) >= 12
    finally:
        running.stop()


def test_a_port_in_use_is_a_one_line_error(demo: RunningDemo, tmp_path: Path) -> None:
    args = ["demo", "--web-port", str(demo.web_port), "--smtp-port", str(free_port())]
    args += ["--pop3-port", str(free_port())]
    assert_port_in_use_error(args, tmp_path)


def test_serve_runs_gunicorn_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [QUIZMAIL, "serve", "--port", str(port), "--workers", "1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = None
        for _ in range(300):  # until gunicorn listens, or the process died
            if process.poll() is not None:
                break
            with contextlib.suppress(OSError):
                status, page = fetch(f"http://127.0.0.1:{port}/")
                break
            time.sleep(0.05)
        assert status is not None
        assert status < 500
        assert "QuizMail" in page
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Starting gunicorn" in stderr
    assert "Traceback" not in stderr
