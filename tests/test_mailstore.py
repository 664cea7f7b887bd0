"""MailStore: Maildir per recipient, durable delivery, and an index rebuilt from the Maildirs."""

from __future__ import annotations

import mailbox
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app import store as mailstore
from app.addresses import mailbox_key
from app.store import MailStore, address_of_mailbox, mailbox_name
from app.store.message_view import parse_message


def message(
    subject: str = "Quiz results", body: str = "You scored 8 out of 10.", **fields: str
) -> bytes:
    headers = {
        "From": "Ada Lovelace <ada@example.org>",
        "To": "teacher@school.example",
        "Subject": subject,
        "Date": "Mon, 23 Nov 2026 10:00:00 +0000",
        **fields,
    }
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"{head}\r\n{body}\r\n".encode()


WITH_ATTACHMENT = (
    b"From: ada@example.org\r\nTo: t@school.example\r\nSubject: =?utf-8?q?R=C3=A9sultats?=\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
    b"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Score <b>eighty</b> percent</p>\r\n"
    b"--b1\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=results.csv\r\n"
    b"\r\nquestion,points\r\n--b1--\r\n"
)


@pytest.fixture(params=[True, False], ids=["fts", "like"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MailStore]:
    with MailStore(tmp_path / "mailbox", use_fts=request.param) as opened:
        assert opened.fts is request.param
        yield opened


def test_deliver_stores_one_copy_per_recipient_with_its_own_prefix(store: MailStore) -> None:
    raw = message()
    ids = store.deliver(
        ["a@school.example", "b@school.example"],
        raw,
        prefix=lambda rcpt: f"Delivered-To: {rcpt}\r\n".encode(),
    )
    assert len(set(ids)) == 2
    assert store.get_bytes(ids[0]) == b"Delivered-To: a@school.example\r\n" + raw
    assert store.get_bytes(ids[1]) == b"Delivered-To: b@school.example\r\n" + raw
    assert store.mailboxes() == ["a@school.example", "b@school.example"]
    assert store.keys("a@school.example") == [ids[0]]


def test_copies_are_maildir_messages_readable_by_the_standard_library(store: MailStore) -> None:
    (message_id,) = store.deliver(["a@school.example"], message())
    maildir = mailbox.Maildir(store.root / mailbox_name("a@school.example"), create=False)
    assert list(maildir.keys()) == [message_id]
    assert maildir[message_id]["Subject"] == "Quiz results"


def test_message_ids_are_url_safe(store: MailStore) -> None:
    ids = store.deliver(["a@school.example"], message())
    assert all(c.isalnum() or c in ".-_" for c in ids[0])


def test_delivery_fsyncs_the_file_and_the_new_directory(
    store: MailStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    (message_id,) = store.deliver(["a@school.example"], message())
    maildir = store.root / mailbox_name("a@school.example")
    assert str(maildir / "tmp" / message_id) in synced
    assert str(maildir / "new") in synced
    assert synced.index(str(maildir / "tmp" / message_id)) < synced.index(str(maildir / "new"))


def test_keys_are_oldest_first_and_search_newest_first(store: MailStore) -> None:
    ids = [store.deliver(["a@school.example"], message(f"n{i}"))[0] for i in range(3)]
    assert store.keys("a@school.example") == ids
    assert [s.id for s in store.search()] == ids[::-1]
    assert [s.id for s in store.search(limit=1, offset=1)] == [ids[1]]


def test_search_filters_by_recipient_and_by_text(store: MailStore) -> None:
    store.deliver(["a@school.example"], message("Week 1 quiz", "Well done"))
    store.deliver(["b@school.example"], message("Week 2 quiz", "Try again", From="bob@x.org"))
    assert [s.subject for s in store.search(to="b@school.example")] == ["Week 2 quiz"]
    assert [s.subject for s in store.search(text="well DONE")] == ["Week 1 quiz"]
    assert [s.subject for s in store.search(text="bob@x")] == ["Week 2 quiz"]
    assert [s.subject for s in store.search(text="1")] == ["Week 1 quiz"]
    assert store.count(text="quiz") == 2
    assert store.count(to="a@school.example", text="week 2") == 0
    assert store.search(text='"; DROP TABLE messages; --') == []
    assert store.search(text="100%") == []


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=12))
def test_any_search_text_is_answered(store: MailStore, text: str) -> None:
    if not store.count():  # the store outlives the examples
        store.deliver(["a@school.example"], message("Week 1 quiz", "Well done"))
    assert store.count(text=text) == len(store.search(text=text)) <= store.count()


