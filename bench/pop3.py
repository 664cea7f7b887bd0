"""RETR throughput of the POP3 server against reading the same Maildir files directly.

1,000 messages of 20 KB (each with lines that start with ".", so every RETR is byte-stuffed) are
stored for one address. ``quizmail pop3`` serves them from a process of its own, as deployed,
and three clients retrieve all of them over one POP3 session each:

- pipelined (the headline): every RETR and the QUIT in one write (RFC 2449 PIPELINING), the
  replies read with ``recv_into`` into one large buffer, each un-stuffed and compared with the
  stored file as soon as it is all there. No round trip per message: it shows what the server
  delivers when the client is not the limit.
- one at a time: RETR, read the reply in large chunks up to CRLF.CRLF, un-stuff, compare, next:
  a loopback round trip per message on top of the server's work. Between two processes on an
  otherwise idle virtual machine a round trip can take ~100 µs (waking an idle CPU), ~20 µs
  when the CPUs are busy anyway: this client and poplib vary with the machine more than the rest.
- ``poplib``, the stdlib client, as the independent peer: its RETR reads the reply line by line
  (``readline`` about 270 times for a 20 KB message), which costs it more than the server spends,
  so its ratio says more about ``poplib`` than about the server. Its messages are compared after
  the clock stops.

The direct read, the reference, reads the same files in the same run two ways: ``os.open`` plus
one ``os.read`` of the size listed beforehand (as the server reads them) and ``open().read()``;
the ratios use the faster. Ratio = direct read time / POP3 time (1.0: as fast as reading the
files; target ≥ 0.5). Rounds alternate the measurements so that load from other jobs on a shared
machine hits them alike; printed are medians over the rounds, the median of each round's ratios
and the load average before and after. Exits 0, or 1 if any message came back different.

``--thread`` runs the server on a thread of the benchmark's process instead. Client and server
then take turns with one GIL, and the pipelined client, which un-stuffs while the server still
sends, loses the most (about 29 ms instead of 17 on a quiet machine): the two sides no longer
run at once, and the GIL changes hands at every send and receive.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import poplib
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from app.pop3 import POP3Controller, POP3Server, Users
from app.store import MailStore

MESSAGES = 1_000
MESSAGE_SIZE = 20 * 1024
ADDRESS, PASSWORD = "bench@example.org", "bench-pw"
ROUNDS = 7
DIRECT_TRIES = 3  # per round: a read of all the files takes ~5 ms, so one hiccup would skew it
TARGET = 0.5
LF = 0x0A


class Mismatch(Exception):
    """A client got back something other than the stored message."""


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


def maildir_files(store: MailStore) -> list[Path]:
    """The files in the order POP3 numbers them (oldest first)."""
    found = {p.name.split(":", 1)[0]: p for p in store.root.rglob("*") if p.parent.name == "new"}
    return [found[key] for key in store.keys(ADDRESS)]


# --- the direct read ------------------------------------------------------------------------------


def read_with_open(paths: list[Path]) -> float:
    """Seconds to read every file with plain ``open().read()``."""
    start = time.perf_counter()
    for path in paths:
        with open(path, "rb") as f:
            f.read()
    return time.perf_counter() - start


def read_with_os_read(files: list[tuple[str, int]]) -> float:
    """Seconds to read every file with one ``os.read`` of its known size, and one to see EOF."""
    start = time.perf_counter()
    for path, size in files:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.read(fd, size)
            os.read(fd, 65536)
        finally:
            os.close(fd)
    return time.perf_counter() - start


# --- the POP3 clients -----------------------------------------------------------------------------


def unstuff(data: bytearray, pos: int, end: int) -> tuple[bytes, int] | None:
    """The body of the multi-line reply at ``data[pos:end]`` with its stuffing dots removed
    (RFC 1939 §3), and where the next reply starts; None if the reply is not all there yet.

    Only a "." can begin the terminator or a stuffed line, so the scan jumps from dot to dot
    (``find`` of one byte is a memchr) instead of going line by line.
    """
    eol = data.find(b"\r\n", pos, end)
    if eol < 0:
        return None
    if not data.startswith(b"+OK", pos):
        raise Mismatch(bytes(data[pos:eol]))
    view = memoryview(data)
    start = eol + 2  # the body begins after the status line
    pieces = []
    at = data.find(b".", start, end)
    while at >= 0:
        if data[at - 1] == LF:  # the dot starts a line
            if end - at < 3:
                return None  # "." CRLF or a stuffed dot: the octets that tell are yet to come
            pieces.append(view[start:at])
            if data.startswith(b"\r\n", at + 1):  # "." CRLF: the end of the reply
                return b"".join(pieces), at + 3
            start = at + 1  # a stuffed dot: drop it
        at = data.find(b".", at + 1, end)
    return None


def session(port: int) -> socket.socket:
    """A logged-in raw connection (greeting and login replies read)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(f"USER {ADDRESS}\r\nPASS {PASSWORD}\r\n".encode())
    received = b""
    while received.count(b"\r\n") < 3:
        received += sock.recv(4096)
    if not received.split(b"\r\n")[2].startswith(b"+OK"):
        raise SystemExit(f"login failed: {received!r}")
    return sock


