"""The one bridge web → mail: a graded result becomes a message that reaches the relay, or waits.

``Notifier.email_results`` renders the report (:mod:`app.report`), builds the message
(:func:`app.mail.build_message`), puts it in the outbox (:mod:`app.outbox`) *before* any attempt,
and makes the first attempt itself through :class:`app.smtp.SMTPClient`, on a connection the
worker thread keeps for its next message (:class:`KeptConnections`). What the student is told is
the outbox record's state, on disk (fsynced) before the page says so:

- ``sent``: the relay answered 2xx; the record keeps the reply, the Message-ID and the transcript;
- ``failed``: refused for good (5xx, or something no retry can fix), with the server's reply;
- ``queued``: the relay could not be reached, timed out or answered 4xx; the :class:`Deliverer`
  retries with backoff until a 2xx or a 5xx.

Because the message is on disk and claimed (flock) while the web request tries it, a worker that
dies mid-send leaves a message the deliverer sends instead, and a message is never sent by two.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from app.mail import build_message, make_message_id
from app.outbox import Claim, Outbox, OutboxRecord
from app.quiz import Result
from app.report import Report, Student, render_report
from app.results_signature import HEADER, sign
from app.smtp import (
    LocalProtocolError,
    Reply,
    SendResult,
    SMTPClient,
    SMTPError,
    SMTPNotAttempted,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPReplyError,
    SMTPTransportError,
)

__all__ = [
    "Attempted",
    "Deliverer",
    "KeptConnections",
    "Notifier",
    "Relay",
    "deliver",
    "deliver_batch",
    "explain",
    "explain_reply",
]

log = logging.getLogger(__name__)

#: How often the deliverer looks for due messages. Looking is a directory listing; two seconds
#: keeps "queued → delivered" prompt once the relay is back without busy-waiting.
POLL_SECONDS = 2.0
#: How often the deliverer clears old ``sent/`` records (they are kept a week; hourly is plenty).
PRUNE_EVERY_SECONDS = 3600.0
REDACTED = "[redacted]"
#: A connection kept for the next message is used only while it has been idle less than this.
#: Servers wait at least 5 minutes for the next command (RFC 5321 §4.5.3.2.7); half a minute
#: stays far from that edge.
KEEP_IDLE_SECONDS = 30.0
#: Messages sent on one kept connection before it is closed: some servers cap messages per
#: connection (Exchange's default is 20).
KEEP_MAX_MESSAGES = 20
#: Messages the deliverer sends in one batch, on one connection: the same cap, for that reason.
BATCH_MESSAGES = KEEP_MAX_MESSAGES

#: What a reply code means, in words a student understands (RFC 5321 §4.2.2-§4.2.3).
REPLY_MEANINGS: dict[int, str] = {
    421: "the mail server is closing the connection or too busy right now",
    450: "the mailbox is unavailable for the moment (busy, or the server is checking)",
    451: "the mail server had a local problem",
    452: "the mail server has run out of room for now",
    530: "the mail server wants QuizMail to log in first",
    535: "the mail server did not accept QuizMail's login",
    550: "the mail server says this mailbox does not exist or does not take mail",
    551: "this address is not handled by the mail server QuizMail uses",
    552: "the message is too large, or the mailbox is full",
    553: "the mail server does not accept this address as written",
    554: "the mail server refused the message (usually a policy decision)",
}


#: RFC 3463 subject.detail codes that say more than the basic code: a 550 may mean "no such
#: user" (5.1.1) or "we do not relay" (5.7.1), and a student should hear which.
ENHANCED_MEANINGS: dict[str, str] = {
    "1.1": "the mail server says this mailbox does not exist",
    "1.2": "the mail server cannot find the domain of this address",
    "1.3": "the mail server does not accept this address as written",
    "2.1": "this mailbox is not taking mail at the moment",
    "2.2": "this mailbox is full",
    "3.4": "the message is too large for the mail server",
    "7.1": "the mail server does not take mail for this address (it only delivers to its own"
    " domains)",
}
_ENHANCED = re.compile(r"[245]\.(\d{1,3}\.\d{1,3})\b")


def explain_reply(reply: str | None) -> str:
    """``"550 5.1.1 No such user here"`` → a sentence on what it means and what to do."""
    code = int(reply[:3]) if reply and reply[:3].isdigit() else 0
    enhanced = _ENHANCED.match(reply, 4) if reply and code else None
    meaning = (enhanced and ENHANCED_MEANINGS.get(enhanced.group(1))) or REPLY_MEANINGS.get(code)
    if 400 <= code < 500:
        meaning = meaning or "the mail server had a temporary problem"
        return f"{meaning.capitalize()}. QuizMail keeps the message and tries again."
    if 500 <= code < 600:
        meaning = meaning or "the mail server refused the message for good"
        return f"{meaning.capitalize()}. Check the address for typos, or use another one."
    return "The mail server could not be reached. QuizMail keeps the message and tries again."


def explain(record: OutboxRecord) -> str:
    """What became of *record*'s message, for the student's status page."""
    if record.state == "sent":
        return "The mail server accepted the message; it now delivers it to the mailbox."
    if record.state == "failed" and record.reply is None:
        return f"QuizMail could not send this message: {record.last_error}"
    return explain_reply(record.reply if record.state == "failed" else record.last_error)


@dataclass(frozen=True)
class Relay:
    """Where mail goes: the relay's address, security and login, and how long to wait."""

    host: str
    port: int
    security: str = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, timeout: float | None = None) -> Relay:
        return cls(
            host=config["SMTP_HOST"],
            port=int(config["SMTP_PORT"]),
            security=config["SMTP_SECURITY"],
            username=config["SMTP_USER"],
            password=config["SMTP_PASSWORD"],
            timeout=timeout if timeout is not None else config["SMTP_TIMEOUT"],
        )

    def client(self) -> SMTPClient:
        return SMTPClient(
            self.host,
            self.port,
            security=self.security,  # type: ignore[arg-type]  # checked by SMTPClient
            timeout=self.timeout,
            username=self.username,
            password=self.password,
        )

    def redact(self, lines: Sequence[str]) -> list[str]:
        """The transcript with the password removed however it was written (the client already
        redacts AUTH; this is the second lock on that door)."""
        if not self.password:
            return list(lines)
        secrets = [self.password, _b64(self.password)]
        if self.username:
            secrets.append(_b64(f"\0{self.username}\0{self.password}"))
        return [_without(line, secrets) for line in lines]


