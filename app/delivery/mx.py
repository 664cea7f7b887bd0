"""Where mail for a domain goes: the hosts to try, in order, exactly as RFC 5321 §5.1 says.

:func:`route` asks DNS (through dnspython; this module opens no socket of its own) and returns a
:class:`Route`: the MX records as DNS gave them, and the :class:`Exchanger` list in the order to
try, each with its addresses (A, then AAAA). The rules, each where the RFC puts it:

- MX records sorted by preference, lowest first; equal preferences in random order (§5.1) —
  :func:`order_records` is that rule alone, pure, for the property test;
- no MX records but the name exists: the implicit MX, the domain itself, preference 0 (§5.1);
- NXDOMAIN: a permanent failure, no fallback (§5.1 "MUST be reported as an error");
- one MX record of preference 0 naming ``.``: a null MX, the domain takes no mail (RFC 7505 §3):
  permanent, 556 5.1.10 semantics, nothing to connect to;
- SERVFAIL or no answer in time: temporary, the message waits (§5.1, §4.5.4.1);
- an MX naming an IP address names no host: unusable (§5.1, "MUST contain a domain name");
- an MX naming an alias (CNAME) is "outside the scope" of §5.1 and forbidden by RFC 2181 §10.3;
  like Postfix and Exim we follow the alias, and the route says so; an alias loop is unusable;
- MX records present but none usable: an error (§5.1), temporary when a look-up failed for now;
- an address literal (``user@[192.0.2.1]``, §4.1.3) goes to that address, without DNS.

Bad input (empty, over-long, bad labels, invalid IDN) raises :class:`RouteError` with one line
saying what is wrong. Every look-up is bounded (:data:`LOOKUP_SECONDS`) and so is the whole route
(:data:`ROUTE_SECONDS`, :data:`MAX_EXCHANGERS`): a resolver that never answers or a domain with
fifty MX records costs a bounded wait, never an unbounded loop.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import random
import re
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
import idna

__all__ = [
    "Exchanger",
    "MXRecord",
    "Route",
    "RouteError",
    "make_resolver",
    "normalise_domain",
    "order_records",
    "route",
]

#: RFC 1035 §2.3.4 / RFC 5321 §4.5.3.1.2: 63 octets a label, 255 octets a name on the wire,
#: which leaves 253 characters written without the root's dot.
MAX_LABEL = 63
MAX_DOMAIN = 253
#: One DNS question, every retry included (dnspython's ``lifetime``); the stub resolvers of
#: glibc wait 5 s per server.
LOOKUP_SECONDS = 5.0
#: All the look-ups for one domain (MX, then A and AAAA of each exchanger).
ROUTE_SECONDS = 30.0
#: DNS answers a resolver keeps (each until its TTL runs out): a few per domain.
CACHED_ANSWERS = 10_000
#: Exchangers tried per domain. RFC 5321 §5.1 allows "a configurable limit" and asks for "at
#: least two addresses"; Postfix tries 5 addresses by default. Past ten, more hosts only make a
#: failure slower.
MAX_EXCHANGERS = 10

Verdict = Literal["mx", "implicit", "literal"]


class RouteError(Exception):
    """No route for the domain: *permanent* (bounce now) or not (retry later).

    ``reply`` is the reply an MTA would give for it, code and enhanced code (RFC 3463), so the
    failure reads like any other refusal: ``556 5.1.10`` for a null MX (RFC 7505 §4.2).
    """

    def __init__(self, message: str, *, permanent: bool, reply: str) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.reply = f"{reply} {message}"
        #: The MX records DNS gave, when it gave some (a null MX; none usable).
        self.records: tuple[MXRecord, ...] = ()
        #: The exchangers considered, when there were some (none usable).
        self.exchangers: tuple[Exchanger, ...] = ()


def _permanent(message: str, reply: str = "550 5.1.2") -> RouteError:
    return RouteError(message, permanent=True, reply=reply)  # X.1.2: bad destination system


def _temporary(message: str, reply: str = "451 4.4.3") -> RouteError:
    return RouteError(message, permanent=False, reply=reply)  # X.4.3: directory server failure


@dataclass(frozen=True, order=True)
class MXRecord:
    """One MX record as DNS gave it: preference, and the exchange without its final dot."""

    preference: int
    exchange: str

    @property
    def is_null(self) -> bool:
        return self.exchange == ""


@dataclass(frozen=True)
class Exchanger:
    """A host to try: its name, its MX preference (``None`` for a literal) and its addresses."""

    name: str
    preference: int | None
    addresses: tuple[str, ...]
    notes: tuple[str, ...] = ()  # what was odd about it: an alias followed, an address missing

    @property
    def usable(self) -> bool:
        return bool(self.addresses)


@dataclass(frozen=True)
class Route:
    """Where mail for *domain* goes: what DNS said, and the exchangers in the order to try."""

    domain: str  # as given
    ascii_domain: str  # A-labels, lowercase: what DNS was asked
    verdict: Verdict
    records: tuple[MXRecord, ...]  # as DNS gave them, unsorted
    exchangers: tuple[Exchanger, ...]  # usable and unusable, in the order to try
    notes: tuple[str, ...] = field(default=())

    @property
    def usable(self) -> tuple[Exchanger, ...]:
        return tuple(e for e in self.exchangers if e.usable)


#: A name of letters, digits and inner hyphens only (RFC 5321 §4.1.2 Domain, RFC 1123 §2.1),
#: with no A-label in it: IDNA has nothing to check or convert.
_PLAIN_NAME = re.compile(
    r"(?!.*(?:^|\.)xn--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=4096)
def normalise_domain(domain: str) -> str:
    """*domain* as DNS is asked it: A-labels (IDNA 2008 via ``idna``), lowercase, no final dot.

    RouteError (permanent) with one line for an empty, over-long or malformed name. (Cached:
    ``idna`` is pure Python, and a backlog names the same few domains again and again.)
    """
    name = domain.strip().removesuffix(".")
    if len(name) <= MAX_DOMAIN and _PLAIN_NAME.fullmatch(name):
        return name.lower()
    if not name:
        raise _permanent("the domain is empty", "553 5.1.3")
    if len(name) > 4 * MAX_DOMAIN:
        raise _permanent(f"the domain is {len(name)} characters long", "553 5.1.3")
    for label in name.split("."):
        if len(label.encode("utf-8")) > MAX_LABEL and label.isascii():
            raise _permanent(f"the label {label[:20]}… is over {MAX_LABEL} octets", "553 5.1.3")
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise _permanent(f"{name[:80]!r} is not a valid domain name: {exc}", "553 5.1.3") from None
    if len(ascii_name) > MAX_DOMAIN:
        what = f"the domain is {len(ascii_name)} octets long (at most {MAX_DOMAIN})"
        raise _permanent(what, "553 5.1.3")
    return ascii_name


def order_records(records: Sequence[MXRecord], rng: random.Random) -> list[MXRecord]:
    """RFC 5321 §5.1: lowest preference first, equal preferences "randomized"; each host once.

    A host named by several records keeps its most preferred one: trying it again further down
    the list would only repeat its failure.
    """
    best: dict[str, MXRecord] = {}
    for record in sorted(records):
        best.setdefault(record.exchange, record)
    unique = sorted(best.values())  # a stable start, so that *rng* alone decides the order
    shuffled = rng.sample(unique, len(unique))
    return sorted(shuffled, key=lambda record: record.preference)  # sorted() is stable


def address_literal(domain: str) -> str | None:
    """The address of ``[192.0.2.1]`` or ``[IPv6:2001:db8::1]`` (RFC 5321 §4.1.3), else None.

    ValueError for brackets around something that is not an address.
    """
    if not (domain.startswith("[") and domain.endswith("]")):
        return None
    inner = domain[1:-1]
    text = inner[5:] if inner[:5].lower() == "ipv6:" else inner
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise _permanent(f"{domain[:60]} is not an address literal", "553 5.1.3") from None
    if (address.version == 6) != (text is not inner):
        raise _permanent(f"{domain[:60]}: an IPv6 literal is written [IPv6:…]", "553 5.1.3")
    return str(address)


def make_resolver(
    nameservers: Sequence[str] = (), *, lifetime: float = LOOKUP_SECONDS
) -> dns.resolver.Resolver:
    """A resolver asking *nameservers* (``"127.0.0.1:5353"``, ``"[::1]:53"``, ``"192.0.2.53"``),
    or the system's (``/etc/resolv.conf``) when none are given.

    It keeps answers for as long as their TTL allows (RFC 1035 §3.2.1), NXDOMAIN and "no such
    record" too (RFC 2308): a deliverer draining a backlog asks once per domain, not per message.
    """
    resolver = dns.resolver.Resolver(configure=not nameservers)
    resolver.cache = dns.resolver.LRUCache(CACHED_ANSWERS)
    if nameservers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(*_host_port(s)) for s in nameservers]
    resolver.lifetime = lifetime
    resolver.timeout = min(resolver.timeout, lifetime)
    return resolver


@functools.cache
def _system_resolver() -> dns.resolver.Resolver:
    """The resolver of ``/etc/resolv.conf``, one per process so that its cache is shared."""
    try:
        return make_resolver()
    except dns.exception.DNSException as exc:  # no /etc/resolv.conf, or one naming no server
        raise _temporary(f"no DNS server to ask: {exc}") from None


def _host_port(server: str) -> tuple[str, int]:
    server = server.strip()
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif server.count(":") == 1:
        host, port = server.split(":")
    else:
        host, port = server, "53"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"DNS server {server!r} is not an IP address[:port]") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"DNS server {server!r} has no valid port")
    return host, int(port)


def route(
    domain: str,
    resolver: dns.resolver.Resolver | None = None,
    *,
    rng: random.Random | None = None,
    deadline_seconds: float = ROUTE_SECONDS,
) -> Route:
    """The route for mail to *domain* (the part after ``@``); RouteError when there is none."""
    literal = address_literal(domain.strip())
    if literal is not None:
        exchanger = Exchanger(domain.strip(), None, (literal,))
        return Route(domain, domain.strip(), "literal", (), (exchanger,))
    name = normalise_domain(domain)
    resolver = resolver or _system_resolver()
    rng = rng or _SHUFFLE
    kept = _KEPT_ROUTES.get(resolver, {}).get(name)
    if kept is not None and kept[0] > time.time():
        return _reordered(kept[1], domain, rng)
    look = _Lookups(resolver, time.monotonic() + deadline_seconds)
    found = _look_up(domain, name, look, rng)
    routes = _KEPT_ROUTES.setdefault(resolver, {})
    if len(routes) >= CACHED_ANSWERS:
        routes.clear()  # a crude bound; the resolver's own cache still holds the answers
    routes[name] = (look.expires, found)
    return found


#: Orders equal preferences when the caller gives no generator of its own (one for the process:
#: seeding a new one reads the system's entropy each time).
_SHUFFLE = random.Random()

#: Routes built from DNS answers still valid, per resolver: until the first of their answers
#: expires (its TTL), a domain's route is its hosts again, only equal preferences reshuffled.
_KEPT_ROUTES: weakref.WeakKeyDictionary[dns.resolver.Resolver, dict[str, tuple[float, Route]]] = (
    weakref.WeakKeyDictionary()
)


def _reordered(kept: Route, domain: str, rng: random.Random) -> Route:
    """*kept* for *domain*, equal preferences in a new random order (RFC 5321 §5.1)."""
    shuffled = rng.sample(kept.exchangers, len(kept.exchangers))
    ordered = sorted(shuffled, key=lambda e: e.preference or 0)
    return dataclasses.replace(kept, domain=domain, exchangers=tuple(ordered))


def _look_up(domain: str, name: str, look: _Lookups, rng: random.Random) -> Route:
    records = look.mx(name)
    if not records:
        exchanger = look.exchanger(name, 0)
        if not exchanger.usable:
            detail = "; ".join(exchanger.notes)
            raise _permanent(f"{name} has no MX record and no address ({detail})", "550 5.1.2")
        return Route(domain, name, "implicit", (), (exchanger,))
    if len(records) == 1 and records[0].is_null and records[0].preference == 0:
        null = _permanent(f"{name} says it accepts no mail (null MX, RFC 7505)", "556 5.1.10")
        null.records = tuple(records)
        raise null
    return _mx_route(domain, name, records, look, rng)


def _mx_route(
    domain: str, name: str, records: list[MXRecord], look: _Lookups, rng: random.Random
) -> Route:
    notes: list[str] = []
    hosts = [r for r in order_records(records, rng) if not r.is_null]
    if any(r.is_null for r in records):
        notes.append("a null MX among other MX records is ignored (RFC 7505 §3 forbids the mix)")
    if len(hosts) > MAX_EXCHANGERS:
        notes.append(f"{len(hosts)} MX records: only the first {MAX_EXCHANGERS} are tried")
        hosts = hosts[:MAX_EXCHANGERS]
    exchangers = tuple(look.exchanger(r.exchange, r.preference) for r in hosts)
    found = Route(domain, name, "mx", tuple(records), exchangers, tuple(notes))
    if not found.usable:
        why = "; ".join(note for e in exchangers for note in e.notes)
        if look.temporary:
            error = _temporary(f"no MX host of {name} could be looked up for now ({why})")
        else:
            error = _permanent(f"no MX host of {name} is usable ({why})", "550 5.4.4")
        error.records, error.exchangers = found.records, exchangers
        raise error
    return found


class _Lookups:
    """The DNS questions of one route, sharing one deadline; remembers a temporary failure."""

    def __init__(self, resolver: dns.resolver.Resolver, deadline: float) -> None:
        self.resolver = resolver
        self.deadline = deadline
        self.temporary = False
        self.expires = float("inf")  # when the first answer used runs out of TTL (time.time())

    def mx(self, name: str) -> list[MXRecord]:
        answer = self._ask(name, "MX", fatal=True)
        if answer is None or answer.rrset is None:
            return []
        return [MXRecord(int(r.preference), _host_name(r.exchange)) for r in answer.rrset]

    def exchanger(self, host: str, preference: int) -> Exchanger:
        """*host* with its A, then AAAA addresses, and notes on anything odd on the way."""
        if _is_ip(host):
            note = f"{host} is an IP address, not a host name (RFC 5321 §5.1): skipped"
            return Exchanger(host, preference, (), (note,))
        notes: list[str] = []
        addresses: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = self._ask(host, rdtype, fatal=False)
            except RouteError as exc:
                notes.append(f"{host} {rdtype}: {exc}")
                if exc.permanent:
                    break  # NXDOMAIN or a loop: the AAAA question would only say it again
                continue
            if answer is None or answer.rrset is None:
                continue
            canonical = _host_name(answer.canonical_name)
            if canonical != host and not any("alias" in n for n in notes):
                notes.append(
                    f"{host} is an alias (CNAME) of {canonical}: RFC 2181 §10.3 says an"
                    " MX must name a host; followed anyway"
                )
            addresses.extend(r.address for r in answer.rrset)
        if not addresses and not notes:
            notes.append(f"{host} has no address (A or AAAA)")
        return Exchanger(host, preference, tuple(dict.fromkeys(addresses)), tuple(notes))

    def _ask(self, name: str, rdtype: str, *, fatal: bool) -> dns.resolver.Answer | None:
        """The answer, None for no records of that type; RouteError for NXDOMAIN or trouble."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.temporary = True
            raise _temporary(f"DNS took longer than {ROUTE_SECONDS:g} s in all for this domain")
        try:
            answer = self.resolver.resolve(
                name,
                rdtype,
                lifetime=min(self.resolver.lifetime, left),
                raise_on_no_answer=False,
                search=False,
            )
        except dns.resolver.NXDOMAIN:
            if fatal:
                raise _permanent(f"the domain {name} does not exist (NXDOMAIN)") from None
            raise _permanent(f"{name} does not exist") from None
        except dns.resolver.YXDOMAIN:
            raise _permanent(f"{name} is too long once its aliases are followed") from None
        except dns.resolver.LifetimeTimeout:
            self.temporary = True
            raise _temporary(f"no DNS answer for {name} {rdtype} in time") from None
        except dns.resolver.NoNameservers as exc:
            if _alias_loop(exc):
                loop = f"{name} is an alias that leads back to itself (a CNAME loop)"
                raise _permanent(loop) from None
            self.temporary = True
            raise _temporary(
                f"the DNS server failed to answer for {name} {rdtype} (SERVFAIL)"
            ) from None
        except dns.exception.DNSException as exc:
            self.temporary = True
            raise _temporary(f"DNS look-up of {name} {rdtype} failed: {exc}") from None
        self.expires = min(self.expires, answer.expiration)
        return answer


def _host_name(name: dns.name.Name) -> str:
    """``mx1.example.org.`` → ``mx1.example.org``; the root (a null MX's ``.``) → ``""``."""
    return "" if name == dns.name.root else name.to_text(omit_final_dot=True).lower()


def _alias_loop(exc: dns.resolver.NoNameservers) -> bool:
    """Whether the servers "failed" only by answering with an alias chain that never ends."""
    errors = exc.kwargs.get("errors") or []
    return bool(errors) and all(isinstance(e[3], dns.message.ChainTooLong) for e in errors)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
