"""The aiosmtpd handler: recipient policy, trace header fields, and delivery into the MailStore.

It never relays: every accepted message ends in the local store. The store writes and syncs in
threads of its own, in batches (``MailStore.submit``), so that other clients keep being served
while a delivery is synced; ``LoopCompletions`` brings the results back to the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from app.addresses import domain_key, mailbox_key
from app.store import Delivery, MailStore, mailbox_name

log = logging.getLogger(__name__)

#: RFC 5321 §4.5.3.1.8: a server must accept at least 100 recipients per message.
MAX_RECIPIENTS = 100

NO_RELAY = "550 5.7.1 We do not relay messages"
NO_SUCH_USER = "550 5.1.1 No such user here"
#: Only an address longer than RFC 5321 §4.5.3.1.3 allows has no mailbox name (app.store).
BAD_MAILBOX_NAME = "553 5.1.3 Mailbox name not allowed: address too long"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
#: RFC 6531 §3.4: a non-ASCII address needs the SMTPUTF8 parameter on MAIL (RFC 6531 §3.5: 5.6.7).
NEEDS_SMTPUTF8 = "553 5.6.7 Non-ASCII address needs SMTPUTF8 on MAIL FROM"
RECIPIENT_OK = "250 2.1.5 OK"
#: RFC 5321 §4.2.3: 451 for a local error; the peer never sees what went wrong (it is logged).
LOCAL_ERROR = "451 4.3.0 Requested action aborted: local error in processing"

_NOT_IN_DOMAIN_LITERAL = re.compile(r"[^A-Za-z0-9.:\[\]-]")


@dataclass(frozen=True)
class RecipientPolicy:
    """Which recipients the server accepts: None means "any" for both sets."""

    domains: frozenset[str] | None = None
    users: frozenset[str] | None = None

    @classmethod
    def from_options(
        cls, domains: Iterable[str] | None, users_file: Path | None
    ) -> RecipientPolicy:
        return cls(
            domains=frozenset(domain_key(d.strip()) for d in domains if d.strip())
            if domains
            else None,
            users=load_users(users_file) if users_file else None,
        )

    def refusal(self, address: str) -> str | None:
        """The reply that refuses *address*, or None when it is accepted."""
        local, at, domain = address.rpartition("@")
        domain = domain_key(domain) if at else ""
        # RFC 5321 §4.5.1: "Postmaster" without a domain, and at every domain we take, is
        # always accepted, whoever the users are.
        if (local if at else address).casefold() == "postmaster" and (
            not at or self.domains is None or domain in self.domains
        ):
            return None
        if self.domains is not None and domain not in self.domains:
            return NO_RELAY
        if self.users is not None and mailbox_key(address) not in self.users:
            return NO_SUCH_USER
        return None


def load_users(path: Path) -> frozenset[str]:
    """Addresses, one a line; blank lines and ``#`` comments are ignored."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return frozenset(mailbox_key(line) for line in lines if line)


def protocol_name(session: Session, envelope: Envelope) -> str:
    """The ``with`` keyword of the Received field (RFC 5321 §4.4, RFC 3848, RFC 6531 §4.3)."""
    if envelope.smtp_utf8:
        name = "UTF8SMTP"
    elif session.extended_smtp:
        name = "ESMTP"
    else:
        return "SMTP"
    return name + ("S" if session.ssl else "")


def peer_literal(peer: Any) -> str:
    """The client's address as an RFC 5321 §4.1.3 address literal: ``[192.0.2.1]``,
    ``[IPv6:2001:db8::1]``. A link-local peer's zone (``fe80::1%eth0``) is no part of one."""
    host = (str(peer[0]) if isinstance(peer, tuple) else str(peer)).partition("%")[0]
    return f"[IPv6:{host}]" if ":" in host else f"[{host}]"


def reverse_path(mail_from: str | None) -> str:
    """The address of ``MAIL FROM``, without brackets: empty for the null reverse-path.

    aiosmtpd hands over ``<>`` itself for ``MAIL FROM:<>`` (bounces and delivery reports, RFC
    5321 §4.5.5), and the address without its brackets otherwise; RFC 5321 §4.4 wants the null
    path kept as ``Return-Path: <>``.
    """
    address = mail_from or ""
    return "" if address == "<>" else address


