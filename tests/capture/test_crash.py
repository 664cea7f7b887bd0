"""A 250 from `quizmail capture` means the message survives the process being killed."""

from __future__ import annotations

import signal
import smtplib
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from capture_helpers import QUIZMAIL, assert_port_in_use_error, free_port

from app.store import MailStore


@contextmanager
def capture_process(mailbox: Path, *options: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [QUIZMAIL, "capture", "--port", str(port), "--mailbox", str(mailbox), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "SMTP capture on" in process.stdout.readline()
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_every_accepted_message_survives_kill_9(tmp_path: Path) -> None:
    mailbox = tmp_path / "mailbox"
    with (
        capture_process(mailbox) as (process, port),
        smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp,
    ):
        for i in range(30):
            message = f"Subject: n{i}\r\n\r\nbody {i}\r\n"
            smtp.sendmail("ada@example.org", ["a@school.example", "b@school.example"], message)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    with capture_process(mailbox) as (process, port), MailStore(mailbox) as store:
        for rcpt in ("a@school.example", "b@school.example"):
            subjects = [s.subject for s in store.search(to=rcpt, limit=100)]
            assert sorted(subjects) == sorted(f"n{i}" for i in range(30))
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.sendmail("ada@example.org", ["a@school.example"], "Subject: after\r\n\r\nx\r\n")
        assert store.count(to="a@school.example") == 31


def test_sigint_stops_the_capture_server_cleanly(tmp_path: Path) -> None:
    with capture_process(tmp_path / "mailbox") as (process, _):
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0
        assert "Traceback" not in stderr


def test_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with capture_process(tmp_path / "mailbox") as (_, port):
        assert_port_in_use_error(["capture", "--port", str(port)], tmp_path)


def test_policy_and_size_options_reach_the_server(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("teacher@school.example\n")
    options = ["--domains", "school.example,college.example", "--users", str(users)]
    with (
        capture_process(tmp_path / "mailbox", *options, "--max-size", "5000") as (_, port),
        smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp,
    ):
        smtp.ehlo()
        assert smtp.esmtp_features["size"] == "5000"
        refused = smtp.sendmail(
            "ada@example.org",
            ["teacher@school.example", "x@elsewhere.org", "nobody@college.example"],
            "Subject: hi\r\n\r\nhello\r\n",
        )
    assert {rcpt: code for rcpt, (code, text) in refused.items()} == {
        "x@elsewhere.org": 550,
        "nobody@college.example": 550,
    }
