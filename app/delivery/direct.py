"""Direct delivery: each recipient's domain gets the message from us, on one connection per domain.

:func:`deliver_direct` takes messages (as :meth:`SMTPClient.send_many` does), groups their
recipients by domain, finds each domain's exchangers (:mod:`app.delivery.mx`) and sends every
message for that domain over one connection, pipelined when the server offers PIPELINING
(RFC 2920). Hosts are tried in the order of the route, and the next one is tried when a host
cannot be reached, times out, greets with 421 or another 4xx, fails the TLS handshake (TLS is
only opportunistic here) or answers EHLO or STARTTLS with a 4xx (RFC 5321 §5.1, §4.5.4.1). A 5xx
from a host that answered is final for that domain. Once a transaction is under way, a 4xx
defers the recipients it concerns for a later try, which starts again at the first host, except
a 421 (the host is closing the connection, RFC 5321 §3.8): the messages it did not take go on to
the next host. A connection lost after the message's content was sent is deferred, never resent
to the next host at once, since the first may have taken it (RFC 1047).

The outcome is per domain and per recipient (:class:`RecipientOutcome`: sent, failed or
queued, with the reply and the host), and every domain's transcript says which host was tried
and why QuizMail moved on.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal

import dns.resolver

from app.delivery.mx import Exchanger, Route, RouteError, normalise_domain, route
from app.smtp import (
    LocalProtocolError,
    Outgoing,
    Reply,
    SendResult,
    SMTPError,
    SMTPNotAttempted,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPReplyError,
)
from app.smtp.opportunistic import OpportunisticClient

__all__ = [
    "DirectOptions",
    "DirectResult",
    "DomainOutcome",
    "RecipientOutcome",
    "connection_plan",
    "deliver_direct",
    "describe_route",
    "domain_of",
]

log = logging.getLogger(__name__)

#: RFC 5321 §4.5.4 / §5.1: mail between MTAs goes to port 25.
DEFAULT_PORT = 25
#: Connections tried per domain, over all its exchangers' addresses. RFC 5321 §5.1 asks for at
#: least two; Postfix's ``smtp_mx_address_limit`` is 5. Each costs at most the timeout.
MAX_CONNECTIONS = 10

#: Domains delivered at once by one call. Postfix runs up to 100 delivery agents; a handful of
#: threads is enough to overlap one domain's DNS and network waits with another's work.
PARALLEL_DOMAINS = 8

RecipientState = Literal["sent", "failed", "queued"]


@dataclass(frozen=True)
class DirectOptions:
    """How to deliver directly: the port, the resolver, the waits, TLS verification."""

    port: int = DEFAULT_PORT
    resolver: dns.resolver.Resolver | None = None  # None: the system's resolver
    timeout: float | None = None  # caps each wait on an exchanger (not the one after the dot)
    verify_tls: bool = False  # opportunistic TLS; see app.smtp.opportunistic
    local_hostname: str | None = None
    rng: random.Random | None = None  # orders equal MX preferences; None: a fresh random one
    parallel_domains: int = 0  # domains delivered at once; 0: PARALLEL_DOMAINS


@dataclass(frozen=True)
class RecipientOutcome:
    """What became of one recipient: sent, failed (for good) or queued (try again later)."""

    address: str
    state: RecipientState
    reply: str
    host: str | None = None  # "mx1.example.org [192.0.2.25]", when a host answered


@dataclass
class DomainOutcome:
    """One message's delivery to one domain: each recipient's outcome, and the dialogue.

    The dialogue's lines are made when first read (most deliveries are only counted), from
    *lines*: the lines themselves, or what makes them.
    """

    domain: str
    recipients: dict[str, RecipientOutcome]
    lines: list[str] | Callable[[], list[str]] = field(default_factory=list, repr=False)

    @property
    def transcript(self) -> list[str]:
        if callable(self.lines):
            self.lines = self.lines()
        return self.lines

    @property
    def state(self) -> RecipientState:
        """queued while any recipient waits; else sent if any recipient took it; else failed."""
        states = {o.state for o in self.recipients.values()}
        return "queued" if "queued" in states else "sent" if "sent" in states else "failed"


@dataclass
class DirectResult:
    """One message's direct delivery, domain by domain."""

    domains: list[DomainOutcome] = field(default_factory=list)

    @property
    def recipients(self) -> dict[str, RecipientOutcome]:
        return {a: o for d in self.domains for a, o in d.recipients.items()}

    def addresses(self, state: RecipientState) -> list[str]:
        return [a for a, o in self.recipients.items() if o.state == state]

    @property
    def transcript(self) -> list[str]:
        return [line for d in self.domains for line in d.transcript]


