"""notify: one attempt, its outcome and the deliverer's retries, against a real aiosmtpd relay."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from notify_support import LocalRelay
from test_ratelimit import FakeClock

from app.notify import (
    BATCH_MESSAGES,
    KEEP_IDLE_SECONDS,
    Deliverer,
    KeptConnections,
    Notifier,
    Relay,
    deliver,
    explain,
    explain_reply,
)
from app.outbox import Backoff, Outbox, OutboxRecord

MESSAGE = b"From: q@localhost\r\nTo: ada@example.org\r\nSubject: hi\r\n\r\n.leading dot\r\n"
SENDER = "quizmail@localhost"
ADA = "ada@example.org"


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    """Retries are due at once (zero backoff), so a test needs no clock games."""
    return Outbox(tmp_path / "outbox", backoff=Backoff(first=0, cap=0))


def relay_at(relay: LocalRelay, **kwargs: object) -> Relay:
    return Relay("127.0.0.1", relay.port, timeout=5, **kwargs)  # type: ignore[arg-type]


def deliverer(outbox: Outbox, relay: LocalRelay) -> Deliverer:
    return Deliverer(outbox, relay_at(relay), poll_seconds=0.01)


def test_accepted_message_is_sent_once_and_recorded(outbox: Outbox, running_relay) -> None:
    with outbox.hold_new(MESSAGE, SENDER, [ADA]) as claim:
        attempted = deliver(claim, relay_at(running_relay))
    record = attempted.record
    assert (record.state, record.attempts, attempted.reached_relay) == ("sent", 1, True)
    assert record.reply == "250 2.0.0 Message accepted for delivery"
    assert any(line.startswith("C: MAIL FROM:<quizmail@localhost>") for line in record.transcript)
    assert [(c.sender, c.recipients, c.data) for c in running_relay.captured] == [
        (SENDER, [ADA], MESSAGE)
    ]
    assert deliverer(outbox, running_relay).run_once() == []
    assert len(running_relay.captured) == 1


def test_relay_down_queues_then_delivers_exactly_once_when_back(
    outbox: Outbox, relay: LocalRelay
) -> None:
    with outbox.hold_new(MESSAGE, SENDER, [ADA]) as claim:
        attempted = deliver(claim, relay_at(relay))
    assert (attempted.record.state, attempted.reached_relay) == ("queued", False)
    assert attempted.record.last_error is not None
    assert explain(attempted.record).startswith("The mail server could not be reached.")
    assert deliverer(outbox, relay).run_once()[0].state == "queued"  # still down
    relay.start()
    [record] = deliverer(outbox, relay).run_once()
    assert (record.state, record.attempts) == ("sent", 3)
    assert deliverer(outbox, relay).run_once() == []
    assert len(relay.captured) == 1


def test_transient_reply_is_retried_then_accepted(outbox: Outbox, running_relay) -> None:
    running_relay.handler.data_replies.append("451 4.3.0 Try again later")
    with outbox.hold_new(MESSAGE, SENDER, [ADA]) as claim:
        record = deliver(claim, relay_at(running_relay)).record
    assert (record.state, record.last_error) == ("queued", "451 4.3.0 Try again later")
    assert "tries again" in explain(record)
    assert running_relay.captured == []
    [record] = deliverer(outbox, running_relay).run_once()
    assert record.state == "sent"
    assert len(running_relay.captured) == 1


def test_transient_recipient_refusal_is_retried(outbox: Outbox, running_relay) -> None:
    running_relay.handler.rcpt_replies[ADA] = "450 4.2.1 Mailbox busy"
    with outbox.hold_new(MESSAGE, SENDER, [ADA]) as claim:
        record = deliver(claim, relay_at(running_relay)).record
    assert (record.state, record.last_error) == ("queued", "450 4.2.1 Mailbox busy")
    del running_relay.handler.rcpt_replies[ADA]
    assert deliverer(outbox, running_relay).run_once()[0].state == "sent"


def test_permanent_refusal_fails_and_is_never_retried(outbox: Outbox, running_relay) -> None:
    running_relay.handler.rcpt_replies[ADA] = "550 No such user here"
    with outbox.hold_new(MESSAGE, SENDER, [ADA]) as claim:
        record = deliver(claim, relay_at(running_relay)).record
    assert (record.state, record.reply) == ("failed", "550 No such user here")
    assert explain(record).startswith("The mail server says this mailbox does not exist")
    del running_relay.handler.rcpt_replies[ADA]
    assert deliverer(outbox, running_relay).run_once() == []
    assert running_relay.captured == []
    assert outbox.counts() == {"queued": 0, "sent": 0, "failed": 1}


def test_permanent_refusal_of_the_message_fails(outbox: Outbox, running_relay) -> None:
    running_relay.handler.data_replies.append("554 5.7.1 Message rejected as spam")
    with outbox.hold_new(MESSAGE, SENDER, [ADA]) as claim:
        record = deliver(claim, relay_at(running_relay)).record
    assert (record.state, record.reply) == ("failed", "554 5.7.1 Message rejected as spam")


def test_one_refused_recipient_does_not_stop_the_others(outbox: Outbox, running_relay) -> None:
    running_relay.handler.rcpt_replies["bob@example.org"] = "550 No such user here"
    with outbox.hold_new(MESSAGE, SENDER, [ADA, "bob@example.org"]) as claim:
        record = deliver(claim, relay_at(running_relay)).record
    assert record.state == "sent"
    assert [c.recipients for c in running_relay.captured] == [[ADA]]


def test_a_local_error_is_not_retried(outbox: Outbox, running_relay) -> None:
    with outbox.hold_new(MESSAGE, "bad\r\nsender@localhost", [ADA]) as claim:
        record = deliver(claim, relay_at(running_relay)).record
    assert record.state == "failed"
    assert record.reply is None
    assert explain(record).startswith("QuizMail could not send this message:")


def test_a_new_deliverer_over_the_same_outbox_sends_what_was_queued(
    outbox: Outbox, relay: LocalRelay
) -> None:
    message_id = outbox.enqueue(MESSAGE, SENDER, [ADA])
    deliverer(outbox, relay).run_once()  # relay down: attempt recorded on disk
    relay.start()
    restarted = Deliverer(Outbox(outbox.root, backoff=outbox.backoff), relay_at(relay))
    [record] = restarted.run_once()
    assert (record.id, record.state) == (message_id, "sent")
    assert len(relay.captured) == 1


def test_a_pass_sends_everything_due_on_one_connection(outbox: Outbox, relay: LocalRelay) -> None:
    for _ in range(3):
        outbox.enqueue(MESSAGE, SENDER, [ADA])
    relay.start()
    assert [r.state for r in deliverer(outbox, relay).run_once()] == ["sent"] * 3
    assert (relay.handler.connections, len(relay.captured)) == (1, 3)


def test_a_pass_stops_at_the_first_unreachable_relay(outbox: Outbox, relay: LocalRelay) -> None:
    for _ in range(3):
        outbox.enqueue(MESSAGE, SENDER, [ADA])
    assert len(deliverer(outbox, relay).run_once()) == 1
    assert len(outbox.due()) == 3


def test_background_deliverer_sends_and_stops(outbox: Outbox, running_relay) -> None:
    arrived = threading.Event()
    handle_data = running_relay.handler.handle_DATA

    async def signal_arrival(*args: object) -> str:
        reply = await handle_data(*args)
        arrived.set()
        return reply

    running_relay.handler.handle_DATA = signal_arrival  # type: ignore[method-assign]
    outbox.enqueue(MESSAGE, SENDER, [ADA])
    background = deliverer(outbox, running_relay).start()
    try:
        assert arrived.wait(30)
    finally:
        background.stop(timeout=30)
    assert len(running_relay.captured) == 1
    assert outbox.counts()["queued"] == 0


def test_transcript_never_shows_the_password() -> None:
    relay = Relay("h", 25, username="ada", password="hunter2")
    lines = ["C: AUTH PLAIN AGFkYQBodW50ZXIy", "S: 535 hunter2 is wrong", "C: aHVudGVyMg=="]
    redacted = "\n".join(relay.redact(lines))
    assert "hunter2" not in redacted
    assert "aHVudGVyMg==" not in redacted
    assert "AGFkYQBodW50ZXIy" not in redacted
    assert "hunter2" not in repr(relay)


@pytest.mark.parametrize(
    ("reply", "start"),
    [
        ("550 5.1.1 No such user here", "The mail server says this mailbox does not exist"),
        ("550 No such user here", "The mail server says this mailbox does not exist"),
        ("550 5.7.1 We do not relay messages", "The mail server does not take mail for this"),
        ("552 5.2.2 Mailbox full", "This mailbox is full"),
        ("452 4.2.2 Over quota", "This mailbox is full. QuizMail keeps the message"),
        ("599 odd", "The mail server refused the message for good"),
        ("421 closing", "The mail server is closing the connection"),
        ("452 full", "The mail server has run out of room"),
        (None, "The mail server could not be reached"),
        ("connection refused", "The mail server could not be reached"),
    ],
)
def test_replies_are_explained_in_plain_words(reply: str | None, start: str) -> None:
    assert explain_reply(reply).startswith(start)


# -- connections kept for the next message --------------------------------------------------------


@pytest.fixture
def kept() -> Iterator[KeptConnections]:
    connections = KeptConnections()
    yield connections
    connections.close()


def send_with(outbox: Outbox, relay: LocalRelay, kept: KeptConnections, to: str) -> OutboxRecord:
    with outbox.hold_new(MESSAGE, SENDER, [to], durable=False) as claim:
        return deliver(claim, relay_at(relay), kept=kept).record


def test_messages_in_a_row_share_one_connection(
    outbox: Outbox, running_relay: LocalRelay, kept: KeptConnections
) -> None:
    first = send_with(outbox, running_relay, kept, ADA)
    second = send_with(outbox, running_relay, kept, "bob@example.org")
    assert (first.state, second.state) == ("sent", "sent")
    assert running_relay.handler.connections == 1
    assert [c.recipients for c in running_relay.captured] == [[ADA], ["bob@example.org"]]
    assert second.transcript[0].startswith("-- on a connection kept")
    assert not any(ADA in line for line in second.transcript)  # not the previous student's


def test_a_kept_connection_closed_by_the_server_is_replaced_without_a_duplicate(
    outbox: Outbox, running_relay: LocalRelay, kept: KeptConnections
) -> None:
    send_with(outbox, running_relay, kept, ADA)
    running_relay.stop()  # the server goes away (and comes back): the kept socket is dead
    running_relay.start()
    record = send_with(outbox, running_relay, kept, "bob@example.org")
    assert record.state == "sent"
    assert [c.recipients for c in running_relay.captured] == [[ADA], ["bob@example.org"]]
    assert not record.transcript[0].startswith("-- on a connection kept")


def test_a_connection_idle_too_long_is_not_reused(
    outbox: Outbox, running_relay: LocalRelay
) -> None:
    clock = FakeClock()
    kept = KeptConnections(clock=clock)
    send_with(outbox, running_relay, kept, ADA)
    clock.now += KEEP_IDLE_SECONDS
    send_with(outbox, running_relay, kept, ADA)
    kept.close()
    assert running_relay.handler.connections == 2
    assert len(running_relay.captured) == 2


def test_a_connection_is_closed_after_enough_messages(
    outbox: Outbox,
    running_relay: LocalRelay,
    kept: KeptConnections,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("app.notify.KEEP_MAX_MESSAGES", 2)
    for _ in range(3):
        send_with(outbox, running_relay, kept, ADA)
    assert running_relay.handler.connections == 2


def test_a_refusal_on_a_kept_connection_is_final_and_drops_it(
    outbox: Outbox, running_relay: LocalRelay, kept: KeptConnections
) -> None:
    send_with(outbox, running_relay, kept, ADA)
    running_relay.handler.rcpt_replies["nobody@example.org"] = "550 No such user here"
    record = send_with(outbox, running_relay, kept, "nobody@example.org")
    assert (record.state, record.reply) == ("failed", "550 No such user here")
    send_with(outbox, running_relay, kept, ADA)
    assert running_relay.handler.connections == 2
    assert [c.recipients for c in running_relay.captured] == [[ADA], [ADA]]


def test_a_forked_worker_does_not_use_its_parents_connection(
    outbox: Outbox, running_relay: LocalRelay, kept: KeptConnections
) -> None:
    send_with(outbox, running_relay, kept, ADA)
    parents = kept.take()
    assert parents is not None
    parents.pid = -1  # as seen from a child process
    kept.give_back(parents)
    send_with(outbox, running_relay, kept, ADA)
    parents.client.close()
    assert running_relay.handler.connections == 2


def test_relay_settings_come_from_the_configuration(app: Flask) -> None:
    app.config.update(
        SMTP_HOST="relay.example.org",
        SMTP_PORT=587,
        SMTP_SECURITY="starttls",
        SMTP_USER="quizmail",
        SMTP_PASSWORD="s3cret",
        SMTP_TIMEOUT=7.5,
    )
    client = Relay.from_config(app.config).client()
    assert (client.host, client.port, client.security) == ("relay.example.org", 587, "starttls")
    assert (client.username, client.timeout) == ("quizmail", 7.5)


def test_mail_from_must_hold_an_address(app: Flask) -> None:
    app.config["MAIL_FROM"] = "QuizMail"
    with pytest.raises(ValueError, match="MAIL_FROM must hold an address"):
        Notifier.from_config(app.config)


# -- the deliverer drains a backlog in batches ---------------------------------------------------

BACKLOG = ["ada@example.org", "bob@example.org", "carol@example.org", "dave@example.org"]


def queue_backlog(outbox: Outbox) -> dict[str, str]:
    """One queued message for each address of BACKLOG; their ids by address."""
    return {to: outbox.enqueue(MESSAGE, SENDER, [to]) for to in BACKLOG}


def answer_data_to(relay: LocalRelay, address: str, reply: str) -> None:
    """Make *relay* answer *reply* to the message data of a message to *address* alone."""
    handle_data = relay.handler.handle_DATA

    async def answer(server: object, session: object, envelope: Any) -> str:
        if envelope.rcpt_tos == [address]:
            return reply
        return await handle_data(server, session, envelope)

    relay.handler.handle_DATA = answer  # type: ignore[method-assign]


def test_a_backlog_goes_in_one_batch_each_outcome_recorded_as_alone(
    outbox: Outbox, running_relay: LocalRelay
) -> None:
    running_relay.handler.rcpt_replies = {
        "bob@example.org": "550 5.1.1 No such user",
        "carol@example.org": "450 4.2.1 Mailbox busy",
    }
    ids = queue_backlog(outbox)
    records = {r.recipients[0]: r for r in deliverer(outbox, running_relay).run_once()}
    assert {to: r.state for to, r in records.items()} == {
        "ada@example.org": "sent",
        "bob@example.org": "failed",
        "carol@example.org": "queued",
        "dave@example.org": "sent",
    }
    assert running_relay.handler.connections == 1
    assert [c.recipients for c in running_relay.captured] == [
        ["ada@example.org"],
        ["dave@example.org"],
    ]
    assert records["carol@example.org"].next_try >= records["carol@example.org"].queued_at
    assert outbox.due() == [ids["carol@example.org"]]  # only the 4xx one, to be retried


def test_a_message_refused_with_5xx_mid_batch_fails_and_the_others_are_sent_once(
    outbox: Outbox, running_relay: LocalRelay
) -> None:
    answer_data_to(running_relay, "bob@example.org", "554 5.7.1 Message refused")
    ids = queue_backlog(outbox)
    records = {r.recipients[0]: r for r in deliverer(outbox, running_relay).run_once()}
    bob = records.pop("bob@example.org")
    assert (bob.state, bob.reply) == ("failed", "554 5.7.1 Message refused")
    assert {r.state for r in records.values()} == {"sent"}
    assert sorted(c.recipients[0] for c in running_relay.captured) == sorted(records)
    assert deliverer(outbox, running_relay).run_once() == []  # never sent twice
    assert outbox.lookup(ids["bob@example.org"]).state == "failed"  # type: ignore[union-attr]
    # Each record holds its own message's lines, never another student's address.
    others = [to for to in BACKLOG if to != "bob@example.org"]
    assert any("RCPT TO:<bob@example.org>" in line for line in bob.transcript)
    assert not any(to in line for line in bob.transcript for to in others)


def test_a_backlog_larger_than_a_batch_uses_one_connection_a_batch(
    outbox: Outbox, running_relay: LocalRelay
) -> None:
    for n in range(BATCH_MESSAGES + 1):
        outbox.enqueue(MESSAGE, SENDER, [f"s{n}@example.org"])
    records = deliverer(outbox, running_relay).run_once()
    assert [r.state for r in records] == ["sent"] * (BATCH_MESSAGES + 1)
    assert running_relay.handler.connections == 2


def test_after_a_421_mid_batch_the_untried_messages_go_on_a_new_connection(
    outbox: Outbox, running_relay: LocalRelay
) -> None:
    answer_data_to(running_relay, "bob@example.org", "421 4.3.2 Shutting down")
    queue_backlog(outbox)
    records = deliverer(outbox, running_relay).run_once()
    states = {r.recipients[0]: (r.state, r.attempts) for r in records}
    assert states["bob@example.org"] == ("queued", 1)
    assert {to: s for to, s in states.items() if to != "bob@example.org"} == {
        to: ("sent", 1) for to in BACKLOG if to != "bob@example.org"
    }
    assert len(records) == len(BACKLOG)  # each tried once, none twice
    assert sorted(c.recipients[0] for c in running_relay.captured) == sorted(
        to for to in BACKLOG if to != "bob@example.org"
    )
