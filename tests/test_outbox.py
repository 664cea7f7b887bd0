"""Outbox: durable queueing, exclusive claims across processes, backoff, sent/failed moves."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_ratelimit import FakeClock

from app.outbox import Backoff, Outbox, OutboxRecord

MESSAGE = b"Subject: hi\r\n\r\nline one\r\n.dot\r\n\x00\xff binary too\r\n"
SENDER = "quizmail@localhost"
RECIPIENTS = ("ada@example.org",)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def outbox(tmp_path: Path, clock: FakeClock) -> Outbox:
    return Outbox(tmp_path / "outbox", backoff=Backoff(first=10, cap=60, give_up=1000), clock=clock)


def same_dir(outbox: Outbox) -> Outbox:
    """Another process's view of the same outbox (its own file descriptors and locks)."""
    return Outbox(outbox.root, backoff=outbox.backoff, clock=outbox.clock)


def files_in(outbox: Outbox, directory: str) -> list[str]:
    return sorted(os.listdir(outbox.root / directory))


# -- queueing -------------------------------------------------------------------------------------


def test_held_message_is_on_disk_before_hold_new_returns(outbox: Outbox) -> None:
    with outbox.hold_new(MESSAGE, SENDER, RECIPIENTS, info={"subject": "Résultats"}) as claim:
        assert files_in(outbox, "queue") == [claim.record.id]
        assert files_in(outbox, "tmp") == []
        record = same_dir(outbox).lookup(claim.record.id)
    assert record == claim.record
    assert record.state == "queued"
    assert record.info == {"subject": "Résultats"}


def test_message_bytes_survive_a_new_instance_exactly(outbox: Outbox) -> None:
    message_id = outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    claim = same_dir(outbox).claim(message_id)
    assert claim is not None
    assert claim.message == MESSAGE
    assert claim.record.sender == SENDER
    assert claim.record.recipients == RECIPIENTS


def test_held_message_cannot_be_claimed_by_anyone_else(outbox: Outbox) -> None:
    other = same_dir(outbox)
    with outbox.hold_new(MESSAGE, SENDER, RECIPIENTS) as claim:
        assert other.claim(claim.record.id) is None
    assert other.claim(claim.record.id) is not None


def test_unresolved_claim_stays_queued_and_due(outbox: Outbox) -> None:
    message_id = outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    assert outbox.due() == [message_id]
    with outbox.claim(message_id):
        pass
    assert outbox.due() == [message_id]


def test_due_lists_soonest_first(outbox: Outbox, clock: FakeClock) -> None:
    first = outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    clock.now += 1
    second = outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    assert outbox.due() == [first, second]


# -- outcomes -------------------------------------------------------------------------------------


def test_delivered_moves_to_sent_with_the_reply(outbox: Outbox, clock: FakeClock) -> None:
    message_id = outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    claim = outbox.claim(message_id)
    assert claim is not None
    record = claim.delivered(reply="250 OK", transcript=["C: QUIT", "S: 221 Bye"])
    assert files_in(outbox, "queue") == []
    assert files_in(outbox, "sent") == [message_id]
    assert outbox.lookup(message_id) == record
    assert (record.state, record.reply, record.attempts) == ("sent", "250 OK", 1)
    assert record.transcript == ("C: QUIT", "S: 221 Bye")
    assert record.finished_at == clock.now


def test_delivered_message_is_never_claimed_again(outbox: Outbox) -> None:
    message_id = outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    claim = outbox.claim(message_id)
    assert claim is not None
    claim.delivered(reply="250 OK")
    assert outbox.due() == []
    assert same_dir(outbox).claim(message_id) is None


def test_refused_moves_to_failed_with_the_error(outbox: Outbox) -> None:
    message_id = outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    claim = outbox.claim(message_id)
    assert claim is not None
    claim.refused("550 No such user here", reply="550 No such user here")
    assert files_in(outbox, "failed") == [message_id]
    assert outbox.due() == []
    record = outbox.lookup(message_id)
    assert record is not None
    assert (record.state, record.last_error) == ("failed", "550 No such user here")


