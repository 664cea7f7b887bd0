"""Helpers for the capture tests: a bare-socket SMTP client."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from app.capture import CaptureServer

StartServer = Callable[..., CaptureServer]
QUIZMAIL = str(Path(sys.executable).parent / "quizmail")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RawClient:
    """An SMTP client on a bare socket, for what smtplib will not do (pipelining, lies)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")

    def reply(self) -> list[bytes]:
        """One reply's lines (RFC 5321 §4.2.1: the last has a space after the code)."""
        lines = []
        while True:
            line = self.file.readline()
            assert line, "connection closed"
            lines.append(line.rstrip(b"\r\n"))
            if line[3:4] != b"-":
                return lines

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def assert_port_in_use_error(args: list[str], cwd: Path) -> None:
    """`quizmail *args` fails at once with a one-line error saying a port is taken."""
    result = subprocess.run(
        [QUIZMAIL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "port is already in use" in result.stderr
