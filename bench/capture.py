"""Messages per second stored by our capture server against Postfix, and against aiosmtpd's Sink.

The three servers run in turn in this process's reach and are fed the same way: Postfix's
``smtp-source`` (20 parallel sessions, several messages per connection) when it is installed, else
a few processes of ``smtplib`` clients. Each is timed from the first connection to the moment every
message is in its Maildir:

- QuizMail's capture server stores and fsyncs every message (the file, then its ``new/``
  directory) before its 250, so the last 250 is that moment (the index catches up once
  deliveries pause).
- A private Postfix (tests/private_postfix.py: its own configuration, queue and Maildirs under the
  same temporary directory, Postfix's defaults) is the peer people would choose instead: smtpd
  fsyncs each message into the queue before its 250, then virtual(8) writes it into the
  recipient's Maildir, fsyncs the file and links it into ``new/`` (it does not sync the
  directory). The clock runs until ``new/`` holds every message. Skipped, with the reason, where
  Postfix cannot run (not installed, or not root).
- aiosmtpd's ``Sink`` throws every message away: what the SMTP dialogue alone costs in Python.

The servers alternate over several rounds, so that load from others on a shared machine hits them
alike; printed are the median rates, the medians of the rounds' ratios (targets: ≥ 1.0× Postfix,
≥ 0.7× Sink) and the load average. Exits 0 unless a message went missing.

Sink is bound by the CPU, the two stores by the file system: every message is a new file (an inode
to allocate, which cost from 20 to 300 µs of kernel time on one test machine depending on the state
of the file system) and has sync points. Ours writes and syncs in batches in two pipelined threads,
so concurrent sessions share the journal commits and the ratio rises with --sessions and with a
quieter disk. --dir says where the temporary mail directories go (the system's temporary
directory by default); with --dir on a tmpfs, where fsync costs nothing, the ratios show what the
servers themselves cost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from app.capture import CaptureServer
from app.store import MailStore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from private_postfix import PrivatePostfix, missing_reason  # the tests' fixture

RECIPIENT = "bench@school.example"
PAYLOAD_BYTES = 2000  # about the size of a quiz report's text part
TARGET_RATIO = 0.7  # to Sink
TARGET_POSTFIX = 1.0
#: How often the Maildir is counted while Postfix delivers (a directory listing of at most
#: a few thousand names costs well under a millisecond).
POLL_SECONDS = 0.002
#: Longer than any delivery of the default run can take, even on a loaded machine.
DELIVERY_TIMEOUT = 300.0
#: Where Debian and Ubuntu install it; /usr/sbin is not on every user's PATH.
SMTP_SOURCE = shutil.which("smtp-source") or shutil.which("smtp-source", path="/usr/sbin")

Feeder = Callable[[int, int, int], None]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def feed_with_smtp_source(port: int, messages: int, sessions: int) -> None:
    subprocess.run(
        [str(SMTP_SOURCE), "-d", "-s", str(sessions), "-m", str(messages), "-l", str(PAYLOAD_BYTES),
         "-S", "bench", "-f", "bench@example.org", "-t", RECIPIENT, "-M", "bench.test",
         f"127.0.0.1:{port}"],
        check=True, timeout=600,
    )  # fmt: skip


def _smtplib_client(port: int, messages: int) -> None:
    body = "Subject: bench\r\n\r\n" + ("x" * 78 + "\r\n") * (PAYLOAD_BYTES // 80)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.test", timeout=60) as smtp:
        for _ in range(messages):
            smtp.sendmail("bench@example.org", [RECIPIENT], body)


def feed_with_smtplib(port: int, messages: int, sessions: int) -> None:
    with ProcessPoolExecutor(sessions) as pool:
        shares = [messages // sessions + (i < messages % sessions) for i in range(sessions)]
        for future in [pool.submit(_smtplib_client, port, share) for share in shares]:
            future.result()


def rate(feed: Feeder, port: int, messages: int, sessions: int) -> float:
    started = time.perf_counter()
    feed(port, messages, sessions)
    return messages / (time.perf_counter() - started)


def measure_sink(feed: Feeder, messages: int, sessions: int) -> float:
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        return rate(feed, port, messages, sessions)
    finally:
        controller.stop()


def measure_capture(feed: Feeder, messages: int, sessions: int, mailbox: Path) -> float:
    server = CaptureServer(mailbox, "127.0.0.1", free_port(), hostname="bench.test")
    with server:
        result = rate(feed, server.port, messages, sessions)
    with MailStore(mailbox) as store:
        stored = store.count(to=RECIPIENT)
    if stored != messages:
        sys.exit(f"capture stored {stored} of {messages} messages")
    return result


def in_maildir(maildir: Path) -> int:
    """How many messages are in *maildir*'s ``new/`` (0 before the Maildir exists)."""
    try:
        with os.scandir(maildir / "new") as entries:
            return sum(1 for _ in entries)
    except FileNotFoundError:
        return 0


