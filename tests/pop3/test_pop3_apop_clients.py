"""curl and s-nail, clients that choose APOP whenever the greeting offers it (RFC 1939 §7) and
never fall back to USER/PASS, against ``quizmail pop3`` with hashed passwords."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from capture.capture_helpers import QUIZMAIL, free_port

from app.pop3 import hash_password
from app.store import MailStore

from .conftest import ADA, ADA_MAIL, PASSWORDS

CURL, SNAIL = shutil.which("curl"), shutil.which("s-nail")
START_TIMEOUT = 15.0  # seconds for `quizmail pop3` to listen
CLIENT_TIMEOUT = 30  # seconds for one client run
CURL_LOGIN_DENIED = 67  # curl's exit code for a refused login

needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")
needs_snail = pytest.mark.skipif(SNAIL is None, reason="s-nail is not installed (make system-deps)")

Serve = Callable[..., int]


def users_file(path: Path, *, hashed: bool) -> Path:
    """ADA and the instructor, with hashed passwords (cheap ones) or plain text."""
    names = {ADA: PASSWORDS[ADA], "instructor": PASSWORDS["instructor"]}
    lines = [f"{n} {hash_password(pw, work=1024) if hashed else pw}" for n, pw in names.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise AssertionError(f"quizmail pop3 did not listen on {port}")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """``serve(hashed=…, *options)`` runs ``quizmail pop3`` over a store with ADA's mail."""
    store = MailStore(tmp_path / "mailbox")
    store.deliver([ADA], ADA_MAIL[0])
    with contextlib.ExitStack() as stack:

        def start(*options: str, hashed: bool = True) -> int:
            port = free_port()
            users = users_file(tmp_path / f"users-{port}.txt", hashed=hashed)
            command = [QUIZMAIL, "pop3", "--port", str(port), "--mailbox", str(store.root)]
            command += ["--pop3-users", str(users), *options]
            process = stack.enter_context(subprocess.Popen(command, stdout=subprocess.DEVNULL))
            stack.callback(process.send_signal, signal.SIGTERM)
            wait_listening(port, process)
            return port

        yield start


def curl(port: int, user: str, *options: str) -> subprocess.CompletedProcess[bytes]:
    assert CURL is not None
    command = [CURL, "-s", "-u", f"{user}:{PASSWORDS[user.partition('+')[0]]}", *options]
    command.append(f"pop3://127.0.0.1:{port}/1")
    return subprocess.run(command, capture_output=True, timeout=CLIENT_TIMEOUT, check=False)


def retrieved(done: subprocess.CompletedProcess[bytes]) -> bytes:
    assert done.returncode == 0, done.stderr
    return done.stdout


@needs_curl
@pytest.mark.parametrize("user", [ADA, f"instructor+{ADA}"])
def test_curl_logs_in_to_a_hashed_account(serve: Serve, user: str) -> None:
    assert retrieved(curl(serve(), user)) == ADA_MAIL[0]


@needs_curl
def test_curl_still_uses_apop_when_every_password_is_plain(serve: Serve) -> None:
    port = serve(hashed=False)
    assert retrieved(curl(port, ADA, "--login-options", "AUTH=+APOP")) == ADA_MAIL[0]


@needs_curl
def test_no_apop_turns_it_off_for_plain_passwords(serve: Serve) -> None:
    port = serve("--no-apop", hashed=False)
    assert curl(port, ADA, "--login-options", "AUTH=+APOP").returncode != 0
    assert retrieved(curl(port, ADA)) == ADA_MAIL[0]  # USER/PASS


@needs_curl
def test_apop_forced_on_hashed_passwords_locks_curl_out(serve: Serve) -> None:
    # What --apop costs (docs/pop3.md): curl sends APOP, which no hash can answer.
    assert curl(serve("--apop"), ADA).returncode == CURL_LOGIN_DENIED


def snail_headers(port: int, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """s-nail in batch mode, no rc files, APOP left to its default (used when offered)."""
    assert SNAIL is not None
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    command = [SNAIL, "-:/", "-N", "-R", "-#", "-S", "v15-compat"]
    # v15-compat: password-HOST, where HOST is server:port (man s-nail, credential lookup).
    command += ["-S", f"password-127.0.0.1:{port}={PASSWORDS[ADA]}"]
    command += [
        "-Y",
        "headers",
        "-Y",
        "quit",
        "-f",
        f"pop3://{ADA.replace('@', '%40')}@127.0.0.1:{port}",
    ]
    env = {**os.environ, "HOME": str(home), "LC_ALL": "C"}
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=CLIENT_TIMEOUT,
        check=False,
    )


@needs_snail
def test_s_nail_logs_in_to_a_hashed_account_and_lists_the_message(
    serve: Serve, tmp_path: Path
) -> None:
    done = snail_headers(serve(), tmp_path)
    assert "APOP" not in done.stderr
    assert "quizmail@localh" in done.stdout, done.stderr  # the header line of message 1
    assert " one" in done.stdout


@needs_snail
def test_s_nail_fails_when_apop_is_forced_on_hashed_passwords(serve: Serve, tmp_path: Path) -> None:
    done = snail_headers(serve("--apop"), tmp_path)
    assert "APOP authentication failed" in done.stderr
    assert "quizmail@localh" not in done.stdout