def domain_of(address: str) -> str:
    """The domain mail to *address* is routed by: A-labels, lowercase (else as written); ``""``
    for an address without one (``postmaster`` alone names no host to deliver to)."""
    _, at, domain = address.rpartition("@")
    if not at:
        return ""
    if domain.startswith("["):
        return domain
    try:
        return normalise_domain(domain)
    except RouteError:
        return domain.lower()  # route() will refuse it with the reason


def envelope_address(address: str) -> str:
    """*address* as RCPT TO gives it: an internationalised domain as its A-labels, so that an
    ASCII mailbox at ``bücher.example`` needs no SMTPUTF8 (RFC 6531) from the server."""
    local, _, domain = address.rpartition("@")
    if domain.isascii() or not local.isascii():
        return address
    ascii_domain = domain_of(address)
    return f"{local}@{ascii_domain}" if ascii_domain.isascii() else address


def deliver_direct(items: Sequence[Outgoing], options: DirectOptions) -> list[DirectResult]:
    """Deliver each ``(message, sender, recipients)`` straight to its recipients' domains.

    Domains are independent, so up to :data:`PARALLEL_DOMAINS` (or the options'
    ``parallel_domains``) are delivered at once, each on its own connection, as every MTA does:
    to remote hosts most of a delivery is waiting. Each domain's outcomes keep *items*' order.
    """
    shares = _by_domain(items)
    as_given: dict[str, str] = {}  # envelope address → the address as the caller wrote it
    for parts in shares.values():
        for _, rcpts in parts:
            as_given.update((envelope_address(a), a) for a in rcpts)
    jobs: list[tuple[str, list[Outgoing]]] = [
        (
            domain,
            [
                (items[i][0], items[i][1], [envelope_address(a) for a in rcpts])
                for i, rcpts in parts
            ],
        )
        for domain, parts in shares.items()
    ]

    def deliver(job: tuple[str, list[Outgoing]]) -> list[DomainOutcome]:
        try:
            return _deliver_domain(job[0], job[1], options)
        except Exception as exc:  # a bug in one domain's delivery must not lose the others'
            log.exception("direct delivery to %s failed", job[0])
            reply = f"451 4.3.0 internal error: {exc!r}"
            return [_all(job[0], r, "queued", reply, [f"-- {reply}"]) for _, _, r in job[1]]

    workers = min(options.parallel_domains or PARALLEL_DOMAINS, len(jobs))
    if workers <= 1:
        outcomes = [deliver(job) for job in jobs]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="direct") as pool:
            outcomes = list(pool.map(deliver, jobs))
    results = [DirectResult() for _ in items]
    for parts, domain_outcomes in zip(shares.values(), outcomes, strict=True):
        for (index, _), outcome in zip(parts, domain_outcomes, strict=True):
            results[index].domains.append(_as_given(outcome, as_given))
    return results


def _as_given(outcome: DomainOutcome, as_given: Mapping[str, str]) -> DomainOutcome:
    """*outcome* with its recipients named as the caller named them."""
    if all(as_given.get(a, a) == a for a in outcome.recipients):
        return outcome
    renamed = {
        as_given.get(a, a): replace(o, address=as_given.get(a, a))
        for a, o in outcome.recipients.items()
    }
    return DomainOutcome(outcome.domain, renamed, outcome.lines)