def measure_postfix(feed: Feeder, messages: int, sessions: int, parent: Path) -> float:
    """Messages per second from the first connection until all are in the Maildir."""
    with PrivatePostfix(free_port(), maildirs=[RECIPIENT], parent=parent) as postfix:
        maildir = postfix.maildir(RECIPIENT)
        started = time.perf_counter()
        feed(postfix.smtpd_port, messages, sessions)
        deadline = started + DELIVERY_TIMEOUT
        while (count := in_maildir(maildir)) < messages and time.perf_counter() < deadline:
            time.sleep(POLL_SECONDS)
        elapsed = time.perf_counter() - started
        if count != messages:
            sys.exit(f"Postfix delivered {count} of {messages} messages:\n{postfix.log()[-2000:]}")
    return messages / elapsed


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def ratio_of(ours: list[float], peer: list[float]) -> float:
    return statistics.median(o / p for o, p in zip(ours, peer, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()),
        help="where to make the temporary mail directories (default: the system's temporary one)",
    )  # fmt: skip
    args = parser.parse_args()
    feed = feed_with_smtp_source if SMTP_SOURCE else feed_with_smtplib
    no_postfix = missing_reason()
    print(f"feeding {args.messages} messages of ~{PAYLOAD_BYTES} bytes over {args.sessions}"
          f" sessions with {'smtp-source' if SMTP_SOURCE else 'smtplib clients'},"
          f" {args.rounds} rounds, mail stored under {args.dir};"
          f" load average {load_average()}")  # fmt: skip
    if no_postfix:
        print(f"skipping the Postfix peer: {no_postfix}")
    sinks: list[float] = []
    ours: list[float] = []
    postfixes: list[float] = []
    for n in range(args.rounds):
        sinks.append(measure_sink(feed, args.messages, args.sessions))
        with tempfile.TemporaryDirectory(prefix="quizmail-bench-", dir=args.dir) as tmp:
            ours.append(measure_capture(feed, args.messages, args.sessions, Path(tmp) / "mail"))
        if not no_postfix:
            postfixes.append(measure_postfix(feed, args.messages, args.sessions, args.dir))
        postfix_note = (
            f", Postfix {postfixes[-1]:.0f}/s, ratio {ours[-1] / postfixes[-1]:.2f}"
            if postfixes else ""
        )  # fmt: skip
        print(f"round {n + 1}: Sink {sinks[-1]:.0f}/s, capture {ours[-1]:.0f}/s,"
              f" ratio {ours[-1] / sinks[-1]:.2f}{postfix_note}")  # fmt: skip
    print(f"aiosmtpd Sink:         {statistics.median(sinks):8.0f} messages/s (discards)")
    if postfixes:
        print(f"Postfix:               {statistics.median(postfixes):8.0f} messages/s"
              " (queue fsynced before each 250, then into the Maildir, fsynced)")  # fmt: skip
    print(f"QuizMail capture:      {statistics.median(ours):8.0f} messages/s"
          " (in the Maildir and fsynced before each 250)")  # fmt: skip
    if postfixes:
        print(f"ratio capture/Postfix: {ratio_of(ours, postfixes):8.2f}"
              f" (median of rounds; target >= {TARGET_POSTFIX})")  # fmt: skip
    print(f"ratio capture/Sink:    {ratio_of(ours, sinks):8.2f}"
          f" (median of rounds; target >= {TARGET_RATIO})")  # fmt: skip
    print(f"load average:          {load_average()}")


if __name__ == "__main__":
    main()