@dataclass(frozen=True)
class Attempted:
    """One delivery attempt: the record as it now stands, and whether the relay answered."""

    record: OutboxRecord
    reached_relay: bool


def deliver(claim: Claim, relay: Relay, *, kept: KeptConnections | None = None) -> Attempted:
    """Try *claim*'s message once and resolve the claim by the outcome.

    With *kept*, the message goes on this thread's kept connection when it has one, and the
    connection is kept for the next message afterwards.
    """
    reused = kept.take() if kept is not None else None
    if reused is not None:
        attempted = _send_on_kept(claim, relay, reused, kept)  # type: ignore[arg-type]
        if attempted is not None:
            return attempted
    return _send_on_new(claim, relay, kept)


def _send_on_new(claim: Claim, relay: Relay, kept: KeptConnections | None) -> Attempted:
    client = relay.client()
    try:
        client.connect()
        sent = client.send(claim.message, claim.record.sender, claim.record.recipients)
    except SMTPError as exc:
        client.close()
        transcript = [*relay.redact(client.transcript), f"-- {exc}"]
        return Attempted(_resolve_error(claim, exc, transcript), _reached(exc))
    if kept is None:
        client.close()  # QUIT goes into the transcript
    transcript = relay.redact(client.transcript)
    if kept is not None:
        kept.give_back(_Kept(client, os.getpid(), kept.clock(), messages=1))
    return Attempted(_resolve_sent(claim, sent.refused, sent.reply, transcript), True)