def test_control_characters_in_a_search_stand_for_blanks(store: MailStore) -> None:
    store.deliver(["a@school.example"], message("Week 1 quiz", "Well done"))
    assert [s.subject for s in store.search(text="well\x00done")] == ["Week 1 quiz"]
    assert store.count(text="\x00\x07") == 1  # nothing left to look for: no filter


def test_search_matches_to_and_cc_fields_and_the_envelope_recipient(store: MailStore) -> None:
    store.deliver(["a@school.example"], message("To field", To="Bob <bob@x.org>"))
    store.deliver(["b@school.example"], message("Cc field", Cc="Carol <carol@y.org>"))
    store.deliver(["dave@school.example"], message("Envelope only", To="undisclosed:;"))
    assert [s.subject for s in store.search(text="bob@x")] == ["To field"]
    assert [s.subject for s in store.search(text="Carol")] == ["Cc field"]
    assert [s.subject for s in store.search(text="dave@")] == ["Envelope only"]


def test_a_mailbox_emptied_by_deletion_is_not_one_with_mail(store: MailStore) -> None:
    (gone,) = store.deliver(["a@school.example"], message("Deleted"))
    store.deliver(["b@school.example"], message("Kept"))
    store.remove(gone)
    assert store.mailboxes() == ["a@school.example", "b@school.example"]
    assert store.mailboxes(with_mail=True) == ["b@school.example"]


def test_recipients_are_compared_ignoring_case(store: MailStore) -> None:
    store.deliver(["Ada@School.EXAMPLE"], message())
    assert store.mailboxes() == ["ada@school.example"]
    assert store.count(to="Ada@school.Example") == 1
    assert store.count(to="ADA@SCHOOL.EXAMPLE") == 1
    assert [s.recipient for s in store.search(to="ada@school.example")] == ["ada@school.example"]


def test_summary_decodes_headers_and_finds_attachments(store: MailStore) -> None:
    (message_id,) = store.deliver(["t@school.example"], WITH_ATTACHMENT)
    summary = store.summary(message_id)
    assert summary.subject == "Résultats"
    assert summary.sender == "ada@example.org"
    assert summary.recipient == "t@school.example"
    assert summary.has_attachments is True
    assert summary.size == len(WITH_ATTACHMENT)
    assert summary.date is None
    assert abs(summary.received_at - datetime.now(UTC)).total_seconds() < 60
    assert [s.id for s in store.search(text="eighty percent")] == [message_id]
    assert store.search(text="<b>") == []


def test_summary_of_a_plain_message(store: MailStore) -> None:
    (message_id,) = store.deliver(["t@school.example"], message())
    summary = store.summary(message_id)
    assert summary.date == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert summary.to == "teacher@school.example"
    assert summary.has_attachments is False


def _forward(attached: EmailMessage, inline_name: str | None = None) -> bytes:
    outer = EmailMessage()
    outer["Subject"] = "Forward"
    outer.set_content("See below.")
    outer.add_attachment(attached)
    if inline_name is not None:
        outer.add_attachment(b"png", maintype="image", subtype="png", filename=inline_name)
        outer.get_payload()[-1].replace_header("Content-Disposition", "inline")
    return outer.as_bytes()


def _attached() -> EmailMessage:
    inner = EmailMessage()
    inner["Subject"] = "Original"
    inner.set_content("Inner text")
    return inner


@pytest.mark.parametrize(
    "raw",
    [
        message(),
        WITH_ATTACHMENT,
        _forward(_attached()),
        _forward(_attached(), inline_name="logo.png"),
    ],
    ids=["plain", "attachment", "attached email", "attached email and named inline image"],
)
def test_the_index_and_the_message_page_agree_on_attachments(store: MailStore, raw: bytes) -> None:
    (message_id,) = store.deliver(["t@school.example"], raw)
    listed = parse_message(store.get_bytes(message_id)).attachments
    assert store.summary(message_id).has_attachments is bool(listed)


def test_remove_and_clear(store: MailStore) -> None:
    first, second = store.deliver(["a@school.example", "b@school.example"], message())
    store.remove(first)
    with pytest.raises(KeyError):
        store.get_bytes(first)
    with pytest.raises(KeyError):
        store.remove(first)
    assert store.count() == 1
    store.clear()
    assert store.mailboxes() == []
    assert store.count() == 0
    with pytest.raises(KeyError):
        store.summary(second)