def quit_session(sock: socket.socket) -> None:
    sock.sendall(b"QUIT\r\n")
    sock.recv(4096)  # the session has ended (and unlocked the mailbox) once QUIT is answered


def retr_pipelined(port: int, expected: list[bytes]) -> float:
    """Seconds to send every RETR and QUIT in one write and read the replies, un-stuffing and
    comparing each one as soon as it is all there."""
    total = sum(len(m) for m in expected)
    buffer = bytearray(total + total // 4 + 64 * len(expected) + 4096)  # room for stuffing
    view = memoryview(buffer)
    commands = b"".join(b"RETR %d\r\n" % n for n in range(1, len(expected) + 1)) + b"QUIT\r\n"
    with session(port) as sock:
        start = time.perf_counter()
        sock.sendall(commands)
        pos = end = done = 0
        while received := sock.recv_into(view[end:]):  # the server closes after QUIT
            end += received
            while done < len(expected) and (reply := unstuff(buffer, pos, end)):
                body, pos = reply
                if body != expected[done]:
                    raise Mismatch(f"message {done + 1}")
                done += 1
            if end == len(buffer):
                raise Mismatch("more octets than the messages and their stuffing")
        if done < len(expected) or not buffer.startswith(b"+OK", pos):
            raise Mismatch(f"{done} of {len(expected)} messages, then {bytes(buffer[pos:end])!r}")
        return time.perf_counter() - start


def retr_one_at_a_time(port: int, expected: list[bytes]) -> float:
    """Seconds for RETR, read the reply in large chunks, un-stuff, compare, next RETR."""
    buffer = bytearray(2 * max(map(len, expected)) + 4096)
    view = memoryview(buffer)
    with session(port) as sock:
        start = time.perf_counter()
        for number, message in enumerate(expected, 1):
            sock.sendall(b"RETR %d\r\n" % number)
            end = 0
            while not (reply := unstuff(buffer, 0, end)):
                received = sock.recv_into(view[end:])
                if not received:
                    raise Mismatch(f"message {number}: {bytes(buffer[:end])!r}")
                end += received
            if reply[0] != message:
                raise Mismatch(f"message {number}")
        elapsed = time.perf_counter() - start
        quit_session(sock)
        return elapsed


def retr_with_poplib(port: int, expected: list[bytes]) -> tuple[float, float]:
    """Seconds for the login (the maildrop snapshot) and for RETR of every message."""
    client = poplib.POP3("127.0.0.1", port, timeout=60)
    client.user(ADDRESS)
    start = time.perf_counter()
    client.pass_(PASSWORD)
    login = time.perf_counter()
    replies = [client.retr(number)[1] for number in range(1, len(expected) + 1)]
    done = time.perf_counter()
    client.quit()
    for number, (lines, message) in enumerate(zip(replies, expected, strict=True), 1):
        if b"".join(line + b"\r\n" for line in lines) != message:
            raise Mismatch(f"message {number} (poplib)")
    return login - start, done - login


# --- the report -----------------------------------------------------------------------------------


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def line(name: str, seconds: float, megabytes: float, note: str = "") -> str:
    return f"{name:<28}: {seconds * 1000:7.1f} ms {megabytes / seconds:8.1f} MB/s  {note}".rstrip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def pop3_server(root: Path, users: Path, *, thread: bool) -> Iterator[int]:
    """The POP3 server over the store at *root*, until the block ends; yields its port."""
    if thread:
        pop3 = POP3Server.over_store(MailStore(root), Users.from_file(users))
        with POP3Controller(pop3) as controller:
            yield controller.port
        return
    port = free_port()
    command = [sys.executable, "-c", "from app.cli import main; main()", "pop3", "--port",
               str(port), "--mailbox", str(root), "--pop3-users", str(users)]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.DEVNULL) as server:
        try:
            while server.poll() is None:
                with contextlib.suppress(ConnectionRefusedError):
                    socket.create_connection(("127.0.0.1", port)).close()
                    break
                time.sleep(0.05)
            else:
                raise SystemExit(f"quizmail pop3 exited with status {server.returncode}")
            yield port
        finally:
            server.terminate()


