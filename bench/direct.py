"""Direct delivery: 200 messages to 20 domains, QuizMail's direct delivery against smtplib.

The same 200 messages of 2 KB (10 recipients in each of 20 domains, one recipient a message) go
out, in the same run, two ways:

- ours: :func:`app.delivery.direct.deliver_direct` with all 200; it asks DNS (dnsmasq on
  loopback) for each domain's MX and its address, then sends that domain's 10 messages over one
  connection, pipelined (RFC 2920: each message's content written with the next one's envelope),
  domain by domain as smtplib does, and then several domains at once as the deliverer does.
  DNS answers are kept for their TTL (300 s here, common for MX records), so the first round
  asks dnsmasq and the others mostly do not; a last line asks DNS afresh every round;
- smtplib: for each domain, one connection to the same exchanger, told its address (no DNS), and
  ``sendmail`` once per message: four round trips a message, as any smtplib user has.

Each domain's exchanger is its own loopback address (127.0.0.10 … 127.0.0.29), all served by
one Postfix ``smtp-sink`` (PIPELINING) listening on every address; without smtp-sink an aiosmtpd
process serves instead (no PIPELINING), and without dnsmasq the recipients are address literals
(``user@[127.0.0.10]``, no DNS): the script says which. Rounds alternate who goes first; the
ratio printed is the median of the rounds' ratios (smtplib's time / ours), target ≥ 1.5x.

    .venv/bin/python bench/direct.py [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from dns_server import DnsServer, missing_reason

from app.delivery.direct import PARALLEL_DOMAINS, DirectOptions, deliver_direct
from app.delivery.mx import make_resolver

DOMAINS = 20
PER_DOMAIN = 10
SENDER = "bench@school.example"
TIMEOUT = 30.0
TARGET = 1.5


def exchanger(n: int) -> str:
    return f"127.0.0.{10 + n}"


def two_kilobyte_message(recipient: str) -> bytes:
    head = f"From: {SENDER}\r\nTo: {recipient}\r\nSubject: Your results\r\n\r\n".encode()
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    body = line * ((2048 - len(head)) // len(line) + 1)
    return (head + body)[:2046] + b"\r\n"


def recipients(with_dns: bool) -> list[tuple[int, str]]:
    """(domain number, address) for every message."""
    return [
        (n, f"s{k}@d{n}.bench.test" if with_dns else f"s{k}@[{exchanger(n)}]")
        for n in range(DOMAINS)
        for k in range(PER_DOMAIN)
    ]


def zone() -> list[str]:
    return [
        "--local-ttl=300",  # as MX records commonly have (dnsmasq's own default is 0)
        *(
            record
            for n in range(DOMAINS)
            for record in (
                f"--mx-host=d{n}.bench.test,mx.d{n}.bench.test,10",
                f"--host-record=mx.d{n}.bench.test,{exchanger(n)}",
            )
        ),
    ]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def exchangers(port: int) -> Iterator[str]:
    """One server on every loopback address at *port*; yields what it is."""
    sink = shutil.which("smtp-sink") or shutil.which("smtp-sink", path="/usr/sbin")
    if sink is not None:
        command = [sink, f"0.0.0.0:{port}", "1000"]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "nobody"]  # smtp-sink will not run as root without it
        name = "Postfix smtp-sink (PIPELINING)"
    else:
        serve = "from aiosmtpd.controller import Controller; import sys, types;"
        serve += "h = types.SimpleNamespace();"
        serve += f"c = Controller(h, hostname='0.0.0.0', port={port}); c.start(); sys.stdin.read()"
        command = [sys.executable, "-c", serve]
        name = "aiosmtpd (smtp-sink is not installed: no PIPELINING)"
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(port)
        yield name
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for(port: int) -> None:
    import socket

    for _ in range(250):
        try:
            socket.create_connection((exchanger(0), port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"no exchanger started on port {port}")


def ours(items: list[tuple[bytes, str, list[str]]], options: DirectOptions) -> float:
    start = time.perf_counter()
    results = deliver_direct(items, options)
    elapsed = time.perf_counter() - start
    unsent = [r for r in results if r.addresses("sent") != list(r.recipients)]
    if unsent:
        raise SystemExit(f"direct delivery: {len(unsent)} not sent: {unsent[0].recipients}")
    return elapsed


def theirs(items: list[tuple[bytes, str, list[str]]], port: int, hosts: list[int]) -> float:
    start = time.perf_counter()
    for n in range(DOMAINS):
        mine = [item for item, host in zip(items, hosts, strict=True) if host == n]
        with smtplib.SMTP(exchanger(n), port, local_hostname="bench.example", timeout=TIMEOUT) as c:
            for message, sender, to in mine:
                c.sendmail(sender, to, message)
    return time.perf_counter() - start


@dataclass
class Bench:
    """The messages, where each one's exchanger listens, and how many rounds to run."""

    items: list[tuple[bytes, str, list[str]]]
    hosts: list[int]  # the domain number of each message
    port: int
    rounds: int

    def compare(self, ways: dict[str, Callable[[], DirectOptions]]) -> None:
        """Rounds of smtplib and each of our *ways*, in an order that turns each round (the
        machine's speed drifts: every way must meet the same drift); per way, the median rates
        and the median of the rounds' ratios."""
        runs: dict[str, Callable[[], float]] = {
            "smtplib": lambda: theirs(self.items, self.port, self.hosts)
        }
        for what, options in ways.items():
            runs[what] = lambda options=options: ours(self.items, options())  # type: ignore[misc]
        samples: dict[str, list[float]] = {who: [] for who in runs}
        names = list(runs)
        for number in range(self.rounds):
            turn = number % len(names)
            for who in names[turn:] + names[:turn]:
                samples[who].append(runs[who]())
        count = len(self.items)
        stdlib = samples.pop("smtplib")
        print(f"{'smtplib':>30}: {count / statistics.median(stdlib):6.0f} msg/s")
        for what, times in samples.items():
            ratio = statistics.median(t / o for o, t in zip(times, stdlib, strict=True))
            verdict = "meets" if ratio >= TARGET else "BELOW"
            print(
                f"{what:>30}: {count / statistics.median(times):6.0f} msg/s   ratio {ratio:4.2f}x "
                f"({verdict} the {TARGET:.1f}x target)"
            )
        print(f"load average {os.getloadavg()[0]:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=24, help="rounds each; ratios' median kept")
    args = parser.parse_args()
    port = free_port()
    with ExitStack() as stack:
        reason = missing_reason()
        dns_address = None if reason else stack.enter_context(DnsServer(zone())).address
        if reason:
            print(f"dnsmasq: skipped ({reason}); recipients are address literals, no DNS")
        name = stack.enter_context(exchangers(port))
        addressed = recipients(with_dns=dns_address is not None)
        items = [(two_kilobyte_message(a), SENDER, [a]) for _, a in addressed]
        bench = Bench(items, [n for n, _ in addressed], port, args.rounds)
        print(f"{len(items)} messages to {DOMAINS} domains, {args.rounds} rounds; {name}")
        resolver = make_resolver([dns_address]) if dns_address else None
        one_by_one = DirectOptions(port, resolver, TIMEOUT, parallel_domains=1)
        at_once = replace(one_by_one, parallel_domains=PARALLEL_DOMAINS)
        ways = {
            "ours, domain by domain": lambda: one_by_one,
            f"ours, {PARALLEL_DOMAINS} domains at once": lambda: at_once,
        }
        if dns_address is not None:
            address = dns_address  # a new resolver each round: every answer asked for
            ways["ours, no DNS cache"] = lambda: replace(
                one_by_one, resolver=make_resolver([address])
            )
        bench.compare(ways)
    return 0


if __name__ == "__main__":
    sys.exit(main())