def test_ids_are_stable_across_restarts(tmp_path: Path) -> None:
    with MailStore(tmp_path) as store:
        ids = store.deliver(["a@school.example"], message())
    with MailStore(tmp_path) as reopened:
        assert reopened.keys("a@school.example") == ids
        assert reopened.get_bytes(ids[0]) == message()


def test_deleted_index_is_rebuilt_from_the_maildirs(tmp_path: Path) -> None:
    with MailStore(tmp_path) as store:
        ids = store.deliver(["a@school.example", "b@school.example"], WITH_ATTACHMENT)
    for path in tmp_path.glob(mailstore.INDEX_FILE + "*"):
        path.unlink()
    with MailStore(tmp_path) as rebuilt:
        assert rebuilt.mailboxes() == ["a@school.example", "b@school.example"]
        assert sorted(s.id for s in rebuilt.search(text="eighty")) == sorted(ids)
        assert rebuilt.summary(ids[0]).has_attachments is True


def test_index_behind_the_maildirs_catches_up(store: MailStore, tmp_path: Path) -> None:
    kept, dropped = (store.deliver(["a@school.example"], message(s))[0] for s in ("kept", "gone"))
    maildir = store.root / mailbox_name("a@school.example")
    (maildir / "new" / dropped).unlink()
    shutil.copy(maildir / "new" / kept, maildir / "cur" / "1700000000.M1P1Q1.elsewhere:2,S")
    other = store.root / mailbox_name("c@school.example")
    mailbox.Maildir(other).add(message("added by hand"))
    assert set(store.keys("a@school.example")) == {kept, "1700000000.M1P1Q1.elsewhere"}
    assert [s.subject for s in store.search(to="c@school.example")] == ["added by hand"]
    with pytest.raises(KeyError):
        store.get_bytes(dropped)


def test_removed_mailbox_directory_leaves_the_index(store: MailStore) -> None:
    store.deliver(["a@school.example", "b@school.example"], message())
    shutil.rmtree(store.root / mailbox_name("a@school.example"))
    assert store.mailboxes() == ["b@school.example"]
    assert store.count() == 1


def test_index_of_another_schema_version_is_rebuilt(tmp_path: Path) -> None:
    with MailStore(tmp_path) as store:
        store.deliver(["a@school.example"], message())
    with sqlite3.connect(tmp_path / mailstore.INDEX_FILE) as db:
        db.execute("PRAGMA user_version = 999")
    db.close()
    with MailStore(tmp_path) as rebuilt:
        assert rebuilt.count() == 1


def test_index_is_in_wal_mode(store: MailStore) -> None:
    store.deliver(["a@school.example"], message())
    db = sqlite3.connect(store.root / mailstore.INDEX_FILE)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_concurrent_deliveries_and_a_second_store_see_every_message(tmp_path: Path) -> None:
    with MailStore(tmp_path) as writer, MailStore(tmp_path) as reader:

        def deliver_many(n: int) -> None:
            for i in range(10):
                writer.deliver([f"s{n}@school.example", "all@school.example"], message(f"{n}-{i}"))

        threads = [threading.Thread(target=deliver_many, args=(n,)) for n in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert reader.count(to="all@school.example") == 50
        assert reader.count() == 100
        assert len(set(reader.keys("all@school.example"))) == 50


def test_unknown_ids_raise_key_error(store: MailStore) -> None:
    with pytest.raises(KeyError):
        store.get_bytes("no-such-id")


#: RFC 5321 §4.5.3.1.3: a path holds at most 256 octets, so an address at most 254.
MAX_ADDRESS_OCTETS = 254
#: Characters a mailbox name holds as they are ("%", "/" and controls take three bytes each).
plain = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="%/.")


@given(st.text(min_size=1, max_size=20) | st.text(plain, min_size=60, max_size=MAX_ADDRESS_OCTETS))
def test_mailbox_names_are_safe_and_reversible(address: str) -> None:
    normalized = mailbox_key(address)
    assume(len(normalized.encode()) <= MAX_ADDRESS_OCTETS)
    name = mailbox_name(address)
    assert "/" not in name
    assert "\0" not in name
    assert not name.startswith(".")
    assert len(name.encode()) <= mailstore.MAX_NAME_BYTES
    assert address_of_mailbox(name) == normalized


def test_long_international_addresses_get_a_utf8_mailbox(store: MailStore) -> None:
    address = "é" * 60 + "@" + "école" * 20 + ".example"  # 249 octets, 569 once percent-encoded
    name = mailbox_name(address)
    assert name == address
    (message_id,) = store.deliver([address], message())
    assert store.mailboxes() == [address]
    assert store.keys(address) == [message_id]


