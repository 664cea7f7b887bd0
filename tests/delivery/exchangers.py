"""Mail exchangers for the direct delivery tests, each on its own loopback address, one port.

Capture servers (aiosmtpd, the real receiving side) take mail at 127.0.0.2 and 127.0.0.3 (and
127.0.0.7 once a test brings it up) and refuse it with 550 at 127.0.0.6; 127.0.0.4 has nothing
listening (a host that is down), and 127.0.0.5 greets every connection with 421 (a host too
busy), which no real server can be made to do on demand. Linux routes all of 127.0.0.0/8 to
the loopback interface.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from app.capture import CaptureServer, RecipientPolicy
from app.store import MailStore

GOOD, SECOND, DOWN, BUSY, REFUSER = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"
LATER = "127.0.0.7"  # down until a test calls Exchangers.start_later()
EXTRA = ("127.0.0.8", "127.0.0.9")  # for the TLS tests' own servers, on the same port
BUSY_GREETING = b"421 4.3.2 busy.mx.test too busy, try another host\r\n"


def free_port_on(*hosts: str) -> int:
    """A TCP port free on every one of *hosts* (found on the first, checked on the rest)."""
    for _ in range(20):
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            port = int(probe.getsockname()[1])
        if all(_free(host, port) for host in hosts[1:]):
            return port
    raise RuntimeError(f"no port free on all of {hosts}")


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class Greeter:
    """Accepts connections on (host, port) and greets each with *greeting*, then closes it."""

    def __init__(self, host: str, port: int, greeting: bytes) -> None:
        self.listener = socket.create_server((host, port))
        self.listener.settimeout(0.1)
        self.greeting = greeting
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                conn.sendall(self.greeting)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.listener.close()


@dataclass
class Exchangers:
    """The running exchangers, by role, all on :attr:`port`."""

    port: int
    root: Path
    servers: dict[str, CaptureServer] = field(default_factory=dict)
    busy: Greeter | None = None

    def start_later(self) -> None:
        """Bring up the host at :data:`LATER`, down until now."""
        self.servers[LATER] = start_capture(self.root, LATER, self.port, RecipientPolicy())

    def store(self, host: str) -> MailStore:
        return self.servers[host].store

    def received(self, host: str, recipient: str) -> list[bytes]:
        store = self.store(host)
        return [store.get_bytes(key) for key in store.keys(recipient)]

    def total(self, recipient: str) -> int:
        """Copies of mail for *recipient* stored by all exchangers together."""
        return sum(len(self.received(host, recipient)) for host in self.servers)


def start_exchangers(root: Path) -> Exchangers:
    port = free_port_on(GOOD, SECOND, DOWN, BUSY, REFUSER, LATER, *EXTRA)
    running = Exchangers(port, root)
    refuse_all = RecipientPolicy(domains=frozenset({"elsewhere.example"}))
    for host, policy in (
        (GOOD, RecipientPolicy()),
        (SECOND, RecipientPolicy()),
        (REFUSER, refuse_all),
    ):
        server = CaptureServer(root / host, host, port, policy, hostname=f"mx-{host}.test")
        server.start()
        running.servers[host] = server
    running.busy = Greeter(BUSY, port, BUSY_GREETING)
    return running


def start_capture(root: Path, host: str, port: int, policy: RecipientPolicy) -> CaptureServer:
    server = CaptureServer(root / host, host, port, policy, hostname=f"mx-{host}.test")
    server.start()
    return server


def stop_exchangers(running: Exchangers) -> None:
    for server in running.servers.values():
        server.stop()
    if running.busy is not None:
        running.busy.stop()