def _by_domain(items: Sequence[Outgoing]) -> dict[str, list[tuple[int, list[str]]]]:
    """Each domain's share: (index of the message, its recipients there), in order."""
    shares: dict[str, dict[int, list[str]]] = {}
    for index, (_, _, recipients) in enumerate(items):
        for address in [recipients] if isinstance(recipients, str) else recipients:
            shares.setdefault(domain_of(address), {}).setdefault(index, []).append(address)
    return {domain: list(by_index.items()) for domain, by_index in shares.items()}


def _deliver_domain(
    domain: str, outgoing: list[Outgoing], options: DirectOptions
) -> list[DomainOutcome]:
    """The messages of *outgoing*, all for *domain*, over one connection (or the next host's)."""
    try:
        found = route(domain, options.resolver, rng=options.rng)
    except RouteError as exc:
        state: RecipientState = "failed" if exc.permanent else "queued"
        return [
            _all(domain, recipients, state, exc.reply, [f"-- {domain}: {exc}"])
            for _, _, recipients in outgoing
        ]
    return _Attempt(domain, found, outgoing, options).run()


def _all(
    domain: str,
    recipients: Sequence[str],
    state: RecipientState,
    reply: str,
    transcript: list[str] | Callable[[], list[str]],
    *,
    host: str | None = None,
) -> DomainOutcome:
    """Every one of *recipients* with the same outcome."""
    outcomes = {a: RecipientOutcome(a, state, reply, host) for a in recipients}
    return DomainOutcome(domain, outcomes, transcript)


class _Attempt:
    """One try of a domain's messages: its hosts in order until every message is settled."""

    def __init__(
        self, domain: str, found: Route, outgoing: list[Outgoing], options: DirectOptions
    ) -> None:
        self.domain = domain
        self.found = found
        self.outgoing = outgoing
        self.options = options
        self.notes = [f"-- {domain}: {describe_route(found)}", *(f"-- {n}" for n in found.notes)]
        self.settled: dict[int, DomainOutcome] = {}
        self.last_error = "no host was tried"

    def run(self) -> list[DomainOutcome]:
        for exchanger, address in self._candidates():
            pending = [i for i in range(len(self.outgoing)) if i not in self.settled]
            if not pending:
                break
            self._try_host(exchanger, address, pending)
        unsettled = [i for i in range(len(self.outgoing)) if i not in self.settled]
        if unsettled:
            self.notes.append(f"-- no host of {self.domain} took the message; it waits for a retry")
        for index in unsettled:
            reply = f"451 4.4.1 no host of {self.domain} could take it: {self.last_error}"
            self.settled[index] = _all(
                self.domain, self.outgoing[index][2], "queued", reply, list(self.notes)
            )
        return [self.settled[i] for i in range(len(self.outgoing))]

    def _candidates(self) -> list[tuple[Exchanger, str]]:
        plan = connection_plan(self.found)
        total = sum(len(e.addresses) for e in self.found.usable)
        if total > len(plan):
            self.notes.append(f"-- {total} addresses: only the first {len(plan)} tried")
        return plan

    def _try_host(self, exchanger: Exchanger, address: str, pending: list[int]) -> None:
        host = _host_label(exchanger, address)
        self.notes.append(f"-- trying {host} port {self.options.port}{_preference(exchanger)}")
        client = OpportunisticClient(
            address,
            self.options.port,
            tls_name=address if exchanger.preference is None else exchanger.name,
            verify=self.options.verify_tls,
            timeout=self.options.timeout,
            local_hostname=self.options.local_hostname,
        )
        try:
            client.connect()
        except SMTPError as exc:
            self._host_failed(client.transcript, exc, host, pending)
            return
        opening = [*self.notes, *client.transcript]  # this connection's, for each message
        try:
            outcomes = client.send_many([self.outgoing[i] for i in pending])
        finally:
            client.close()
        for index, outcome in zip(pending, outcomes, strict=True):
            if _not_taken(outcome):
                self.last_error = str(outcome)
                continue  # never sent, or refused for now by a host closing: the next may take it
            recipients = self.outgoing[index][2]
            lines = partial(_message_lines, opening, outcome)
            self.settled[index] = _settle(self.domain, recipients, outcome, host, lines)
        if any(i not in self.settled for i in pending):
            self.notes.append(f"-- the connection to {host} ended; the rest go to the next host")

    def _host_failed(self, lines: list[str], exc: SMTPError, host: str, pending: list[int]) -> None:
        """A host that failed before any message: move on, unless it refused for good (5xx)."""
        self.notes.extend([*lines, f"-- {exc}"])
        self.last_error = str(exc)
        if isinstance(exc, SMTPReplyError) and not exc.is_transient:
            self.notes.append(f"-- {host} refused for good (5xx): final for {self.domain}")
            for index in pending:
                recipients = self.outgoing[index][2]
                self.settled[index] = _all(
                    self.domain, recipients, "failed", str(exc.reply), list(self.notes), host=host
                )
            return
        self.notes.append("-- moving on to the next host")