def measure(
    port: int, paths: list[Path], expected: list[bytes], rounds: int
) -> dict[str, list[float]]:
    """Seconds per round for each way of reading the messages."""
    files = [(str(p), len(m)) for p, m in zip(paths, expected, strict=True)]
    retr_pipelined(port, expected)  # warm-up: the server's code paths, the client's buffers
    runs: dict[str, list[float]] = {}
    for _ in range(rounds):
        round_ = {
            "os.read": min(read_with_os_read(files) for _ in range(DIRECT_TRIES)),
            "open().read()": min(read_with_open(paths) for _ in range(DIRECT_TRIES)),
            "pipelined": retr_pipelined(port, expected),
            "one at a time": retr_one_at_a_time(port, expected),
        }
        round_["login"], round_["poplib"] = retr_with_poplib(port, expected)
        round_["direct"] = min(round_["os.read"], round_["open().read()"])
        for name, seconds in round_.items():
            runs.setdefault(name, []).append(seconds)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--thread", action="store_true", help="serve from a thread of this process")
    args = parser.parse_args()
    megabytes = MESSAGES * MESSAGE_SIZE / 1e6
    where = "a thread of this process" if args.thread else "its own process"
    print(f"{MESSAGES} messages of {MESSAGE_SIZE // 1024} KB ({megabytes:.1f} MB), {args.rounds}"
          f" rounds, POP3 served from {where}; load average {load_average()}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        store = MailStore(Path(tmp) / "mailbox")
        fill(store)
        paths = maildir_files(store)
        expected = [p.read_bytes() for p in paths]
        users = Path(tmp) / "users.txt"
        users.write_text(f"{ADDRESS} {PASSWORD}\n")
        with pop3_server(store.root, users, thread=args.thread) as port:
            try:
                runs = measure(port, paths, expected, args.rounds)
            except Mismatch as error:
                print(f"a message came back different: {error}")
                return 1
    median = {name: statistics.median(seconds) for name, seconds in runs.items()}

    def ratio(name: str) -> float:
        return statistics.median(d / s for d, s in zip(runs["direct"], runs[name], strict=True))

    print("medians over the rounds; POP3 times include un-stuffing and comparing every message")
    print(line("direct read, os.read", median["os.read"], megabytes, "(the server's way)"))
    print(line("direct read, open().read()", median["open().read()"], megabytes))
    print(line("POP3 RETR, pipelined", median["pipelined"], megabytes, "(headline)"))
    print(line("POP3 RETR, one at a time", median["one at a time"], megabytes))
    print(line("POP3 RETR, poplib", median["poplib"], megabytes, "(reads line by line)"))
    print(f"{'POP3 login (snapshot)':<28}: {median['login'] * 1000:7.1f} ms")
    print(f"ratio pipelined / direct read     = {ratio('pipelined'):.2f}x"
          f" (headline; target >= {TARGET}x)")  # fmt: skip
    print(f"ratio one at a time / direct read = {ratio('one at a time'):.2f}x")
    print(f"ratio poplib / direct read        = {ratio('poplib'):.2f}x"
          " (bound by poplib's readline)")  # fmt: skip
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