def _send_on_kept(
    claim: Claim, relay: Relay, reused: _Kept, kept: KeptConnections
) -> Attempted | None:
    """The attempt on a kept connection, or ``None`` if it had been closed under us while idle.

    The server answering nothing in this transaction means it never got to the message (we only
    send the content after its 354), so the message may safely go on a new connection.
    """
    client, start = reused.client, len(reused.client.transcript)
    note = f"-- on a connection kept from earlier messages ({reused.messages} sent on it)"
    try:
        sent = client.send(claim.message, claim.record.sender, claim.record.recipients)
    except SMTPError as exc:
        client.close()
        lines = client.transcript[start:]
        if not any(line.startswith("S: ") for line in lines):
            return None
        transcript = relay.redact([note, *lines, f"-- {exc}"])
        return Attempted(_resolve_error(claim, exc, transcript), _reached(exc))
    transcript = relay.redact([note, *client.transcript[start:]])
    reused.messages += 1
    kept.give_back(reused)
    return Attempted(_resolve_sent(claim, sent.refused, sent.reply, transcript), True)


def deliver_batch(claims: Sequence[Claim], relay: Relay) -> list[Attempted | None]:
    """Try each of *claims*' messages once over one new connection; resolve each by its outcome.

    With PIPELINING the messages go in one batch, one round trip each (RFC 2920 §3.1), and each
    is resolved exactly as :func:`deliver` would resolve it alone. ``None`` marks a claim left
    as it was: the connection ended before its turn, so the server never got its content and it
    stays due (after a failed connection only the first message counts the attempt, as when
    messages go one by one).
    """
    client = relay.client()
    try:
        client.connect()
    except SMTPError as exc:
        client.close()
        transcript = [*relay.redact(client.transcript), f"-- {exc}"]
        first = Attempted(_resolve_error(claims[0], exc, transcript), _reached(exc))
        return [first, *[None] * (len(claims) - 1)]
    opening = client.transcript  # greeting and EHLO: no student's address in them
    try:
        items = [(c.message, c.record.sender, c.record.recipients) for c in claims]
        outcomes = client.send_many(items)
    finally:
        client.close()
    return [
        _resolve_outcome(claim, outcome, relay, [*opening, f"-- message {n} of {len(claims)}"])
        for n, (claim, outcome) in enumerate(zip(claims, outcomes, strict=True), start=1)
    ]


def _resolve_outcome(
    claim: Claim, outcome: SendResult | SMTPError, relay: Relay, opening: list[str]
) -> Attempted | None:
    """Resolve *claim* by its message's outcome in a batch, with that message's own lines."""
    if isinstance(outcome, SMTPNotAttempted):
        return None
    transcript = relay.redact([*opening, *outcome.transcript])
    if isinstance(outcome, SMTPError):
        transcript.append(f"-- {outcome}")
        return Attempted(_resolve_error(claim, outcome, transcript), _reached(outcome))
    return Attempted(_resolve_sent(claim, outcome.refused, outcome.reply, transcript), True)


@dataclass
class _Kept:
    client: SMTPClient
    pid: int
    idle_since: float
    messages: int


class KeptConnections:
    """One open connection to the relay per thread, kept for that thread's next message.

    A web request sends one message; a new connection costs the TCP handshake, the greeting,
    EHLO (STARTTLS, AUTH) and QUIT — more round trips than the message itself. Reuse is safe:

    - a connection belongs to one thread (never two messages at once) and one process (a forked
      worker does not use its parent's);
    - each message's transcript holds its own lines only, never the previous student's;
    - a kept connection closed by the server while idle fails before any reply, and the message
      goes on a new one; every other failure is handled as on a new connection, and the
      connection is dropped after any failure.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._local = threading.local()
        self._lock = threading.Lock()
        self._idle: dict[int, _Kept] = {}  # every thread's, by id(), to close them at the end

    def take(self) -> _Kept | None:
        """This thread's kept connection if it is still worth using, else ``None``."""
        reused: _Kept | None = getattr(self._local, "kept", None)
        self._local.kept = None
        if reused is None:
            return None
        self._forget(reused)
        if reused.pid != os.getpid():
            return None  # the parent's socket: not ours to use or to close
        if self.clock() - reused.idle_since >= KEEP_IDLE_SECONDS:
            reused.client.close()
            return None
        return reused

    def give_back(self, reused: _Kept) -> None:
        """Keep *reused* for this thread's next message (or close it when it has done enough)."""
        if reused.messages >= KEEP_MAX_MESSAGES:
            reused.client.close()
            return
        reused.idle_since = self.clock()
        self._local.kept = reused
        with self._lock:
            self._idle[id(reused)] = reused

    def close(self) -> None:
        """Close every idle kept connection (at shutdown, or at the end of a test)."""
        with self._lock:
            idle, self._idle = list(self._idle.values()), {}
        for reused in idle:
            if reused.pid == os.getpid():
                reused.client.close()

    def _forget(self, reused: _Kept) -> None:
        with self._lock:
            self._idle.pop(id(reused), None)


