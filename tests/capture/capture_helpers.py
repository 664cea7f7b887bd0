"""Helpers for the capture tests: a bare-socket SMTP client."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.capture import CaptureServer

StartServer = Callable[..., CaptureServer]
QUIZMAIL = str(Path(sys.executable).parent / "quizmail")
USER, PASSWORD = "ada@example.org", "correct horse"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RawClient:
    """An SMTP client on a bare socket, for what smtplib will not do (pipelining, lies)."""

    def __init__(self, port: int) -> None:
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")

    def start_tls(self, context: ssl.SSLContext) -> None:
        """Wrap the connection in TLS (after the server's 220 to STARTTLS)."""
        self.file.close()
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")
        self.file = self.sock.makefile("rb")

    def command(self, line: bytes) -> list[bytes]:
        self.send(line + b"\r\n")
        return self.reply()

    def rest(self) -> bytes:
        """What the server still sends before closing the connection (TimeoutError if it never
        closes it)."""
        try:
            return bytes(self.file.read())
        except (ConnectionResetError, ssl.SSLEOFError):
            return b""

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


def logged(caplog: pytest.LogCaptureFixture, text: str, wait: float = 10.0) -> bool:
    """Whether a log record holding *text* comes (the server logs from its own thread, maybe
    just after the client saw the effect)."""
    deadline = time.monotonic() + wait
    while not any(text in record.getMessage() for record in caplog.records):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def assert_port_in_use_error(args: list[str], cwd: Path) -> None:
    """`quizmail *args` fails at once with a one-line error saying a port is taken."""
    result = subprocess.run(
        [QUIZMAIL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "port is already in use" in result.stderr
