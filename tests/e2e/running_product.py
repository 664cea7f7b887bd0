"""The whole product as a real process (`quizmail demo`) and Debian's Chromium to drive it.

Shared by the test fixtures (conftest.py) and by screenshots.py, which runs without pytest.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; never a browser Playwright downloads
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUIZMAIL = Path(sys.executable).parent / "quizmail"
INSTRUCTOR_PASSWORD = "e2e correct horse battery"
START_TIMEOUT = 30.0  # seconds for the demo to answer: a loaded 2-core machine, cold imports
STOP_TIMEOUT = 30.0  # seconds for Ctrl-C to stop every service
HOST = "127.0.0.1"

NewPage = Callable[..., Page]  # a page in a fresh browser context


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class ProductDidNotStart(RuntimeError):
    """`quizmail demo` exited or did not answer in time; the message holds its output."""


@dataclass
class RunningProduct:
    """`quizmail demo` on free ports with its own var directory, until :meth:`stop`."""

    var_dir: Path
    web_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    pop3_port: int = field(default_factory=free_port)
    telnet_port: int = field(default_factory=free_port)
    submission_port: int = field(default_factory=free_port)
    password: str = INSTRUCTOR_PASSWORD
    process: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.web_port}"

    @property
    def log_path(self) -> Path:
        return self.var_dir.parent / "demo.log"

    def start(self) -> RunningProduct:
        command = [str(QUIZMAIL), "demo", "--var", str(self.var_dir)]
        for option, port in (
            ("--web-port", self.web_port),
            ("--smtp-port", self.smtp_port),
            ("--pop3-port", self.pop3_port),
            ("--telnet-port", self.telnet_port),
            ("--submission-port", self.submission_port),
        ):
            command += [option, str(port)]
        env = {**os.environ, "QUIZMAIL_INSTRUCTOR_PASSWORD": self.password}
        with self.log_path.open("w") as log:  # a file, not a pipe: a full pipe would block it
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
            )
        self._wait_until_it_answers()
        return self

    def _wait_until_it_answers(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ProductDidNotStart(f"quizmail demo exited:\n{self.output()}")
            if self._answers():
                return
            time.sleep(0.1)
        self.process.kill()
        raise ProductDidNotStart(
            f"quizmail demo did not answer in {START_TIMEOUT} s:\n{self.output()}"
        )

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int:
        """Ctrl-C, as a person would press it; the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests"
    if shutil.which(str(QUIZMAIL)) is None:
        return f"{QUIZMAIL} is missing: install the project (pip install -e '.[test]')"
    return None


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