def _resolve_sent(
    claim: Claim, refused: Mapping[str, Reply], reply: Reply, transcript: list[str]
) -> OutboxRecord:
    transient = [address for address, r in refused.items() if 400 <= r.code < 500]
    if transient:  # the accepted ones are done; only these are tried again
        error = str(refused[transient[0]])
        return claim.retry_later(error, transcript=transcript, recipients=transient)
    return claim.delivered(reply=str(reply), transcript=transcript)


def _resolve_error(claim: Claim, exc: SMTPError, transcript: list[str]) -> OutboxRecord:
    if isinstance(exc, SMTPRecipientsRefused):
        return _resolve_refused_recipients(claim, exc, transcript)
    if isinstance(exc, SMTPReplyError):
        if exc.is_transient:
            return claim.retry_later(str(exc.reply), transcript=transcript)
        return claim.refused(str(exc), reply=str(exc.reply), transcript=transcript)
    if isinstance(exc, LocalProtocolError | SMTPNotSupported):
        return claim.refused(str(exc), transcript=transcript)  # trying again changes nothing
    return claim.retry_later(str(exc), transcript=transcript)  # transport, remote protocol


def _resolve_refused_recipients(
    claim: Claim, exc: SMTPRecipientsRefused, transcript: list[str]
) -> OutboxRecord:
    transient = [address for address, r in exc.refused.items() if 400 <= r.code < 500]
    if transient:
        error = str(exc.refused[transient[0]])
        return claim.retry_later(error, transcript=transcript, recipients=transient)
    return claim.refused(str(exc), reply=str(exc.reply), transcript=transcript)


def _reached(exc: SMTPError) -> bool:
    return not isinstance(exc, SMTPTransportError)


class Notifier:
    """Renders, builds and sends (or queues) results emails for one configuration."""

    def __init__(
        self,
        outbox: Outbox,
        relay: Relay,
        mail_from: str,
        *,
        keep_connections: bool = True,
        secret: str | bytes | None = None,
    ) -> None:
        self.outbox = outbox
        #: Signs each results.json (app.results_signature) so the gradebook can tell it is ours.
        self.secret = secret
        self.relay = relay
        self.from_name, self.from_address = _parse_sender(mail_from)
        self.kept = KeptConnections() if keep_connections else None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, timeout: float | None = None) -> Notifier:
        """*timeout* caps each wait on the relay (not the one after the final dot)."""
        relay = Relay.from_config(config, timeout=timeout)
        outbox = Outbox(config["OUTBOX_DIR"])
        return cls(outbox, relay, config["MAIL_FROM"], secret=config.get("SECRET_KEY"))

    def email_results(
        self, result: Result, student: Student, *, info: Mapping[str, str] | None = None
    ) -> OutboxRecord:
        """Email *result* to *student*: on disk first, then one attempt; see the module docs.

        *info* is kept with the outbox record (e.g. where the student's results page is).
        """
        sent_at = datetime.now(UTC)
        report = render_report(result, student, sent_at)
        message_id = make_message_id(self.from_address.rpartition("@")[2])
        message = self.results_message(report, student, sent_at, message_id)
        details = {**(info or {}), "message_id": message_id, "subject": report.subject}
        # Not durable yet: the attempt below either delivers it or makes the record durable
        # (retry or refusal) before the student is told anything.
        with self.outbox.hold_new(
            message, self.from_address, [student.email], info=details, durable=False
        ) as claim:
            return deliver(claim, self.relay, kept=self.kept).record

    def results_message(
        self, report: Report, student: Student, sent_at: datetime, message_id: str
    ) -> bytes:
        """The report as RFC 5322 bytes: text and HTML alternatives, the two attachments, and
        the server's signature of results.json when it has a key."""
        signed = {HEADER: sign(report.json, self.secret)} if self.secret else None
        return build_message(
            sender=(self.from_name, self.from_address) if self.from_name else self.from_address,
            to=(student.name, student.email) if student.name else student.email,
            subject=report.subject,
            text=report.text,
            html=report.html,
            attachments=report.attachments(),
            date=sent_at,
            message_id=message_id,
            headers=signed,
        )

    def close(self) -> None:
        """Close the connections kept for the next message."""
        if self.kept is not None:
            self.kept.close()

    def deliverer(self, *, poll_seconds: float = POLL_SECONDS) -> Deliverer:
        return Deliverer(self.outbox, self.relay, poll_seconds=poll_seconds)


