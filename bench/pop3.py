"""RETR throughput of the POP3 server against reading the same Maildir files directly.

1,000 messages of 20 KB are stored for one address; one POP3 session (the stdlib ``poplib``)
retrieves them all. The peer, measured in the same run, reads the same Maildir files with plain
``open().read()``. Printed: both times and the ratio (POP3 throughput / direct read throughput;
the target is ≥ 0.5). A second line measures the same session with a client that reads each
response in large chunks, which separates the server's share from ``poplib``'s line-by-line
parsing. Exits 0.
"""

from __future__ import annotations

import base64
import poplib
import random
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from app.mailstore import MailStore
from app.pop3 import POP3Controller, POP3Server, Users

MESSAGES = 1_000
MESSAGE_SIZE = 20 * 1024
ADDRESS, PASSWORD = "bench@example.org", "bench-pw"
ROUNDS = 3  # best of, for both sides


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


def read_directly(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as f:
            total += len(f.read())
    return total


def retr_with_poplib(port: int) -> int:
    client = poplib.POP3("127.0.0.1", port, timeout=60)
    client.user(ADDRESS)
    client.pass_(PASSWORD)
    total = 0
    for number in range(1, MESSAGES + 1):
        total += client.retr(number)[2]
    client.quit()
    return total


def retr_in_chunks(port: int) -> int:
    """The same session, reading each RETR response in large chunks up to CRLF.CRLF."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.recv(4096)
        sock.sendall(f"USER {ADDRESS}\r\nPASS {PASSWORD}\r\n".encode())
        received = b""
        while received.count(b"\r\n") < 2:
            received += sock.recv(4096)
        total = 0
        for number in range(1, MESSAGES + 1):
            sock.sendall(b"RETR %d\r\n" % number)
            chunks = [sock.recv(65536)]
            while not chunks[-1].endswith(b"\r\n.\r\n"):
                chunks.append(sock.recv(65536))
            total += sum(map(len, chunks))
        sock.sendall(b"QUIT\r\n")
        return total


def best_time(run: Callable[[], int]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = MailStore(Path(tmp) / "mailbox")
        fill(store)
        paths = maildir_files(Path(tmp) / "mailbox")
        users = Users.parse(f"{ADDRESS} {PASSWORD}\n")
        with POP3Controller(POP3Server.over_store(store, users)) as controller:
            direct = best_time(lambda: read_directly(paths))
            pop3 = best_time(lambda: retr_with_poplib(controller.port))
            chunked = best_time(lambda: retr_in_chunks(controller.port))
    megabytes = MESSAGES * MESSAGE_SIZE / 1e6
    print(
        f"{MESSAGES} messages of {MESSAGE_SIZE // 1024} KB ({megabytes:.1f} MB), best of {ROUNDS}"
    )
    print(f"direct Maildir read : {direct * 1000:8.1f} ms  {megabytes / direct:8.1f} MB/s")
    print(f"POP3 RETR (poplib)  : {pop3 * 1000:8.1f} ms  {megabytes / pop3:8.1f} MB/s")
    print(f"POP3 RETR (chunked) : {chunked * 1000:8.1f} ms  {megabytes / chunked:8.1f} MB/s")
    print(f"ratio POP3 (poplib) / direct read  = {direct / pop3:.2f}x (target >= 0.5x)")
    print(f"ratio POP3 (chunked) / direct read = {direct / chunked:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