def test_retry_later_waits_the_backoff_then_is_due_again(outbox: Outbox, clock: FakeClock) -> None:
    message_id = outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    claim = outbox.claim(message_id)
    assert claim is not None
    record = claim.retry_later("connection refused")
    assert (record.attempts, record.next_try, record.last_error) == (
        1,
        clock.now + 10,
        "connection refused",
    )
    assert outbox.due() == []
    assert outbox.claim(message_id) is None
    clock.now += 10
    assert outbox.due() == [message_id]
    assert outbox.claim(message_id) is not None


def test_successive_retries_back_off_exponentially_up_to_the_cap(
    outbox: Outbox, clock: FakeClock
) -> None:
    message_id = outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    waits = []
    for _ in range(5):
        claim = outbox.claim(message_id)
        assert claim is not None
        waits.append(claim.retry_later("421 try later").next_try - clock.now)
        clock.now += waits[-1]
    assert waits == [10, 20, 40, 60, 60]


def test_retry_can_narrow_the_recipients(outbox: Outbox) -> None:
    message_id = outbox.enqueue(MESSAGE, SENDER, ("a@example.org", "b@example.org"))
    claim = outbox.claim(message_id)
    assert claim is not None
    record = claim.retry_later("451 b later", recipients=["b@example.org"])
    assert record.recipients == ("b@example.org",)


def test_retries_give_up_after_the_give_up_age(outbox: Outbox, clock: FakeClock) -> None:
    message_id = outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    clock.now += 1000
    claim = outbox.claim(message_id)
    assert claim is not None
    record = claim.retry_later("421 still down")
    assert record.state == "failed"
    assert record.last_error is not None
    assert "gave up" in record.last_error
    assert "421 still down" in record.last_error


def test_a_resolved_claim_cannot_be_resolved_again(outbox: Outbox) -> None:
    claim = outbox.hold_new(MESSAGE, SENDER, RECIPIENTS)
    claim.delivered(reply="250 OK")
    with pytest.raises(RuntimeError, match="already resolved"):
        claim.refused("550 no")


def test_stale_queue_copy_of_a_sent_message_is_dropped_not_sent(outbox: Outbox) -> None:
    claim = outbox.hold_new(MESSAGE, SENDER, RECIPIENTS)
    message_id = claim.record.id
    queued_copy = (outbox.root / "queue" / message_id).read_bytes()
    claim.delivered(reply="250 OK")
    # A crash between writing sent/ and unlinking queue/ leaves both copies.
    (outbox.root / "queue" / message_id).write_bytes(queued_copy)
    assert outbox.claim(message_id) is None
    assert files_in(outbox, "queue") == []
    record = outbox.lookup(message_id)
    assert record is not None
    assert record.state == "sent"


# -- looking and pruning --------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["../secret_key", "", "x" * 21, "a/b" + "c" * 19])
def test_lookup_accepts_only_outbox_ids(outbox: Outbox, bad_id: str) -> None:
    assert outbox.lookup(bad_id) is None


def test_counts_and_records_by_state(outbox: Outbox) -> None:
    outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    outbox.hold_new(MESSAGE, SENDER, RECIPIENTS).delivered(reply="250 OK")
    assert outbox.counts() == {"queued": 1, "sent": 1, "failed": 0}
    assert [r.state for r in outbox.records("sent")] == ["sent"]


def test_prune_removes_only_old_sent_records(outbox: Outbox, clock: FakeClock) -> None:
    old = outbox.hold_new(MESSAGE, SENDER, RECIPIENTS).delivered(reply="250 OK")
    clock.now += 100
    new = outbox.hold_new(MESSAGE, SENDER, RECIPIENTS).delivered(reply="250 OK")
    queued = outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    assert outbox.prune(sent_older_than=50) == 1
    assert outbox.lookup(old.id) is None
    assert outbox.lookup(new.id) is not None
    assert outbox.lookup(queued) is not None


