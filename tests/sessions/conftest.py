"""`quizmail capture` as a real process on a free port, and a way to find the session a test
made in its session log."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.store.session_record import SessionRecord
from app.store.sessions import SessionLog

QUIZMAIL = str(Path(sys.executable).parent / "quizmail")
HOST = "127.0.0.1"
START_TIMEOUT = 30.0  # seconds for the server to listen: a loaded 2-core machine, cold imports
SESSION_TIMEOUT = 20.0  # seconds for a finished session to reach the log


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningCapture:
    port: int
    mailbox: Path

    def session(self, marker: str) -> SessionRecord:
        """The session whose dialogue holds *marker* (each test greets with its own name)."""
        log = SessionLog(self.mailbox)
        deadline = time.monotonic() + SESSION_TIMEOUT
        while time.monotonic() < deadline:
            for summary in log.search(limit=500):
                record = log.get(summary.id)
                if any(marker in line.text for line in record.lines):
                    return record
            time.sleep(0.1)
        raise AssertionError(f"no session with {marker!r} reached the log")


def wait_for_session(log: SessionLog) -> SessionRecord:
    """The first session to reach *log* (its connection closes after the client returns)."""
    deadline = time.monotonic() + SESSION_TIMEOUT
    while not (found := log.search(limit=1)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert found, "no session reached the log"
    return log.get(found[0].id)


def _wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("quizmail capture exited at once")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("quizmail capture did not listen in time")


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCapture]:
    mailbox = tmp_path_factory.mktemp("capture") / "mailbox"
    port = free_port()
    command = [QUIZMAIL, "capture", "--port", str(port), "--mailbox", str(mailbox)]
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        _wait_for_port(port, process)
        yield RunningCapture(port, mailbox)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


Connect = Callable[[], socket.socket]


@pytest.fixture
def connect(capture: RunningCapture) -> Connect:
    def make() -> socket.socket:
        return socket.create_connection((HOST, capture.port), timeout=10)

    return make
