"""Messages per second ingested by our capture server against aiosmtpd's own ``Sink`` handler.

Both servers run in turn in this process and are fed the same way: Postfix's ``smtp-source``
(several parallel sessions, several messages per connection) when it is installed, else a few
processes of ``smtplib`` clients. Ours stores and fsyncs every message before its 250 (the index
catches up once deliveries pause); Sink throws it away. The two alternate over several rounds, so
that load from others on a shared machine hits both alike; prints the median rates, the median of
the rounds' ratios (target: ≥ 0.7) and the load average. Exits 0 unless a message went missing.

Sink is bound by the CPU, ours by the file system: every message is a new file (an inode to
allocate, which cost from 20 to 300 µs of kernel time on one test machine depending on the state
of the file system) and has two sync points (the file, then its new/ directory). The store writes
and syncs in batches in two pipelined threads, so concurrent sessions share the journal commits
and the ratio rises with --sessions and with a quieter disk. --dir says where the temporary mail
directory goes (the system's temporary directory by default); with --dir on a tmpfs, where
fsync costs nothing, the ratio shows what the server itself costs.
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

RECIPIENT = "bench@school.example"
PAYLOAD_BYTES = 2000  # about the size of a quiz report's text part
TARGET_RATIO = 0.7
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


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()),
        help="where to make the temporary mail directory (default: the system's temporary one)",
    )  # fmt: skip
    args = parser.parse_args()
    feed = feed_with_smtp_source if SMTP_SOURCE else feed_with_smtplib
    print(f"feeding {args.messages} messages of ~{PAYLOAD_BYTES} bytes over {args.sessions}"
          f" sessions with {'smtp-source' if SMTP_SOURCE else 'smtplib clients'},"
          f" {args.rounds} rounds, mail stored under {args.dir};"
          f" load average {load_average()}")  # fmt: skip
    sinks, ours = [], []
    for n in range(args.rounds):
        sinks.append(measure_sink(feed, args.messages, args.sessions))
        with tempfile.TemporaryDirectory(prefix="quizmail-bench-", dir=args.dir) as tmp:
            ours.append(measure_capture(feed, args.messages, args.sessions, Path(tmp) / "mail"))
        print(f"round {n + 1}: Sink {sinks[-1]:.0f}/s, capture {ours[-1]:.0f}/s,"
              f" ratio {ours[-1] / sinks[-1]:.2f}")  # fmt: skip
    ratio = statistics.median(o / s for o, s in zip(ours, sinks, strict=True))
    print(f"aiosmtpd Sink:      {statistics.median(sinks):8.0f} messages/s (discards)")
    print(f"QuizMail capture:   {statistics.median(ours):8.0f} messages/s"
          " (stored and fsynced before each 250)")  # fmt: skip
    print(f"ratio capture/Sink: {ratio:8.2f} (median of rounds; target >= {TARGET_RATIO})")
    print(f"load average:       {load_average()}")


if __name__ == "__main__":
    main()
