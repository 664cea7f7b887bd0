"""POP3 retrieval from our server against Dovecot's, serving the same messages in the same run.

Two workloads, each served by ``quizmail pop3`` (a process of its own, as deployed) and by a
private Dovecot (tests/private_dovecot.py: ``dovecot-pop3d`` with its own configuration under a
temp dir and its defaults: a login process and a mail process per session) from Maildirs holding
the same files:

- **one session**: 1,000 messages of 20 KB (each with lines that start with ".", so every RETR
  is byte-stuffed) for one address, retrieved over one session by three clients:

  - pipelined (the headline): every RETR and the QUIT in one write (RFC 2449 PIPELINING; both
    servers announce it), the replies read with ``recv_into`` into one large buffer, each
    un-stuffed and compared with the stored file as soon as it is all there. No round trip per
    message: it shows what a server delivers when the client is not the limit.
  - one at a time: RETR, read the reply in large chunks up to CRLF.CRLF, un-stuff, compare,
    next: a loopback round trip per message on top of the server's work (~20 µs between busy
    CPUs, ~100 µs waking an idle one: this client and poplib vary with the machine the most).
  - ``poplib``, the stdlib client, as the independent peer: its RETR reads the reply line by
    line (``readline`` about 270 times for a 20 KB message), which costs it more than either
    server spends, so its ratio says more about ``poplib`` than about the servers.

- **50 sessions**: 50 addresses with 20 of those messages each, all 50 sessions at once (log in,
  RETR all 20, QUIT), timed from the first connection to the last session's end:

  - pipelined: one thread multiplexes the 50 sockets (``selectors``): USER and PASS, then once
    the login is answered every RETR and QUIT in one write, and the replies read into a buffer
    per session until the server closes; un-stuffed and compared after the clock stops, so the
    client's work is little more than ``recv_into``.
  - ``poplib``: 50 threads, one session each, messages compared after the clock stops.

Each measurement is tried three times per round and the fastest kept. Every server gets one
warm-up pass first (Dovecot builds its index and moves new/ to cur/ on a
Maildir's first session; ours learns the sizes). Rounds alternate the servers so that load from
other jobs on a shared machine hits them alike; printed are medians over the rounds, the median
of each round's ratio (ratio = Dovecot's time / ours: above 1.0 ours is faster; targets ≥ 0.8
for one session, ≥ 1.0 for 50) and the load average. Reading the files directly (one ``os.read``
each, as our server reads them) is printed too, as the floor neither server can go below.
Without Dovecot (not installed, or not root) ours is measured alone and the skip is said.
Exits 0, or 1 if any message came back different.

``--thread`` runs our server on a thread of the benchmark's process instead. Client and server
then take turns with one GIL, and the pipelined client, which un-stuffs while the server still
sends, loses the most: the two sides no longer run at once.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import poplib
import random
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from app.pop3 import POP3Controller, POP3Server, Users
from app.store import MailStore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from private_dovecot import PrivateDovecot, missing_reason  # the tests' fixture

MESSAGES = 1_000
MESSAGE_SIZE = 20 * 1024
ADDRESS, PASSWORD = "bench@example.org", "bench-pw"
SESSIONS, PER_SESSION = 50, 20
ROUNDS = 5
#: Tries per round of each measurement, the fastest kept: one takes 5 to 500 ms, and on a
#: shared machine a single hiccup from another job would skew it.
TRIES = 3
TARGET_ONE, TARGET_MANY = 0.8, 1.0
TIMEOUT = 60.0  # seconds any one read may wait: far beyond what a healthy local server takes
LF = 0x0A


class Mismatch(Exception):
    """A client got back something other than the stored message."""


def make_message(number: int, rng: random.Random) -> bytes:
    """A results-like email of MESSAGE_SIZE octets: a text part with dotted lines and a base64
    attachment (as the results email's CSV). The text part is short, as a report's is: the
    store's search index reads every text body, at ~15 ms per 20 KB of text."""
    head = (
        f"From: QuizMail <quizmail@localhost>\r\nTo: {ADDRESS}\r\n"
        f"Subject: Results {number}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="part"\r\n\r\n'
        "--part\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Your score: 8/10\r\n.a line that starts with a dot\r\n...\r\n"
        "--part\r\nContent-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="results.bin"\r\n\r\n'
    ).encode()
    tail = b"\r\n--part--\r\n"
    blob = base64.encodebytes(rng.randbytes(MESSAGE_SIZE)).replace(b"\n", b"\r\n")
    return head + blob[: MESSAGE_SIZE - len(head) - len(tail)].rstrip(b"\r\n") + tail


def student(number: int) -> str:
    return f"student{number:02d}@example.org"


@dataclass
class Mailboxes:
    """What each address holds, as stored by our store (the same files go to Dovecot)."""

    store: MailStore
    messages: dict[str, list[bytes]] = field(default_factory=dict)
    paths: dict[str, list[Path]] = field(default_factory=dict)

    def fill(self, address: str, count: int, rng: random.Random) -> None:
        """Deliver *count* messages to *address*, all submitted at once (they share syncs)."""
        stored = threading.Semaphore(0)
        deliveries = [
            self.store.submit([address], make_message(n, rng), None, lambda _: stored.release())
            for n in range(count)
        ]
        for delivery in deliveries:
            stored.acquire()
            if delivery.error is not None:
                raise delivery.error
        self.paths[address] = maildir_files(self.store, address)
        self.messages[address] = [path.read_bytes() for path in self.paths[address]]


def maildir_files(store: MailStore, address: str) -> list[Path]:
    """The files of *address* in the order POP3 numbers them (oldest first)."""
    found = {p.name.split(":", 1)[0]: p for p in store.root.rglob("*") if p.parent.name == "new"}
    return [found[key] for key in store.keys(address)]


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


def login_commands(user: str) -> bytes:
    return f"USER {user}\r\nPASS {PASSWORD}\r\n".encode()


def session(port: int, user: str = ADDRESS) -> socket.socket:
    """A logged-in raw connection (greeting and login replies read)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.sendall(login_commands(user))
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
    client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
    client.user(ADDRESS)
    start = time.perf_counter()
    client.pass_(PASSWORD)
    login = time.perf_counter()
    replies = [client.retr(number)[1] for number in range(1, len(expected) + 1)]
    done = time.perf_counter()
    client.quit()
    compare_poplib(replies, expected)
    return login - start, done - login


def compare_poplib(replies: list[list[bytes]], expected: list[bytes]) -> None:
    for number, (lines, message) in enumerate(zip(replies, expected, strict=True), 1):
        if b"".join(line + b"\r\n" for line in lines) != message:
            raise Mismatch(f"message {number} (poplib)")


def poplib_session(port: int, user: str, count: int) -> list[list[bytes]]:
    """One whole session (login, RETR of *count* messages, QUIT); the messages' lines."""
    client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
    client.user(user)
    client.pass_(PASSWORD)
    replies = [client.retr(number)[1] for number in range(1, count + 1)]
    client.quit()
    return replies


def sessions_with_poplib(port: int, mailboxes: dict[str, list[bytes]]) -> float:
    """Seconds for a poplib session per mailbox, all at once in threads of their own."""
    with ThreadPoolExecutor(len(mailboxes)) as pool:
        start = time.perf_counter()
        futures = {
            user: pool.submit(poplib_session, port, user, len(messages))
            for user, messages in mailboxes.items()
        }
        replies = {user: future.result() for user, future in futures.items()}
        elapsed = time.perf_counter() - start
    for user, messages in mailboxes.items():
        compare_poplib(replies[user], messages)
    return elapsed


@dataclass
class _Session:
    """One raw session of ``sessions_pipelined``: its socket, what it sent and received."""

    user: str
    sock: socket.socket
    commands: bytes
    buffer: bytearray
    end: int = 0
    logged_in: bool = False


def sessions_pipelined(port: int, mailboxes: dict[str, list[bytes]]) -> float:
    """Seconds for a session per mailbox, all at once on one thread: USER/PASS, then every RETR
    and QUIT in one write once logged in, the replies kept until the server closes and
    compared after the clock stops."""
    selector = selectors.DefaultSelector()
    start = time.perf_counter()
    for user, messages in mailboxes.items():
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sock.setblocking(False)
        sock.send(login_commands(user))  # a few octets: the socket buffer takes them whole
        retrs = b"".join(b"RETR %d\r\n" % n for n in range(1, len(messages) + 1))
        room = 2 * sum(map(len, messages)) + 4096  # stuffing cannot double a message
        selector.register(sock, selectors.EVENT_READ, _Session(user, sock, retrs + b"QUIT\r\n",
                                                               bytearray(room)))  # fmt: skip
    open_sessions = len(mailboxes)
    done: list[_Session] = []
    while open_sessions:
        for key, _ in selector.select(TIMEOUT) or _timed_out():
            one: _Session = key.data
            received = one.sock.recv_into(memoryview(one.buffer)[one.end :])
            one.end += received
            if not received or one.end == len(one.buffer):
                selector.unregister(one.sock)
                one.sock.close()
                done.append(one)
                open_sessions -= 1
            elif not one.logged_in and one.buffer.count(b"\r\n", 0, one.end) >= 3:
                one.logged_in = True
                one.sock.setblocking(True)
                one.sock.sendall(one.commands)  # under a KB: no waiting on a full buffer
                one.sock.setblocking(False)
    elapsed = time.perf_counter() - start
    selector.close()
    for one in done:
        check_session(one.buffer, one.end, mailboxes[one.user], one.user)
    return elapsed


def _timed_out() -> list[tuple[selectors.SelectorKey, int]]:
    raise Mismatch(f"no server reply within {TIMEOUT} s")


def check_session(buffer: bytearray, end: int, expected: list[bytes], user: str) -> None:
    """A whole session's replies: greeting, USER, PASS, each message, QUIT's +OK."""
    lines = buffer.split(b"\r\n", 3)
    if not all(line.startswith(b"+OK") for line in lines[:3]):
        raise Mismatch(f"{user}: login failed: {bytes(buffer[:200])!r}")
    pos = sum(len(line) + 2 for line in lines[:3])
    for number, message in enumerate(expected, 1):
        reply = unstuff(buffer, pos, end)
        if reply is None or reply[0] != message:
            raise Mismatch(f"{user}: message {number}")
        pos = reply[1]
    if not buffer.startswith(b"+OK", pos):
        raise Mismatch(f"{user}: QUIT answered {bytes(buffer[pos:end])!r}")


# --- the servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def quizmail_pop3(root: Path, users: Path, *, thread: bool) -> Iterator[int]:
    """Our POP3 server over the store at *root*, until the block ends; yields its port."""
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


@contextlib.contextmanager
def dovecot_pop3(mailboxes: Mailboxes) -> Iterator[int]:
    """A private Dovecot serving the same files, one Maildir per address; yields its port."""
    with PrivateDovecot(dict.fromkeys(mailboxes.messages, PASSWORD)) as dovecot:
        for user, paths in mailboxes.paths.items():
            for path in paths:  # in POP3's order: Dovecot numbers them as they arrive
                dovecot.deliver(user, path.read_bytes())
        yield dovecot.port


# --- the measurements -----------------------------------------------------------------------------

Workload = Callable[[int], float]


def one_session_workloads(expected: list[bytes]) -> dict[str, Workload]:
    def poplib_retr(port: int) -> float:
        return retr_with_poplib(port, expected)[1]

    return {
        "pipelined": lambda port: retr_pipelined(port, expected),
        "one at a time": lambda port: retr_one_at_a_time(port, expected),
        "poplib": poplib_retr,
    }


def many_session_workloads(mailboxes: dict[str, list[bytes]]) -> dict[str, Workload]:
    return {
        "50 pipelined": lambda port: sessions_pipelined(port, mailboxes),
        "50 poplib": lambda port: sessions_with_poplib(port, mailboxes),
    }


def direct_read(paths: list[Path], expected: list[bytes]) -> float:
    files = [(str(p), len(m)) for p, m in zip(paths, expected, strict=True)]
    return min(read_with_os_read(files) for _ in range(TRIES))


def measure(
    ports: dict[str, int], workloads: dict[str, Workload], rounds: int, extra: Workload
) -> dict[tuple[str, str], list[float]]:
    """Seconds per round for each (server, workload); ``("files", "direct")`` from *extra*."""
    for port in ports.values():  # warm-up: Dovecot's index and cur/, our sizes, both caches
        for workload in workloads.values():
            workload(port)
    runs: dict[tuple[str, str], list[float]] = {}
    for n in range(rounds):
        runs.setdefault(("files", "direct"), []).append(extra(0))
        servers = list(ports.items())
        for server, port in servers if n % 2 == 0 else servers[::-1]:
            for name, workload in workloads.items():
                fastest = min(workload(port) for _ in range(TRIES))
                runs.setdefault((server, name), []).append(fastest)
    return runs


# --- the report -----------------------------------------------------------------------------------


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def report(runs: dict[tuple[str, str], list[float]], workloads: list[str], megabytes: float,
           target: float) -> None:  # fmt: skip
    direct = statistics.median(runs[("files", "direct")])
    print(f"  {'reading the files (os.read)':<34}: {direct * 1000:7.1f} ms"
          f" {megabytes / direct:7.0f} MB/s  (the floor)")  # fmt: skip
    for name in workloads:
        ours = runs[("QuizMail", name)]
        line = f"  {name:<14} QuizMail {statistics.median(ours) * 1000:7.1f} ms"
        if ("Dovecot", name) in runs:
            theirs = runs[("Dovecot", name)]
            ratios = [d / o for d, o in zip(theirs, ours, strict=True)]
            headline = name.endswith("pipelined")
            line += (f"   Dovecot {statistics.median(theirs) * 1000:7.1f} ms"
                     f"   ratio {statistics.median(ratios):5.2f}x"
                     f" ({min(ratios):.2f}-{max(ratios):.2f})"
                     + (f" headline; target >= {target}x" if headline else ""))  # fmt: skip
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--thread", action="store_true", help="serve ours from a thread of this"
                        " process")  # fmt: skip
    args = parser.parse_args()
    no_dovecot = missing_reason()
    megabytes = MESSAGES * MESSAGE_SIZE / 1e6
    where = "a thread of this process" if args.thread else "its own process"
    print(f"{MESSAGES} messages of {MESSAGE_SIZE // 1024} KB ({megabytes:.1f} MB) in one session,"
          f" and {SESSIONS} sessions of {PER_SESSION}; {args.rounds} rounds; ours served from"
          f" {where}; load average {load_average()}")  # fmt: skip
    if no_dovecot:
        print(f"skipping the Dovecot peer: {no_dovecot}")
    rng = random.Random(8)
    with tempfile.TemporaryDirectory() as tmp:
        mailboxes = Mailboxes(MailStore(Path(tmp) / "mailbox"))
        mailboxes.fill(ADDRESS, MESSAGES, rng)
        for number in range(SESSIONS):
            mailboxes.fill(student(number), PER_SESSION, rng)
        users = Path(tmp) / "users.txt"
        users.write_text("".join(f"{user} {PASSWORD}\n" for user in mailboxes.messages))
        one = one_session_workloads(mailboxes.messages[ADDRESS])
        many = many_session_workloads({u: m for u, m in mailboxes.messages.items() if u != ADDRESS})
        many_paths = [p for u, ps in mailboxes.paths.items() if u != ADDRESS for p in ps]
        many_expected = [m for u, ms in mailboxes.messages.items() if u != ADDRESS for m in ms]
        with contextlib.ExitStack() as servers:
            ports = {"QuizMail": servers.enter_context(
                quizmail_pop3(mailboxes.store.root, users, thread=args.thread))}  # fmt: skip
            if not no_dovecot:
                ports["Dovecot"] = servers.enter_context(dovecot_pop3(mailboxes))
            try:
                one_runs = measure(ports, one, args.rounds, lambda _: direct_read(
                    mailboxes.paths[ADDRESS], mailboxes.messages[ADDRESS]))  # fmt: skip
                many_runs = measure(ports, many, args.rounds,
                                    lambda _: direct_read(many_paths, many_expected))  # fmt: skip
            except Mismatch as error:
                print(f"a message came back different: {error}")
                return 1
    print("medians over the rounds; ratio = Dovecot's time / QuizMail's (above 1: ours faster),"
          " the median of the rounds' and their range; client times include un-stuffing and"
          " comparing every message")  # fmt: skip
    print(f"one session, RETR of {MESSAGES} x {MESSAGE_SIZE // 1024} KB:")
    report(one_runs, list(one), megabytes, TARGET_ONE)
    print(f"{SESSIONS} sessions at once, each login + RETR of {PER_SESSION} + QUIT:")
    report(many_runs, list(many), megabytes, TARGET_MANY)
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
