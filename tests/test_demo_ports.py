"""`quizmail demo` (what `make run` runs) takes its ports from QUIZMAIL_*_PORT when no option
gives them; an option wins."""

from __future__ import annotations

import os
import smtplib
import subprocess
import urllib.request
from pathlib import Path

import pytest
from capture.capture_helpers import QUIZMAIL, free_port

from app.config import DEFAULT_POP3_PORT, DEFAULT_SMTP_PORT, DEFAULT_WEB_PORT
from app.serve import Demo
from app.store import MailStore

BANNER_LINES = 5


def test_ports_left_at_their_defaults_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUIZMAIL_WEB_PORT", "9000")
    monkeypatch.setenv("QUIZMAIL_SMTP_PORT", "2525")
    monkeypatch.setenv("QUIZMAIL_POP3_PORT", "1110")
    demo = Demo(web_port=DEFAULT_WEB_PORT, smtp_port=DEFAULT_SMTP_PORT, pop3_port=DEFAULT_POP3_PORT)
    assert (demo.web_port, demo.smtp_port, demo.pop3_port) == (9000, 2525, 1110)


def test_an_option_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIZMAIL_WEB_PORT", "9000")
    assert Demo(web_port=8080).web_port == 8080


def test_without_the_environment_the_defaults_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QUIZMAIL_WEB_PORT", "QUIZMAIL_SMTP_PORT", "QUIZMAIL_POP3_PORT"):
        monkeypatch.delenv(name, raising=False)
    demo = Demo()
    assert (demo.web_port, demo.smtp_port, demo.pop3_port) == (
        DEFAULT_WEB_PORT,
        DEFAULT_SMTP_PORT,
        DEFAULT_POP3_PORT,
    )


@pytest.mark.parametrize("raw", ["http", "0", "65536", "80.5"])
def test_a_bad_port_is_a_one_line_error(tmp_path: Path, raw: str) -> None:
    env = {**os.environ, "QUIZMAIL_WEB_PORT": raw}
    done = subprocess.run(
        [QUIZMAIL, "demo"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=60,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: QUIZMAIL_WEB_PORT must be a port number from 1 to 65535, not {raw!r}"
    )


def test_make_run_listens_where_the_environment_says(tmp_path: Path) -> None:
    """The demo as `make run` starts it: no option, every port from the environment."""
    web, smtp, pop3 = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "QUIZMAIL_WEB_PORT": str(web),
        "QUIZMAIL_SMTP_PORT": str(smtp),
        "QUIZMAIL_POP3_PORT": str(pop3),
        "QUIZMAIL_INSTRUCTOR_PASSWORD": "kept across runs",
    }
    process = subprocess.Popen(
        [QUIZMAIL, "demo"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        banner = "".join(process.stdout.readline() for _ in range(BANNER_LINES))
        assert f"http://127.0.0.1:{web}/instructor/  (password: kept across runs)" in banner
        assert f"SMTP:        127.0.0.1:{smtp}," in banner
        assert f"POP3:        127.0.0.1:{pop3}," in banner
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=10) as response:
            assert response.status == 200
        with smtplib.SMTP("127.0.0.1", smtp, timeout=10) as client:
            client.sendmail("ada@example.org", ["t@school.example"], "Subject: hi\r\n\r\nhi\r\n")
        with MailStore(tmp_path / "var" / "mailbox") as store:
            assert store.count(to="t@school.example") == 1
    finally:
        process.terminate()
        process.communicate(timeout=30)