def test_ascii_mailbox_names_are_percent_encoded() -> None:
    assert mailbox_name("a/b%c@Example.ORG") == "a%2Fb%25c@example.org"
    assert mailbox_name(".hidden@example.org") == "%2Ehidden@example.org"


def test_addresses_longer_than_smtp_allows_are_refused() -> None:
    with pytest.raises(ValueError, match="mailbox name"):
        mailbox_name("é" * 200 + "@example.org")


def test_encoded_and_raw_utf8_header_fields_are_indexed_as_text(store: MailStore) -> None:
    raw = (
        "From: =?utf-8?q?Ad=C3=A9le?= <adele@example.org>\r\n"
        "To: élève@école.example\r\nSubject: Résultats du\r\n quiz\r\n\r\nbody\r\n"
    ).encode()
    (message_id,) = store.deliver(["t@school.example"], raw)
    summary = store.summary(message_id)
    assert summary.sender == "Adéle <adele@example.org>"
    assert summary.to == "élève@école.example"
    assert summary.subject == "Résultats du quiz"
    assert [s.id for s in store.search(text="adéle")] == [message_id]


def test_concurrent_deliveries_share_a_directory_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MailStore(tmp_path)
    store.deliver(["a@school.example"], message())  # the Maildir exists from here on
    new_dir_syncs: list[int] = []
    leader_syncing, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("/new"):
            new_dir_syncs.append(fd)
            if len(new_dir_syncs) == 1:  # hold the first commit until the others have queued
                leader_syncing.set()
                release.wait(30)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)

    def deliver() -> None:
        store.deliver(["a@school.example"], message())

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    threads[0].start()
    assert leader_syncing.wait(30)
    for thread in threads[1:]:
        thread.start()
    for _ in range(3000):  # bounded wait until the four followers are queued
        if store.writer.syncer.queued == 4:
            break
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join()
    assert len(new_dir_syncs) == 2  # the leader's own, then one for the four queued meanwhile
    assert store.count() == 6
    store.close()