@given(attempts=st.integers(min_value=1, max_value=10_000))
def test_backoff_is_positive_growing_and_capped(attempts: int) -> None:
    backoff = Backoff(first=5, cap=300)
    assert 5 <= backoff.delay(attempts) <= 300
    assert backoff.delay(attempts + 1) >= backoff.delay(attempts)


def test_record_json_round_trips() -> None:
    record = OutboxRecord(
        id="a" * 22,
        sender=SENDER,
        recipients=RECIPIENTS,
        queued_at=1.5,
        transcript=("S: 220 hi",),
        info={"subject": "Ünïcode — ok"},
    )
    assert OutboxRecord.from_json(record.to_json()) == record


# -- several processes ----------------------------------------------------------------------------


def _hold_until_killed(root: str, message_id: str, held: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    claim = Outbox(root).claim(message_id)
    assert claim is not None
    held.set()
    multiprocessing.Event().wait()  # never set: hold the claim until terminated


def test_a_killed_holder_frees_its_message_at_once(outbox: Outbox) -> None:
    message_id = outbox.enqueue(MESSAGE, SENDER, RECIPIENTS)
    ctx = multiprocessing.get_context("spawn")
    held = ctx.Event()
    holder = ctx.Process(target=_hold_until_killed, args=(str(outbox.root), message_id, held))
    holder.start()
    try:
        assert held.wait(60)
        assert outbox.claim(message_id) is None
    finally:
        holder.kill()
        holder.join()
    assert outbox.claim(message_id) is not None


def _deliver_everything(root: str, log: str, start: multiprocessing.Barrier) -> None:  # type: ignore[valid-type]
    outbox = Outbox(root)
    start.wait()  # type: ignore[attr-defined]
    for message_id in outbox.due():
        claim = outbox.claim(message_id)
        if claim is None:
            continue
        with open(log, "a") as f:  # one short append per line: atomic with O_APPEND
            f.write(message_id + "\n")
        claim.delivered(reply="250 OK")


def test_concurrent_deliverers_never_send_a_message_twice(outbox: Outbox, tmp_path: Path) -> None:
    ids = {outbox.enqueue(MESSAGE, SENDER, RECIPIENTS) for _ in range(200)}
    log = tmp_path / "sent.log"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(3)
    workers = [
        ctx.Process(target=_deliver_everything, args=(str(outbox.root), str(log), start))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    sent = log.read_text().split()
    assert sorted(sent) == sorted(ids)
    assert set(files_in(outbox, "sent")) == ids


def test_a_message_held_without_fsync_is_still_there_for_the_deliverer(outbox: Outbox) -> None:
    with outbox.hold_new(MESSAGE, SENDER, RECIPIENTS, durable=False) as claim:
        message_id = claim.record.id
    # The holder went away without resolving it (say it crashed mid-send): someone else sends it.
    claim = same_dir(outbox).claim(message_id)
    assert claim is not None
    assert claim.message == MESSAGE


def test_a_sent_record_cut_short_by_a_power_cut_still_blocks_a_resend(outbox: Outbox) -> None:
    claim = outbox.hold_new(MESSAGE, SENDER, RECIPIENTS)
    message_id = claim.record.id
    queued_copy = (outbox.root / "queue" / message_id).read_bytes()
    claim.delivered(reply="250 OK")
    (outbox.root / "sent" / message_id).write_bytes(b"")  # its content never reached the disk
    (outbox.root / "queue" / message_id).write_bytes(queued_copy)  # nor did the unlink
    assert outbox.lookup(message_id) is None
    assert outbox.records("sent") == []
    assert outbox.claim(message_id) is None
    assert files_in(outbox, "queue") == []
