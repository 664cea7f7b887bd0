"""A capture server (SMTP) and our POP3 server over the same mail store, as ``quizmail demo``
runs them, for the terminal client and ``quizmail fetch``; and a way to run ``quizmail``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from private_dovecot import free_port

from app.capture import CaptureServer
from app.mail import build_message
from app.pop3 import POP3Controller, POP3Server, Users

QUIZMAIL = str(Path(sys.executable).parent / "quizmail")
ADA, PASSWORD = "ada@example.org", "ada-pw"


@dataclass
class MailServers:
    capture: CaptureServer
    pop3: POP3Controller

    @property
    def pop3_address(self) -> str:
        return f"127.0.0.1:{self.pop3.port}"

    @property
    def smtp_address(self) -> str:
        return f"127.0.0.1:{self.capture.port}"

    def deliver(self, subject: str, text: str = "Hello.\n", **options: object) -> None:
        message = build_message(
            sender=("Quiz Mail", "quizmail@example.org"),
            to=ADA,
            subject=subject,
            text=text,
            **options,  # type: ignore[arg-type]
        )
        self.capture.store.deliver([ADA], message)

    def count(self) -> int:
        return len(self.capture.store.keys(ADA))


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[MailServers]:
    capture = CaptureServer(tmp_path / "mailbox", port=free_port(), hostname="capture.test")
    users = Users.parse(f"{ADA} {PASSWORD}\nbob@example.org bob-pw\n")
    pop3 = POP3Controller(POP3Server.over_store(capture.store, users, login_delay=0.01))
    with capture, pop3:
        yield MailServers(capture, pop3)


def quizmail(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [QUIZMAIL, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )
