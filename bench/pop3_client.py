"""Our POP3 client against Python's poplib and against mpop, downloading from the same Dovecot.

1,000 messages of 20 KB (results-like: a text part with lines that start with ".", so every
RETR is byte-stuffed, and a base64 attachment) sit in a private Dovecot's Maildir
(tests/private_dovecot.py). In each round, in turn:

- ours, into memory: :class:`app.pop3client.POP3Client` logs in and RETRs every message,
  pipelined as Dovecot offers PIPELINING (RFC 2449), each message compared with the one stored;
- ``poplib``, the stdlib client, RETR by RETR (it has no pipelining; it reads line by line);
  its messages are compared after the clock stops;
- ours, into a Maildir: ``app.mua.fetch`` as ``quizmail fetch --maildir`` runs it, each message
  fsynced in tmp/ and renamed into new/, the ids logged, new/ synced in groups;
- ``mpop`` (Debian), into a Maildir (``--delivery=maildir``, ``--keep``, every message, no
  Received field), which fsyncs each message too.

Ratios: poplib's time / ours into memory (target >= 2), and mpop's time / ours into a Maildir
(like for like; target >= 0.7). Printed are medians over the rounds, and the load average before
and after (a shared machine). Without Dovecot (or root, which it needs) the benchmark says so
and exits 0; without mpop it measures the rest. Exits 1 if a message came back different.
"""

from __future__ import annotations

import argparse
import os
import poplib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# After bench/ (this script's folder, first on the path), for the fixture of tests/ only.
sys.path.append(str(Path(__file__).resolve().parent.parent / "tests"))

from pop3 import make_message  # bench/pop3.py: the same results-like messages
from private_dovecot import PrivateDovecot, missing_reason

from app.mua.fetch import fetch
from app.mua.local import Maildir, SeenLog
from app.pop3client import POP3Client

MESSAGES = 1_000
MESSAGE_SIZE = 20 * 1024
USER, PASSWORD = "bench", "bench-pw"
ROUNDS = 5
POPLIB_TARGET = 2.0
MPOP_TARGET = 0.7


class Mismatch(Exception):
    """A client got back something other than the stored message."""


def ours_in_memory(port: int, expected: list[bytes]) -> float:
    start = time.perf_counter()
    with POP3Client("127.0.0.1", port) as pop:
        pop.login(USER, PASSWORD, apop=False)
        for number, message in pop.retrieve(range(1, len(expected) + 1)):
            if message != expected[number - 1]:
                raise Mismatch(f"ours: message {number}")
    return time.perf_counter() - start


def with_poplib(port: int, expected: list[bytes]) -> float:
    start = time.perf_counter()
    pop = poplib.POP3("127.0.0.1", port)
    pop.user(USER)
    pop.pass_(PASSWORD)
    got = [pop.retr(n)[1] for n in range(1, len(expected) + 1)]
    pop.quit()
    seconds = time.perf_counter() - start
    for number, lines in enumerate(got, 1):
        if b"\r\n".join(lines) + b"\r\n" != expected[number - 1]:
            raise Mismatch(f"poplib: message {number}")
    return seconds


def ours_into_maildir(port: int, expected: list[bytes], where: Path) -> float:
    start = time.perf_counter()
    local = Maildir(where / "maildir")
    with SeenLog(where / "uidls", f"{USER}@127.0.0.1:{port}") as seen:
        pop = POP3Client("127.0.0.1", port)
        pop.connect()
        pop.login(USER, PASSWORD, apop=False)
        result = fetch(pop, local, seen)
    seconds = time.perf_counter() - start
    check_maildir(where / "maildir", expected, "ours into a Maildir", result.fetched)
    return seconds


def with_mpop(port: int, expected: list[bytes], where: Path) -> float:
    maildir = where / "maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    command = [
        "mpop", "--host=127.0.0.1", f"--port={port}", f"--user={USER}",
        f"--passwordeval=echo {PASSWORD}", "--auth=user", "--tls=off", "--keep=on",
        "--only-new=off", "--received-header=off", f"--uidls-file={where / 'uidls'}",
        f"--delivery=maildir,{maildir}", "--quiet",
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "HOME": str(where)})
    seconds = time.perf_counter() - start
    check_maildir(maildir, expected, "mpop", None)
    return seconds


def check_maildir(maildir: Path, expected: list[bytes], who: str, count: int | None) -> None:
    files = list((maildir / "new").iterdir())
    stored = {m.replace(b"\r\n", b"\n") for m in expected}
    if len(files) != len(expected) or (count is not None and count != len(expected)):
        raise Mismatch(f"{who}: {len(files)} messages in the Maildir")
    for path in files:
        if path.read_bytes() not in stored:
            raise Mismatch(f"{who}: {path.name}")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(
    port: int, expected: list[bytes], rounds: int, has_mpop: bool
) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {"ours": [], "poplib": [], "ours maildir": [], "mpop": []}
    ours_in_memory(port, expected)  # warm-up: Dovecot builds its index and caches the sizes
    for _ in range(rounds):
        runs["ours"].append(ours_in_memory(port, expected))
        runs["poplib"].append(with_poplib(port, expected))
        runs["ours maildir"].append(in_temporary(lambda d: ours_into_maildir(port, expected, d)))
        if has_mpop:
            runs["mpop"].append(in_temporary(lambda d: with_mpop(port, expected, d)))
    return runs


def in_temporary(run: Callable[[Path], float]) -> float:
    with tempfile.TemporaryDirectory() as where:
        return run(Path(where))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    reason = missing_reason()
    if reason is not None:
        print(f"skipped: {reason}")
        return 0
    has_mpop = shutil.which("mpop") is not None
    megabytes = MESSAGES * MESSAGE_SIZE / 1e6
    print(f"{MESSAGES} messages of {MESSAGE_SIZE // 1024} KB ({megabytes:.1f} MB) from a private "
          f"Dovecot, {args.rounds} rounds; load average {load_average()}")  # fmt: skip
    if not has_mpop:
        print("mpop is not installed (Debian package mpop): its comparison is skipped")
    rng = random.Random(8)
    expected = [make_message(n, rng) for n in range(MESSAGES)]
    with PrivateDovecot({USER: PASSWORD}) as dovecot:
        for message in expected:
            dovecot.deliver(USER, message)
        try:
            runs = measure(dovecot.port, expected, args.rounds, has_mpop)
        except Mismatch as error:
            print(f"a message came back different: {error}")
            return 1
    median = {name: statistics.median(s) for name, s in runs.items() if s}
    for name, label in [
        ("ours", "ours, into memory (pipelined)"),
        ("poplib", "poplib, into memory"),
        ("ours maildir", "ours, into a Maildir (fetch)"),
        ("mpop", "mpop, into a Maildir"),
    ]:
        if name in median:
            seconds = median[name]
            print(f"{label:<32}: {seconds * 1000:8.1f} ms  {megabytes / seconds:7.1f} MB/s")
    print(f"ratio poplib / ours        = {median['poplib'] / median['ours']:.2f}x"
          f" (target >= {POPLIB_TARGET}x)")  # fmt: skip
    if "mpop" in median:
        print(f"ratio mpop / ours (Maildir) = {median['mpop'] / median['ours maildir']:.2f}x"
              f" (target >= {MPOP_TARGET}x)")  # fmt: skip
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
