"""What the session log costs the capture server: messages per second with it and without it.

The same capture server runs in turn with the session log on (the default) and off
(``keep_sessions=0``), fed as bench/capture.py feeds it: Postfix's ``smtp-source`` when it is
installed, else processes of ``smtplib`` clients. Two shapes of traffic, since the log's cost
is per line and per session: many messages over each connection (a relay, a busy client), and
one message per connection (a class of students' clients, each connecting once) — the latter
writes a session record for every message. A run's time includes the log's own writing, until
its last record is on disk. Rounds alternate so that load from others on a shared machine hits
both alike; prints the median rates, the median of the rounds' ratios (target: recording costs
at most 10%, a ratio ≥ 0.90) and the load average. On a machine others share, the rates swing
with their load; the CPU time this process (the server's threads: smtp-source is another
process) spends per message swings far less, so it is printed too, with its ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from capture import (
    PAYLOAD_BYTES,
    RECIPIENT,
    SMTP_SOURCE,
    feed_with_smtp_source,
    feed_with_smtplib,
    free_port,
    load_average,
)

from app.capture import CaptureServer
from app.store import MailStore

TARGET_RATIO = 0.90
Feeder = Callable[[int, int, int], None]


def feed_one_per_connection(port: int, messages: int, sessions: int) -> None:
    """smtp-source without -d: it connects anew for every message."""
    subprocess.run(
        [str(SMTP_SOURCE), "-s", str(sessions), "-m", str(messages), "-l", str(PAYLOAD_BYTES),
         "-S", "bench", "-f", "bench@example.org", "-t", RECIPIENT, "-M", "bench.test",
         f"127.0.0.1:{port}"],
        check=True, timeout=600,
    )  # fmt: skip


def measure(
    feed: Feeder, messages: int, sessions: int, mailbox: Path, keep: int
) -> tuple[float, float]:
    """Messages per second into a capture server with (*keep* > 0) or without a session log,
    and the server's CPU microseconds per message."""
    server = CaptureServer(mailbox, "127.0.0.1", free_port(), hostname="bench.test",
                           keep_sessions=keep)  # fmt: skip
    with server:
        started, cpu = time.perf_counter(), time.process_time()
        feed(server.port, messages, sessions)
        server.sessions.flush()  # the log's writing counts: until its last record is written
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with MailStore(mailbox) as store:
        stored = store.count(to=RECIPIENT)
    if stored != messages:
        sys.exit(f"capture stored {stored} of {messages} messages")
    if keep and server.sessions.count() == 0:
        sys.exit("the session log recorded nothing")
    return messages / elapsed, cpu / messages * 1e6


def compare(name: str, feed: Feeder, args: argparse.Namespace) -> float:
    without: list[tuple[float, float]] = []
    with_log: list[tuple[float, float]] = []
    for n in range(args.rounds):
        for keep, runs in ((0, without), (args.keep, with_log)):
            with tempfile.TemporaryDirectory(prefix="quizmail-bench-", dir=args.dir) as tmp:
                runs.append(measure(feed, args.messages, args.sessions, Path(tmp) / "m", keep))
        (rate_off, cpu_off), (rate_on, cpu_on) = without[-1], with_log[-1]
        print(f"  {name} round {n + 1}: without log {rate_off:.0f}/s ({cpu_off:.0f} µs CPU"
              f" a message), with log {rate_on:.0f}/s ({cpu_on:.0f} µs),"
              f" ratio {rate_on / rate_off:.2f}")  # fmt: skip
    ratio = statistics.median(on[0] / off[0] for on, off in zip(with_log, without, strict=True))
    cpu_ratio = statistics.median(off[1] / on[1] for on, off in zip(with_log, without, strict=True))
    print(f"{name}:")
    for label, runs in (("without the session log", without), ("with the session log", with_log)):
        rate, cpu = (statistics.median(run[i] for run in runs) for i in (0, 1))
        print(f"  {label + ':':25}{rate:8.0f} messages/s, {cpu:6.0f} µs of server CPU a message")
    print(f"  ratio with/without:      {ratio:8.2f} messages/s (median of rounds;"
          f" target >= {TARGET_RATIO})")  # fmt: skip
    print(f"  CPU ratio without/with:  {cpu_ratio:8.2f}")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=int, default=5000, help="sessions the log keeps")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where to make the temporary mail directories")  # fmt: skip
    args = parser.parse_args()
    tool = "smtp-source" if SMTP_SOURCE else "smtplib clients"
    print(f"{args.messages} messages of ~{PAYLOAD_BYTES} bytes, {args.sessions} at a time, with"
          f" {tool}, {args.rounds} rounds; load average {load_average()}")  # fmt: skip
    shapes: list[tuple[str, Feeder]] = [
        ("many messages a connection", feed_with_smtp_source if SMTP_SOURCE else feed_with_smtplib)
    ]
    if SMTP_SOURCE:
        shapes.append(("one message a connection", feed_one_per_connection))
    else:
        print("smtp-source is missing (Debian's postfix package): one-message connections skipped")
    ratios = [compare(name, feed, args) for name, feed in shapes]
    print(f"worst ratio: {min(ratios):.2f}; load average {load_average()}")


if __name__ == "__main__":
    main()