def _not_taken(outcome: SendResult | SMTPError) -> bool:
    """Whether the host surely did not take the message: it never got it (the connection ended
    before its turn), or said so with a 421 as it closed the connection (RFC 5321 §3.8)."""
    if isinstance(outcome, SMTPNotAttempted):
        return True
    return isinstance(outcome, SMTPReplyError) and outcome.code == 421


def _message_lines(opening: list[str], outcome: SendResult | SMTPError) -> list[str]:
    """One message's dialogue: the connection's opening, its own lines, and its error."""
    error = [f"-- {outcome}"] if isinstance(outcome, SMTPError) else []
    return [*opening, *outcome.transcript, *error]


def _settle(
    domain: str,
    recipients: Sequence[str],
    outcome: SendResult | SMTPError,
    host: str,
    transcript: Callable[[], list[str]],
) -> DomainOutcome:
    """Each recipient's outcome from the result (or error) of its message on *host*."""
    if isinstance(outcome, SendResult):
        sent = {a: RecipientOutcome(a, "sent", str(outcome.reply), host) for a in outcome.accepted}
        return DomainOutcome(domain, {**sent, **_refused(outcome.refused, host)}, transcript)
    if isinstance(outcome, SMTPRecipientsRefused):
        return DomainOutcome(domain, _refused(outcome.refused, host), transcript)
    if isinstance(outcome, SMTPReplyError):
        state: RecipientState = "queued" if outcome.is_transient else "failed"
        return _all(domain, recipients, state, str(outcome.reply), transcript, host=host)
    if isinstance(outcome, LocalProtocolError | SMTPNotSupported):
        return _all(domain, recipients, "failed", str(outcome), transcript, host=host)
    # The connection broke with the message in hand: it may have been taken (RFC 1047).
    return _all(domain, recipients, "queued", f"451 4.4.2 {outcome}", transcript, host=host)


def _refused(refused: Mapping[str, Reply], host: str) -> dict[str, RecipientOutcome]:
    """Per-recipient refusals: a 4xx waits for a retry, a 5xx is final (RFC 5321 §4.2.1)."""
    return {
        address: RecipientOutcome(
            address, "queued" if reply.code < 500 else "failed", str(reply), host
        )
        for address, reply in refused.items()
    }


def connection_plan(found: Route) -> list[tuple[Exchanger, str]]:
    """The (exchanger, address) pairs to connect to, in order: each usable host's addresses in
    the route's order, at most :data:`MAX_CONNECTIONS` of them."""
    return [(e, a) for e in found.usable for a in e.addresses][:MAX_CONNECTIONS]


def describe_route(found: Route) -> str:
    """One line: how the hosts were found, and the order they are tried in."""
    hosts = ", ".join(
        f"{e.name} ({', '.join(e.addresses) or 'no address'})" for e in found.exchangers
    )
    if found.verdict == "literal":
        return f"an address literal: straight to {hosts}"
    if found.verdict == "implicit":
        return f"no MX record: the domain itself is the mail host (implicit MX), {hosts}"
    return f"MX hosts in the order tried: {hosts}"


def _host_label(exchanger: Exchanger, address: str) -> str:
    return address if exchanger.preference is None else f"{exchanger.name} [{address}]"


def _preference(exchanger: Exchanger) -> str:
    return "" if exchanger.preference is None else f" (preference {exchanger.preference})"
