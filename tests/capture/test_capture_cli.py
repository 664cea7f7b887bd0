"""`quizmail capture` with TLS, AUTH, faults and retention, as a user starts it; and a one-line
error for every option that cannot be used."""

from __future__ import annotations

import smtplib
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from capture_helpers import QUIZMAIL, free_port

from app.capture.tls import LocalCA
from app.config import persistent_secret
from app.store import MailStore


@contextmanager
def capture(tmp_path: Path, *options: str) -> Iterator[tuple[list[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [QUIZMAIL, "capture", "--port", str(port), "--mailbox", str(tmp_path / "mail"), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        assert "SMTP capture on" in lines[0], process.stderr.read() if process.stderr else ""
        yield lines, port
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
        assert "Traceback" not in stderr


def test_a_submission_port_with_a_local_ca_and_a_generated_login(tmp_path: Path) -> None:
    submission = free_port()
    options = ["--submission-port", str(submission), "--tls-local-ca", "tls"]
    options += ["--auth-login", "quizmail:login-password", "--pop3-port", str(free_port())]
    with capture(tmp_path, *options) as (lines, _):
        ca = LocalCA(tmp_path / "tls")
        password = persistent_secret(tmp_path / "login-password")
        with smtplib.SMTP("127.0.0.1", submission, timeout=10) as smtp:
            smtp.starttls(context=ca.client_context())
            smtp.login("quizmail", password)
            smtp.sendmail("quizmail@localhost", ["t@school.example"], b"Subject: hi\r\n\r\nhi\r\n")
    assert f"{submission} (submission)" in lines[0]
    assert (tmp_path / "login-password").stat().st_mode & 0o077 == 0
    with MailStore(tmp_path / "mail") as store:
        assert store.count(to="t@school.example") == 1


def test_faults_from_a_file_reach_the_server(tmp_path: Path) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("rules:\n  - {stage: mail, reply: 451 4.7.1 Try later, attempts: 1}\n")
    with (
        capture(tmp_path, "--faults", str(faults)) as (_, port),
        smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp,
    ):
        smtp.ehlo("client.test")
        assert smtp.mail("a@example.org")[0] == 451
        assert smtp.mail("a@example.org")[0] == 250  # attempt 2 of this peer and sender


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--submission-port", "2587"], "--submission-port needs a certificate"),
        (["--tls-port", "2465"], "--tls-port needs a certificate (--tls-cert or --tls-local-ca)"),
        (["--auth-login", "quizmail"], "Invalid value for --auth-login: should be NAME:FILE"),
        (["--max-age", "soon"], "Invalid value for --max-age: 'soon' is not an age"),
        (["--max-messages", "0"], "Invalid value for '--max-messages'"),
        (["--faults", "FAULTS"], "FAULTS:2: stage 'helo' is not one of"),
        (["--auth-users", "USERS"], "USERS:1: expected 'address password'"),
        (["--tls-cert", "USERS", "--submission-port", "2587"], "cannot load the TLS certificate"),
        (["--tls-cert", "USERS", "--tls-local-ca", "tls"], "not both"),
    ],
)
def test_an_option_that_cannot_be_used_is_one_line(
    tmp_path: Path, options: list[str], message: str
) -> None:
    (tmp_path / "FAULTS").write_text("rules:\n  - {stage: helo, drop: true}\n")
    (tmp_path / "USERS").write_text("no-password-here\n")
    done = subprocess.run(
        [QUIZMAIL, "capture", "--port", str(free_port()), *options],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode in (1, 2)  # click's usage errors are 2, the others 1
    error = done.stderr.strip().splitlines()[-1]
    assert message in error
    assert "Traceback" not in done.stderr
