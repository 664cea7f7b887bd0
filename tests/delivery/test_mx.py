"""MX resolution (RFC 5321 §5.1, RFC 7505, RFC 2181 §10.3) against dnsmasq on loopback."""

from __future__ import annotations

import random
import time

import dns.resolver
import pytest
from dns_server import DnsServer, ScriptedDns
from exchangers import GOOD, SECOND
from hypothesis import given
from hypothesis import strategies as st

from app.delivery.direct import MAX_CONNECTIONS, connection_plan
from app.delivery.mx import (
    MAX_EXCHANGERS,
    Exchanger,
    MXRecord,
    Route,
    RouteError,
    make_resolver,
    normalise_domain,
    order_records,
    route,
)


def test_mx_hosts_in_order_of_preference(resolver: dns.resolver.Resolver) -> None:
    found = route("backup.test", resolver)
    assert found.verdict == "mx"
    assert [e.name for e in found.exchangers] == [
        "down.backup.test",
        "busy.backup.test",
        "last.backup.test",
    ]
    assert [e.preference for e in found.exchangers] == [10, 20, 30]
    assert found.exchangers[2].addresses == (SECOND,)


def test_equal_preferences_come_in_random_order(resolver: dns.resolver.Resolver) -> None:
    orders = {
        tuple(e.name for e in route("equal.test", resolver, rng=random.Random(seed)).exchangers)
        for seed in range(20)
    }
    assert orders == {("a.equal.test", "b.equal.test"), ("b.equal.test", "a.equal.test")}


def test_no_mx_means_the_domain_itself(resolver: dns.resolver.Resolver) -> None:
    found = route("implicit.test", resolver)
    assert found.verdict == "implicit"
    assert found.records == ()
    (exchanger,) = found.exchangers
    assert (exchanger.name, exchanger.preference, exchanger.addresses) == (
        "implicit.test",
        0,
        (SECOND,),
    )


def test_nxdomain_is_permanent_with_no_fallback(resolver: dns.resolver.Resolver) -> None:
    with pytest.raises(RouteError) as caught:
        route("nowhere.test", resolver)
    assert caught.value.permanent
    assert caught.value.reply.startswith("550 5.1.2 ")
    assert "does not exist" in str(caught.value)


def test_null_mx_is_permanent_556(resolver: dns.resolver.Resolver) -> None:
    with pytest.raises(RouteError) as caught:
        route("null.test", resolver)
    assert caught.value.permanent
    assert caught.value.reply.startswith("556 5.1.10 ")
    assert "accepts no mail" in str(caught.value)


def test_an_mx_naming_an_alias_is_followed_and_noted(resolver: dns.resolver.Resolver) -> None:
    (exchanger,) = route("alias.test", resolver).exchangers
    assert exchanger.addresses == (GOOD,)
    assert "alias (CNAME) of mx.good.test" in exchanger.notes[0]
    assert "RFC 2181 §10.3" in exchanger.notes[0]


def test_an_mx_naming_an_ip_address_is_unusable(resolver: dns.resolver.Resolver) -> None:
    with pytest.raises(RouteError) as caught:
        route("numeric.test", resolver)
    assert caught.value.permanent
    assert "127.0.0.2 is an IP address, not a host name" in str(caught.value)


def test_fifty_mx_records_are_cut_to_a_bounded_list(resolver: dns.resolver.Resolver) -> None:
    found = route("many.test", resolver)
    assert len(found.records) == 50
    assert [e.preference for e in found.exchangers] == list(range(MAX_EXCHANGERS))
    assert f"only the first {MAX_EXCHANGERS}" in found.notes[0]


def test_an_idn_domain_is_asked_by_its_a_label(resolver: dns.resolver.Resolver) -> None:
    found = route("Bücher.test", resolver)
    assert found.ascii_domain == "xn--bcher-kva.test"
    assert found.exchangers[0].addresses == (GOOD,)


@pytest.mark.parametrize(
    ("domain", "address"),
    [("[127.0.0.3]", "127.0.0.3"), ("[IPv6:::1]", "::1"), ("[IPv6:2001:DB8::1]", "2001:db8::1")],
)
def test_an_address_literal_goes_to_that_address(domain: str, address: str) -> None:
    found = route(domain)  # no DNS at all
    assert found.verdict == "literal"
    assert found.exchangers[0].addresses == (address,)


