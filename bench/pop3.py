"""RETR throughput of the POP3 server against reading the same Maildir files directly.

1,000 messages of 20 KB are stored for one address; one POP3 session (the stdlib ``poplib``)
retrieves them all. The peer, measured in the same run, reads the same Maildir files with plain
``open().read()``. Printed: both times and the ratio (POP3 throughput / direct read throughput;
the target is ≥ 0.5). A second line measures the same session with a client that reads each
response in large chunks, which separates the server's share from ``poplib``'s line-by-line
parsing; a third sends every RETR in one write (PIPELINING), which removes the round trips.
Exits 0.
"""

from __future__ import annotations

import base64
import poplib
import random
import socket
import sys
import tempfile
import time
from pathlib import Path

from app.mailstore import MailStore
from app.pop3 import POP3Controller, POP3Server, Users

MESSAGES = 1_000
MESSAGE_SIZE = 20 * 1024
ADDRESS, PASSWORD = "bench@example.org", "bench-pw"
ROUNDS = 3  # best of, for the POP3 sessions
DIRECT_ROUNDS = 10  # the direct read takes ~10 ms: more tries steady its best on a busy machine


def make_message(number: int, rng: random.Random) -> bytes:
    """A results-like email: headers, a text part with dotted lines, a base64 attachment."""
    head = (
        f"From: QuizMail <quizmail@localhost>\r\nTo: {ADDRESS}\r\n"
        f"Subject: Results {number}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    text = b"Your score: 8/10\r\n.a line that starts with a dot\r\n...\r\n"
    blob = base64.encodebytes(rng.randbytes(MESSAGE_SIZE)).replace(b"\n", b"\r\n")
    return (head + text + blob)[: MESSAGE_SIZE - 2] + b"\r\n"


def fill(store: MailStore) -> None:
    rng = random.Random(8)
    for number in range(MESSAGES):
        store.deliver([ADDRESS], make_message(number, rng))


def maildir_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.parent.name in {"cur", "new"})


def read_directly(paths: list[Path]) -> float:
    """Seconds to read every Maildir file with plain open().read()."""
    start = time.perf_counter()
    for path in paths:
        with open(path, "rb") as f:
            f.read()
    return time.perf_counter() - start


def retr_with_poplib(port: int) -> tuple[float, float]:
    """Seconds for the login (the maildrop snapshot) and for RETR of every message."""
    client = poplib.POP3("127.0.0.1", port, timeout=60)
    client.user(ADDRESS)
    start = time.perf_counter()
    client.pass_(PASSWORD)
    login = time.perf_counter()
    for number in range(1, MESSAGES + 1):
        client.retr(number)
    done = time.perf_counter()
    client.quit()
    return login - start, done - login


def chunked_session(port: int) -> socket.socket:
    """A logged-in raw connection (greeting and login replies read)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(f"USER {ADDRESS}\r\nPASS {PASSWORD}\r\n".encode())
    received = b""
    while received.count(b"\r\n") < 3:
        received += sock.recv(4096)
    if not received.split(b"\r\n")[2].startswith(b"+OK"):
        raise SystemExit(f"login failed: {received!r}")
    return sock


def retr_in_chunks(port: int) -> float:
    """RETR seconds with a client that reads each response in large chunks up to CRLF.CRLF."""
    with chunked_session(port) as sock:
        start = time.perf_counter()
        for number in range(1, MESSAGES + 1):
            sock.sendall(b"RETR %d\r\n" % number)
            received = sock.recv(65536)
            while not received.endswith(b"\r\n.\r\n"):  # the terminator may span two reads
                received = received[-4:] + sock.recv(65536)
        elapsed = time.perf_counter() - start
        sock.sendall(b"QUIT\r\n")
        sock.recv(4096)  # the session has ended (and unlocked the mailbox) once QUIT is answered
        return elapsed


def retr_pipelined(port: int) -> float:
    """RETR seconds with every RETR and the QUIT in one write (RFC 2449 §6.6 PIPELINING)."""
    with chunked_session(port) as sock:
        start = time.perf_counter()
        sock.sendall(b"".join(b"RETR %d\r\n" % n for n in range(1, MESSAGES + 1)) + b"QUIT\r\n")
        while sock.recv(1 << 20):
            pass
        return time.perf_counter() - start


def best(runs: list[float]) -> float:
    return min(runs)


def line(name: str, seconds: float, megabytes: float) -> str:
    return f"{name:<22}: {seconds * 1000:8.1f} ms  {megabytes / seconds:8.1f} MB/s"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = MailStore(Path(tmp) / "mailbox")
        fill(store)
        paths = maildir_files(Path(tmp) / "mailbox")
        users = Users.parse(f"{ADDRESS} {PASSWORD}\n")
        with POP3Controller(POP3Server.over_store(store, users)) as controller:
            port = controller.port
            direct = best([read_directly(paths) for _ in range(DIRECT_ROUNDS)])
            sessions = [retr_with_poplib(port) for _ in range(ROUNDS)]
            chunked = best([retr_in_chunks(port) for _ in range(ROUNDS)])
            pipelined = best([retr_pipelined(port) for _ in range(ROUNDS)])
    login, pop3 = best([s[0] for s in sessions]), best([s[1] for s in sessions])
    megabytes = MESSAGES * MESSAGE_SIZE / 1e6
    print(f"{MESSAGES} messages of {MESSAGE_SIZE // 1024} KB ({megabytes:.1f} MB)")
    print(f"best of {ROUNDS} POP3 sessions, best of {DIRECT_ROUNDS} direct reads")
    print(line("direct Maildir read", direct, megabytes))
    print(line("POP3 RETR, poplib", pop3, megabytes))
    print(line("POP3 RETR, chunked", chunked, megabytes))
    print(line("POP3 RETR, pipelined", pipelined, megabytes))
    print(f"{'POP3 login (snapshot)':<22}: {login * 1000:8.1f} ms")
    print(f"ratio POP3 (poplib) / direct read    = {direct / pop3:.2f}x (target >= 0.5x)")
    print(f"ratio POP3 (chunked) / direct read   = {direct / chunked:.2f}x")
    print(f"ratio POP3 (pipelined) / direct read = {direct / pipelined:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