def test_submitted_deliveries_are_on_disk_when_they_are_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a server answers 250 on: each copy's file, then its new/ directory after the rename
    into it, are fsynced before ``on_done``, also for deliveries that shared a batch."""
    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    real_fsync, real_rename = os.fsync, os.rename

    def record(event: str, what: str) -> None:
        with lock:
            events.append((event, what))

    def fsync(fd: int) -> None:
        real_fsync(fd)
        record("fsync", os.readlink(f"/proc/self/fd/{fd}"))

    def rename(src: str, dst: str, **dir_fds: int) -> None:
        real_rename(src, dst, **dir_fds)
        record("rename", src)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    store = MailStore(tmp_path)
    first_written, go_on = threading.Event(), threading.Event()

    def held_prefix(recipient: str) -> bytes:  # runs in the writer: the others queue meanwhile
        first_written.set()
        assert go_on.wait(30)
        return b""

    finished = threading.Semaphore(0)

    def on_done(delivery: mailstore.Delivery) -> None:
        record("done", ",".join(delivery.ids))
        finished.release()

    deliveries = [store.submit(["a@school.example"], message(), held_prefix, on_done)]
    assert first_written.wait(30)
    recipients = ["a@school.example", "b@school.example"]
    deliveries += [store.submit(recipients, message(f"n{i}"), None, on_done) for i in range(6)]
    go_on.set()
    for _ in deliveries:
        assert finished.acquire(timeout=30)
    store.close()

    assert all(d.error is None for d in deliveries)
    for delivery in deliveries:
        done_at = events.index(("done", ",".join(delivery.ids)))
        for key, recipient in zip(delivery.ids, delivery.recipients, strict=True):
            maildir = str(tmp_path / mailbox_name(recipient))
            file_synced = events.index(("fsync", f"{maildir}/tmp/{key}"))
            renamed = events.index(("rename", key))
            dir_synced = events.index(("fsync", f"{maildir}/new"), renamed)
            assert file_synced < renamed < dir_synced < done_at
            assert (Path(maildir) / "new" / key).is_file()
    new_dir_syncs = [what for event, what in events if event == "fsync" and what.endswith("/new")]
    assert len(new_dir_syncs) < len(deliveries)  # the six queued ones shared their syncs


def test_a_failing_delivery_does_not_fail_the_others_of_its_batch(tmp_path: Path) -> None:
    store = MailStore(tmp_path)
    (tmp_path / mailbox_name("blocked@school.example")).write_text("not a Maildir")
    first_written, go_on = threading.Event(), threading.Event()

    def held_prefix(recipient: str) -> bytes:
        first_written.set()
        assert go_on.wait(30)
        return b""

    finished = threading.Semaphore(0)

    def on_done(delivery: mailstore.Delivery) -> None:
        finished.release()

    submitted = [store.submit(["a@school.example"], message(), held_prefix, on_done)]
    assert first_written.wait(30)
    for recipients in (["b@school.example"], ["blocked@school.example"], ["c@school.example"]):
        submitted.append(store.submit(recipients, message(), None, on_done))
    go_on.set()
    for _ in submitted:
        assert finished.acquire(timeout=30)
    assert [d.error is None for d in submitted] == [True, True, False, True]
    assert store.mailboxes() == ["a@school.example", "b@school.example", "c@school.example"]
    store.close()


def test_delivery_goes_on_after_another_store_removed_the_maildir(tmp_path: Path) -> None:
    with MailStore(tmp_path) as store, MailStore(tmp_path) as other:
        store.deliver(["a@school.example"], message("before"))  # keeps the Maildir open
        other.clear()  # as the web app does, in another process
        (message_id,) = store.deliver(["a@school.example"], message("after"))
        assert other.keys("a@school.example") == [message_id]
        store.clear()
        (message_id,) = store.deliver(["a@school.example"], message("again"))
        assert other.keys("a@school.example") == [message_id]


def test_a_corrupt_index_is_replaced(tmp_path: Path) -> None:
    with MailStore(tmp_path) as store:
        store.deliver(["a@school.example"], message())
    for path in tmp_path.glob(mailstore.INDEX_FILE + "*"):
        path.unlink()
    (tmp_path / mailstore.INDEX_FILE).write_bytes(b"this is not a database" * 100)
    with MailStore(tmp_path) as rebuilt:
        assert rebuilt.count() == 1


# --- one mailbox, whatever case its address is written in (app.addresses.mailbox_key) -----------


def test_two_spellings_over_time_fill_one_maildir(store: MailStore) -> None:
    first = store.deliver(["Ada@School.example"], message("First"))
    second = store.deliver(["ada@school.EXAMPLE"], message("Second"))
    assert [p.name for p in store.root.iterdir() if p.is_dir()] == ["ada@school.example"]
    assert store.mailboxes() == ["ada@school.example"]
    assert store.keys("ADA@school.example") == first + second


def test_two_spellings_in_one_delivery_get_one_copy(store: MailStore) -> None:
    ids = store.deliver(
        ["Ada@school.example", "ada@school.example", "bo@school.example"], message()
    )
    assert len(ids) == 2
    assert store.count(to="ada@school.example") == 1


def _legacy_maildir(root: Path, name: str, subject: str) -> str:
    """A Maildir named as stores did before mailboxes were named by their key, with a message."""
    root.mkdir(exist_ok=True)
    return mailbox.Maildir(root / name, create=True).add(message(subject))


def test_a_mailbox_kept_in_a_maildir_per_spelling_is_one_mailbox(tmp_path: Path) -> None:
    root = tmp_path / "mailbox"
    upper = _legacy_maildir(root, "Ada@school.example", "Upper")
    lower = _legacy_maildir(root, "ada@school.example", "Lower")
    with MailStore(root) as store:
        assert store.mailboxes() == ["ada@school.example"]
        assert sorted(store.keys("ADA@School.example")) == sorted([upper, lower])
        found = store.search(to="Ada@school.example")
        assert sorted(s.subject for s in found) == ["Lower", "Upper"]
        assert {s.recipient for s in found} == {"ada@school.example"}
        assert store.maildirs("ada@school.example") == [
            root / "Ada@school.example",
            root / "ada@school.example",
        ]
        (new,) = store.deliver(["ADA@school.example"], message("New"))
        assert store.count(to="ada@school.example") == 3
        store.remove(upper)
        assert sorted(store.keys("ada@school.example")) == sorted([lower, new])
        assert store.get_bytes(lower).endswith(b"You scored 8 out of 10.\r\n")


def test_an_index_of_the_previous_schema_is_rebuilt_by_key(tmp_path: Path) -> None:
    root = tmp_path / "mailbox"
    with MailStore(root) as store:
        store.deliver(["ada@school.example"], message())
    _legacy_maildir(root, "Ada@school.example", "Upper")
    with sqlite3.connect(root / mailstore.INDEX_FILE) as db:
        db.execute("PRAGMA user_version = 3")
    with MailStore(root) as store:
        assert store.count(to="ADA@school.example") == 2
        assert store.mailboxes() == ["ada@school.example"]
