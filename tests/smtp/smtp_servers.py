"""Servers for the SMTP client to talk to: aiosmtpd, Postfix's smtp-sink, and scripted misfits."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

SHORT = 2.0  # seconds: every wait in these tests; a healthy local server answers in milliseconds


def free_port() -> int:
    """aiosmtpd's Controller cannot take port 0, so pick a free port first."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Capture:
    """An aiosmtpd handler that keeps every message and can refuse chosen recipients."""

    refuse: set[str] = field(default_factory=set)
    messages: list[Envelope] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK: queued"


@contextmanager
def aiosmtpd_server(handler: Capture, **kwargs: Any) -> Iterator[Controller]:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@contextmanager
def smtp_sink(binary: str, *options: str) -> Iterator[int]:
    """Run ``smtp-sink`` on a free loopback port until the block ends; yield the port."""
    port = free_port()
    command = [binary, *options, f"127.0.0.1:{port}", "100"]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "nobody"]  # smtp-sink refuses to run as root without it
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=SHORT)
        assert process.stderr is not None
        process.stderr.close()


def wait_for_port(port: int, deadline: float = 5.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=SHORT).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing is listening on port {port}")


# --- scripted servers that misbehave -------------------------------------------------------------

Script = Callable[["Peer"], None]


class Peer:
    """The server side of one connection, for a script: send lines, read commands."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(SHORT)
        self.buffer = b""
        self.received: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_line(self) -> bytes:
        """Read one line from the client (b"" when it closed)."""
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return b""
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        self.received.append(line)
        return line

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buffer += chunk
        data, _, self.buffer = self.buffer.partition(marker)
        return data

    def ehlo(self, *extensions: str) -> None:
        """Answer the client's EHLO with the given extension lines."""
        self.read_line()
        lines = ["fake.example", *extensions]
        reply = "".join(f"250-{line}\r\n" for line in lines[:-1]) + f"250 {lines[-1]}\r\n"
        self.send(reply.encode())

    def answer(self, reply: bytes) -> bytes:
        line = self.read_line()
        self.send(reply)
        return line


class ScriptedServer:
    """Serves one connection with *script* in a thread; the test ends with the thread joined."""

    def __init__(self, script: Script) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(SHORT)
        self.port = int(self.listener.getsockname()[1])
        self.script = script
        self.error: BaseException | None = None
        self.peer: Peer | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                self.peer = Peer(conn)
                try:
                    self.script(self.peer)
                finally:
                    self.peer.sock.close()  # a script may have wrapped it in TLS
        except (OSError, ssl.SSLError) as exc:
            self.error = exc
        finally:
            self.listener.close()

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(timeout=3 * SHORT)
        assert not self.thread.is_alive(), "the scripted server did not finish"