@pytest.mark.parametrize(
    ("domain", "says"),
    [
        ("", "the domain is empty"),
        (".", "the domain is empty"),
        ("a" * 64 + ".test", "is over 63 octets"),
        ("x." * 130 + "test", "too long"),
        ("exa_mple.test", "not a valid domain name"),
        ("-dash.test", "not a valid domain name"),
        ("xn--zz.test", "not a valid domain name"),
        ("a..test", "not a valid domain name"),
        ("[300.1.2.3]", "not an address literal"),
        ("[::1]", "an IPv6 literal is written [IPv6:…]"),
        ("x" * 100_000, "characters long"),
    ],
)
def test_bad_domains_are_one_line_permanent_errors(domain: str, says: str) -> None:
    with pytest.raises(RouteError) as caught:
        route(domain)
    message = str(caught.value)
    assert caught.value.permanent
    assert says in message
    assert "\n" not in message
    assert len(message) < 300


def test_servfail_is_temporary() -> None:
    with ScriptedDns("servfail") as server, pytest.raises(RouteError) as caught:
        route("example.test", make_resolver([server.address], lifetime=2.0))
    assert not caught.value.permanent
    assert caught.value.reply.startswith("451 4.4.3 ")
    assert "SERVFAIL" in str(caught.value)


def test_a_resolver_that_never_answers_is_a_bounded_temporary_wait() -> None:
    with ScriptedDns("silent") as server:
        started = time.monotonic()
        with pytest.raises(RouteError) as caught:
            route("example.test", make_resolver([server.address], lifetime=0.5))
        waited = time.monotonic() - started
    assert not caught.value.permanent
    assert "no DNS answer" in str(caught.value)
    assert waited < 30  # bounded: not a timing benchmark, only "it came back"


def test_an_mx_host_that_is_an_alias_of_itself_is_unusable() -> None:
    with ScriptedDns("cname-loop") as server, pytest.raises(RouteError) as caught:
        route("loop.test", make_resolver([server.address], lifetime=2.0))
    assert caught.value.permanent
    assert "CNAME loop" in str(caught.value)
    assert server.questions < 10


def test_normalise_domain_lowercases_and_drops_the_final_dot() -> None:
    assert normalise_domain("Example.ORG.") == "example.org"


records = st.lists(
    st.builds(MXRecord, st.integers(0, 65535), st.sampled_from([f"mx{n}.test" for n in range(8)])),
    max_size=30,
)


@given(records, st.randoms(use_true_random=False))
def test_the_order_respects_preference_and_tries_each_host_once(
    found: list[MXRecord], rng: random.Random
) -> None:
    ordered = order_records(found, rng)
    assert [r.preference for r in ordered] == sorted(r.preference for r in ordered)
    hosts = [r.exchange for r in ordered]
    assert len(hosts) == len(set(hosts))  # every host at most once
    assert set(hosts) == {r.exchange for r in found}  # and every host named
    for record in ordered:  # each host at its most preferred record
        assert record.preference == min(
            r.preference for r in found if r.exchange == record.exchange
        )


@given(records, st.randoms(use_true_random=False))
def test_direct_delivery_tries_hosts_in_that_order_each_once(
    found: list[MXRecord], rng: random.Random
) -> None:
    ordered = order_records(found, rng)
    exchangers = tuple(
        Exchanger(r.exchange, r.preference, (f"192.0.2.{n}",)) for n, r in enumerate(ordered)
    )
    planned = Route("x.test", "x.test", "mx", tuple(found), exchangers)
    tried = connection_plan(planned)
    names = [exchanger.name for exchanger, _ in tried]
    assert names == [e.name for e in exchangers][: len(names)]
    assert len(names) == len(set(names))
    assert len(names) == min(len(exchangers), MAX_CONNECTIONS)


def test_a_route_is_kept_for_its_ttl_and_equal_preferences_still_reshuffled() -> None:
    records = [
        "--local-ttl=300",
        "--mx-host=kept.test,a.kept.test,10",
        "--mx-host=kept.test,b.kept.test,10",
        f"--host-record=a.kept.test,{GOOD}",
        f"--host-record=b.kept.test,{SECOND}",
    ]
    with DnsServer(records) as server:
        resolver = make_resolver([server.address], lifetime=1.0)
        first = route("kept.test", resolver)
    # The DNS server is gone: the route comes from what its answers said, for 300 s.
    orders = {
        tuple(e.name for e in route("kept.test", resolver, rng=random.Random(n)).exchangers)
        for n in range(20)
    }
    assert orders == {("a.kept.test", "b.kept.test"), ("b.kept.test", "a.kept.test")}
    assert {e.addresses for e in first.exchangers} == {(GOOD,), (SECOND,)}