class Deliverer:
    """Retries queued messages until each is accepted (2xx) or refused (5xx).

    ``run_once()`` makes one pass; ``start()``/``stop()`` run passes in a background thread (the
    demo: ``deliverer = Deliverer.from_config(app.config).start()`` … ``deliverer.stop()``);
    ``quizmail deliver`` runs it in the foreground. Several deliverers, in one process or
    many, may share an outbox: each message is claimed by one of them at a time. A backlog goes
    in batches of :data:`BATCH_MESSAGES` over one connection each (:func:`deliver_batch`).
    """

    def __init__(self, outbox: Outbox, relay: Relay, *, poll_seconds: float = POLL_SECONDS):
        self.outbox = outbox
        self.relay = relay
        self.poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned_at = float("-inf")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **kwargs: Any) -> Deliverer:
        """The deliverer for an app's configuration: ``Deliverer.from_config(app.config)``."""
        return Notifier.from_config(config).deliverer(**kwargs)

    @property
    def name(self) -> str:
        return f"outbox deliverer to {self.relay.host}:{self.relay.port}"

    def run_once(self) -> list[OutboxRecord]:
        """Try every due message once, in batches over one connection each (RFC 2920 §3.1).

        A message the connection ended before is tried in the next batch; the pass stops early
        when the relay cannot be reached at all (the rest would fail the same way).
        """
        done: list[OutboxRecord] = []
        due = self.outbox.due()
        while due and not self._stopping.is_set():
            chunk, due = due[:BATCH_MESSAGES], due[BATCH_MESSAGES:]
            attempted, untried = self._attempt_batch(chunk)
            done.extend(a.record for a in attempted)
            if not all(a.reached_relay for a in attempted):
                break  # the untried ones stay due for the next pass
            due = untried + due
        self._prune_now_and_then()
        return done

    def run_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:  # e.g. the outbox's disk: log, keep the thread, try again later
                log.exception("outbox pass failed")
            self._stopping.wait(self.poll_seconds)

    def start(self) -> Deliverer:
        self._stopping.clear()
        self._thread = threading.Thread(target=self.run_forever, name="deliverer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Finish the message in hand (never abandon one mid-send), then stop."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _attempt_batch(self, message_ids: list[str]) -> tuple[list[Attempted], list[str]]:
        """Claim and try *message_ids*: what became of each tried, and the ids left untried."""
        with contextlib.ExitStack() as stack:
            claims = [stack.enter_context(c) for c in map(self.outbox.claim, message_ids) if c]
            if not claims:
                return [], []  # sent, claimed by someone else, or not due after all
            try:
                outcomes = deliver_batch(claims, self.relay)
            except Exception as exc:  # a bug must not stall the queue: back off and go on
                log.exception("delivering %s failed", ", ".join(c.record.id for c in claims))
                error = f"internal error: {exc!r}"
                return [Attempted(c.retry_later(error), True) for c in claims if c.held], []
        attempted = [a for a in outcomes if a is not None]
        for record in (a.record for a in attempted):
            outcome = record.reply if record.state == "sent" else record.last_error
            log.info(
                "%s %s to %s: %s", record.state, record.id, ", ".join(record.recipients), outcome
            )
        untried = [c.record.id for c, a in zip(claims, outcomes, strict=True) if a is None]
        return attempted, untried

    def _prune_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = now
            self.outbox.prune()


def _parse_sender(mail_from: str) -> tuple[str, str]:
    """``"QuizMail <quizmail@localhost>"`` → ``("QuizMail", "quizmail@localhost")``."""
    name, address = parseaddr(mail_from)
    if "@" not in address:
        raise ValueError(f"MAIL_FROM must hold an address like quizmail@example.org: {mail_from!r}")
    return name, address


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _without(line: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        line = line.replace(secret, REDACTED)
    return line
