"""Fixtures for direct delivery: dnsmasq with one zone of test domains, and their exchangers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import dns.resolver
import pytest
from dns_server import DnsServer, missing_reason
from exchangers import (
    BUSY,
    DOWN,
    GOOD,
    LATER,
    REFUSER,
    SECOND,
    Exchangers,
    start_exchangers,
    stop_exchangers,
)

from app.delivery.direct import DirectOptions
from app.delivery.mx import make_resolver

#: The zone every direct delivery test shares: one record set a case, as dnsmasq options.
RECORDS = [
    # good.test: one MX, up.
    "--mx-host=good.test,mx.good.test,10",
    f"--host-record=mx.good.test,{GOOD}",
    # backup.test: the first host is down, the second greets 421, the third takes it.
    "--mx-host=backup.test,down.backup.test,10",
    "--mx-host=backup.test,busy.backup.test,20",
    "--mx-host=backup.test,last.backup.test,30",
    f"--host-record=down.backup.test,{DOWN}",
    f"--host-record=busy.backup.test,{BUSY}",
    f"--host-record=last.backup.test,{SECOND}",
    # refuse.test: the preferred host refuses with 550, which is final: never the backup.
    "--mx-host=refuse.test,no.refuse.test,10",
    "--mx-host=refuse.test,yes.refuse.test,20",
    f"--host-record=no.refuse.test,{REFUSER}",
    f"--host-record=yes.refuse.test,{GOOD}",
    # unreachable.test: every host is down or busy: the message waits.
    "--mx-host=unreachable.test,down.unreachable.test,10",
    "--mx-host=unreachable.test,busy.unreachable.test,20",
    f"--host-record=down.unreachable.test,{DOWN}",
    f"--host-record=busy.unreachable.test,{BUSY}",
    # implicit.test: no MX, an address: the implicit MX.
    f"--host-record=implicit.test,{SECOND}",
    # null.test: "accepts no mail" (RFC 7505): MX 0 ".", as raw RDATA (preference 0, root).
    "--dns-rr=null.test,15,000000",
    # equal.test: two hosts of one preference, tried in random order.
    "--mx-host=equal.test,a.equal.test,10",
    "--mx-host=equal.test,b.equal.test,10",
    f"--host-record=a.equal.test,{GOOD}",
    f"--host-record=b.equal.test,{SECOND}",
    # alias.test: the MX names an alias (RFC 2181 §10.3 forbids it; followed anyway).
    "--mx-host=alias.test,mail.alias.test,10",
    "--cname=mail.alias.test,mx.good.test",
    # numeric.test: the MX names an IP address, which is no host name (RFC 5321 §5.1).
    "--mx-host=numeric.test,127.0.0.2,10",
    # many.test: fifty MX records, all down.
    *(f"--mx-host=many.test,mx{n}.many.test,{n}" for n in range(50)),
    *(f"--host-record=mx{n}.many.test,{DOWN}" for n in range(50)),
    # later.test: its one host is down until a test starts it (see exchangers.LATER).
    "--mx-host=later.test,mx.later.test,10",
    f"--host-record=mx.later.test,{LATER}",
    # tls.test offers STARTTLS; brokentls.test's first host fails the handshake
    # (test_odd_exchangers.py).
    "--mx-host=tls.test,mx.tls.test,10",
    "--host-record=mx.tls.test,127.0.0.8",
    "--mx-host=brokentls.test,mx.brokentls.test,10",
    "--mx-host=brokentls.test,mx.good.test,20",
    "--host-record=mx.brokentls.test,127.0.0.9",
    # closing.test: its first host takes one message a connection, then says 421
    # (test_odd_exchangers.py).
    "--mx-host=closing.test,mx.closing.test,10",
    "--mx-host=closing.test,mx.good.test,20",
    "--host-record=mx.closing.test,127.0.0.8",
    # xn--bcher-kva.test (bücher.test): an IDN domain, reached by its A-label.
    "--mx-host=xn--bcher-kva.test,mx.good.test,10",
]


@pytest.fixture(scope="session")
def dns_zone() -> Iterator[DnsServer]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with DnsServer(RECORDS) as server:
        yield server


@pytest.fixture
def resolver(dns_zone: DnsServer) -> dns.resolver.Resolver:
    return make_resolver([dns_zone.address], lifetime=2.0)


@pytest.fixture
def exchangers(tmp_path: Path) -> Iterator[Exchangers]:
    running = start_exchangers(tmp_path / "exchangers")
    yield running
    stop_exchangers(running)


@pytest.fixture
def options(resolver: dns.resolver.Resolver, exchangers: Exchangers) -> DirectOptions:
    return DirectOptions(port=exchangers.port, resolver=resolver, timeout=5.0, rng=random.Random(7))