def trace_fields(
    session: Session, envelope: Envelope, recipient: str, *, our_host: str, trace_id: str
) -> bytes:
    """``Return-Path``, ``Received`` and ``Delivered-To`` for one recipient's copy.

    RFC 5321 §4.4: the Received field names the client (its EHLO name and address), us, the
    protocol, an id, the recipient and the time.
    """
    helo = _NOT_IN_DOMAIN_LITERAL.sub("-", session.host_name or "") or "unknown"
    date = email.utils.format_datetime(datetime.now(UTC))
    lines = [
        f"Return-Path: <{reverse_path(envelope.mail_from)}>",
        f"Received: from {helo} ({peer_literal(session.peer)})",
        f"\tby {our_host} with {protocol_name(session, envelope)} id {trace_id}",
        f"\tfor <{recipient}>; {date}",
        f"Delivered-To: {recipient}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


class LoopCompletions:
    """Hands finished deliveries from the store's sync thread to the event loop's futures.

    Every ``call_soon_threadsafe`` wakes the loop through its self-pipe (a system call on each
    side); a batch's deliveries finish together, so they share one wake-up.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self._finished: list[tuple[asyncio.Future[Delivery], Delivery]] = []

    def waiter(self) -> tuple[asyncio.Future[Delivery], Callable[[Delivery], None]]:
        """A future for one delivery, and the ``on_done`` callback that resolves it."""
        future: asyncio.Future[Delivery] = self.loop.create_future()
        return future, lambda delivery: self._finish(future, delivery)

    def _finish(self, future: asyncio.Future[Delivery], delivery: Delivery) -> None:
        with self._lock:
            self._finished.append((future, delivery))
            first = len(self._finished) == 1
        if first:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
                self.loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        with self._lock:
            finished, self._finished = self._finished, []
        for future, delivery in finished:
            if not future.done():  # cancelled when the client went away
                future.set_result(delivery)


class CaptureHandler:
    """aiosmtpd hooks: RCPT applies the policy, DATA stores one copy per recipient."""

    def __init__(self, store: MailStore, policy: RecipientPolicy, our_host: str) -> None:
        self.store = store
        self.policy = policy
        self.our_host = our_host
        self._completions: LoopCompletions | None = None

    def _completions_for(self, loop: asyncio.AbstractEventLoop) -> LoopCompletions:
        if self._completions is None or self._completions.loop is not loop:
            self._completions = LoopCompletions(loop)
        return self._completions

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """aiosmtpd answers pipelined commands in order but does not say so: add PIPELINING."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not envelope.smtp_utf8 and not address.isascii():
            return NEEDS_SMTPUTF8
        if mailbox_key(address) in map(mailbox_key, envelope.rcpt_tos):
            return RECIPIENT_OK  # named twice: one mailbox, so one copy (RFC 5321 §3.3 allows it)
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return TOO_MANY_RECIPIENTS
        refusal = self.policy.refusal(address)
        if refusal is None:
            try:
                mailbox_name(address)
            except ValueError:
                refusal = BAD_MAILBOX_NAME
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        trace_id = f"{random.getrandbits(48):012X}"  # names the message in logs; no secret

        def prefix(recipient: str) -> bytes:
            return trace_fields(
                session, envelope, recipient, our_host=self.our_host, trace_id=trace_id
            )

        content = envelope.original_content or b""
        future, on_done = self._completions_for(asyncio.get_running_loop()).waiter()
        self.store.submit(list(envelope.rcpt_tos), content, prefix, on_done)
        delivery = await future  # cancelled if the client goes away; the delivery goes on
        if delivery.error is not None:
            log.error("delivery %s from %r failed", trace_id, session.peer, exc_info=delivery.error)
            return LOCAL_ERROR
        return f"250 2.0.0 OK: queued as {trace_id}"

    async def handle_exception(self, error: Exception) -> str:
        """Any other failure in a hook: logged here, a generic 451 to the peer."""
        log.error("SMTP session failed", exc_info=error)
        return LOCAL_ERROR
