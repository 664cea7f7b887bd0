"""The capture server, driven by independent clients: smtplib, a raw socket, swaks."""

from __future__ import annotations

import email
import shutil
import smtplib
import sqlite3
import subprocess
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest
from capture_helpers import RawClient, StartServer

from app.capture import LOCAL_ERROR, CaptureServer, RecipientPolicy
from app.capture.handler import peer_literal
from app.capture.server import IndexRefresher
from app.store import INDEX_FILE, MailStore, mailbox_name


def quiz_message(subject: str = "Quiz results", to: str = "teacher@school.example") -> bytes:
    message = EmailMessage()
    message["From"] = "Ada <ada@example.org>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("You scored 8 out of 10.\n")
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def send(server: CaptureServer, recipients: list[str], raw: bytes, **options: object) -> dict:
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test", timeout=10) as smtp:
        return smtp.sendmail("ada@example.org", recipients, raw, **options)  # type: ignore[arg-type]


def stored(server: CaptureServer, recipient: str) -> list[bytes]:
    with MailStore(server.mailbox) as store:
        return [store.get_bytes(key) for key in store.keys(recipient)]


def test_ehlo_advertises_size_smtputf8_and_pipelining(server: CaptureServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        assert smtp.has_extn("pipelining")
        assert smtp.has_extn("smtputf8")
        assert smtp.esmtp_features["size"] == str(server.max_size)


def test_each_recipient_gets_a_copy_with_trace_fields(server: CaptureServer) -> None:
    raw = quiz_message()
    assert send(server, ["a@school.example", "b@school.example"], raw) == {}
    for rcpt in ("a@school.example", "b@school.example"):
        (copy,) = stored(server, rcpt)
        head, _, original = copy.partition(b"Delivered-To: " + rcpt.encode() + b"\r\n")
        assert original == raw
        parsed = email.message_from_bytes(copy, policy=email.policy.default)
        assert parsed["Return-Path"] == "<ada@example.org>"
        received = " ".join(str(parsed["Received"]).split())
        assert received.startswith("from client.test ([127.0.0.1]) by capture.test with ESMTP id ")
        assert f"for <{rcpt}>; " in received
        assert email.utils.parsedate_to_datetime(received.rpartition("; ")[2]).tzinfo
        assert head.startswith(b"Return-Path: ")


def test_the_index_lists_and_finds_captured_mail(server: CaptureServer) -> None:
    send(server, ["a@school.example"], quiz_message("Week 3 results"))
    with MailStore(server.mailbox) as store:
        (summary,) = store.search(text="week 3")
        assert summary.recipient == "a@school.example"
        assert summary.sender == "Ada <ada@example.org>"


def test_smtputf8_mail_is_stored_and_traced_as_utf8smtp(server: CaptureServer) -> None:
    raw = quiz_message("Résultats", to="élève@école.example")
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test", timeout=10) as smtp:
        smtp.sendmail("ada@example.org", ["élève@école.example"], raw, mail_options=["SMTPUTF8"])
    (copy,) = stored(server, "élève@école.example")
    assert b"with UTF8SMTP id" in copy
    assert (server.mailbox / mailbox_name("élève@école.example") / "new").is_dir()


def test_long_international_recipients_are_stored_and_overlong_ones_refused_with_553(
    server: CaptureServer,
) -> None:
    long_address = "é" * 60 + "@" + "école" * 20 + ".example"  # 249 octets: RFC 5321 allows it
    overlong = "é" * 200 + "@example.org"
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test", timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("ada@example.org", ["SMTPUTF8"])
        assert smtp.rcpt(long_address)[0] == 250
        code, text = smtp.rcpt(overlong)
        assert (code, text) == (553, b"5.1.3 Mailbox name not allowed: address too long")
        assert smtp.data(quiz_message())[0] == 250
    assert len(stored(server, long_address)) == 1


@pytest.mark.parametrize(
    ("peer", "literal"),
    [
        (("192.0.2.1", 2525), "[192.0.2.1]"),
        (("2001:db8::1", 2525, 0, 0), "[IPv6:2001:db8::1]"),
        (("fe80::1%eth0", 2525, 0, 2), "[IPv6:fe80::1]"),
    ],
)
def test_the_peer_is_traced_as_an_address_literal(peer: tuple, literal: str) -> None:
    assert peer_literal(peer) == literal


def test_helo_clients_are_traced_as_smtp(server: CaptureServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
        smtp.helo("old.client.test")
        smtp.sendmail("ada@example.org", ["a@school.example"], quiz_message())
    (copy,) = stored(server, "a@school.example")
    assert b"from old.client.test ([127.0.0.1])\r\n\tby capture.test with SMTP id" in copy


def test_other_domains_are_refused_and_the_rest_delivered(start_server: StartServer) -> None:
    server = start_server(policy=RecipientPolicy.from_options(["school.example"], None))
    refused = send(server, ["relay@elsewhere.org", "a@SCHOOL.example"], quiz_message())
    assert refused == {"relay@elsewhere.org": (550, b"5.7.1 We do not relay messages")}
    assert len(stored(server, "a@school.example")) == 1
    with MailStore(server.mailbox) as store:
        assert store.mailboxes() == ["a@school.example"]


def test_unknown_users_are_refused_and_the_rest_delivered(
    start_server: StartServer, tmp_path: Path
) -> None:
    users = tmp_path / "users"
    users.write_text("# the class\nteacher@school.example  # Ms Hopper\n\nada@school.example\n")
    server = start_server(policy=RecipientPolicy.from_options(None, users))
    refused = send(server, ["nobody@school.example", "teacher@school.example"], quiz_message())
    assert refused == {"nobody@school.example": (550, b"5.1.1 No such user here")}
    assert len(stored(server, "teacher@school.example")) == 1


def test_a_recipient_named_twice_gets_one_copy(server: CaptureServer) -> None:
    recipients = ["bob@school.example", "bob@school.example", "bob@SCHOOL.EXAMPLE"]
    assert send(server, recipients, quiz_message()) == {}
    assert len(stored(server, "bob@school.example")) == 1


@pytest.mark.parametrize("postmaster", ["postmaster", "Postmaster", "POSTMASTER@school.example"])
def test_postmaster_is_always_accepted(
    start_server: StartServer, tmp_path: Path, postmaster: str
) -> None:
    users = tmp_path / "users"
    users.write_text("teacher@school.example\n")
    policy = RecipientPolicy.from_options(["school.example"], users)
    assert send(start_server(policy=policy), [postmaster], quiz_message()) == {}


def test_postmaster_of_another_domain_is_still_not_relayed(start_server: StartServer) -> None:
    server = start_server(policy=RecipientPolicy.from_options(["school.example"], None))
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(server, ["postmaster@elsewhere.org"], quiz_message())


def test_a_non_ascii_recipient_needs_smtputf8(raw_client: RawClient) -> None:
    raw_client.send(b"MAIL FROM:<ada@example.org>\r\n")
    raw_client.reply()
    raw_client.send("RCPT TO:<jörg@school.example>\r\n".encode())
    assert raw_client.reply()[0].startswith(b"553 5.6.7")


def test_all_recipients_refused_means_no_data(start_server: StartServer) -> None:
    server = start_server(policy=RecipientPolicy.from_options(["school.example"], None))
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(server, ["x@elsewhere.org"], quiz_message())


def test_declared_oversize_is_refused_at_mail(start_server: StartServer) -> None:
    server = start_server(max_size=1000)
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(server, ["a@school.example"], quiz_message() + b"x" * 1000)
    assert refused.value.smtp_code == 552


def test_undeclared_oversize_is_refused_after_data(start_server: StartServer) -> None:
    server = start_server(max_size=1000)
    with RawClient(server.port) as client:
        client.reply()
        client.send(b"EHLO client.test\r\n")
        client.reply()
        client.send(b"MAIL FROM:<ada@example.org>\r\nRCPT TO:<a@school.example>\r\nDATA\r\n")
        assert [client.reply()[0][:3] for _ in range(3)] == [b"250", b"250", b"354"]
        client.send(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 20 + b".\r\n")
        assert client.reply()[0].startswith(b"552 ")
    with MailStore(server.mailbox) as store:
        assert store.count() == 0


def test_pipelined_commands_get_their_replies_in_order(raw_client: RawClient) -> None:
    raw_client.send(
        b"MAIL FROM:<ada@example.org>\r\nRCPT TO:<a@school.example>\r\n"
        b"RCPT TO:<b@school.example>\r\nDATA\r\n"
    )
    replies = [raw_client.reply() for _ in range(4)]
    assert [r[0][:3] for r in replies] == [b"250", b"250", b"250", b"354"]
    raw_client.send(b"Subject: piped\r\n\r\nhello\r\n.\r\nQUIT\r\n")
    assert raw_client.reply()[0].startswith(b"250 2.0.0 OK: queued as ")
    assert raw_client.reply()[0].startswith(b"221")


def block_maildir(server: CaptureServer, address: str) -> None:
    """Put a file where *address*'s Maildir would go, so that delivering to it fails."""
    (server.mailbox / mailbox_name(address)).write_text("a file where the Maildir should be")


def transaction(raw_client: RawClient, recipients: list[str], subject: str) -> list[bytes]:
    """MAIL, RCPTs and DATA pipelined (each accepted), then a short message: the final reply."""
    rcpts = b"".join(f"RCPT TO:<{r}>\r\n".encode() for r in recipients)
    raw_client.send(b"MAIL FROM:<ada@example.org>\r\n" + rcpts + b"DATA\r\n")
    codes = [raw_client.reply()[0][:3] for _ in range(len(recipients) + 2)]
    assert codes == [b"250"] * (len(recipients) + 1) + [b"354"]
    raw_client.send(f"Subject: {subject}\r\n\r\nhello\r\n.\r\n".encode())
    return raw_client.reply()


def test_a_local_failure_answers_451_without_details(
    server: CaptureServer, raw_client: RawClient, caplog: pytest.LogCaptureFixture
) -> None:
    block_maildir(server, "blocked@school.example")
    assert transaction(raw_client, ["blocked@school.example"], "fails") == [LOCAL_ERROR.encode()]
    assert "delivery" in caplog.text
    assert "FileExistsError" in caplog.text or "NotADirectoryError" in caplog.text
    # the session is still usable: the next transaction is delivered
    assert transaction(raw_client, ["a@school.example"], "works")[0].startswith(b"250 ")


def test_a_failed_delivery_leaves_nothing_in_tmp(
    server: CaptureServer, raw_client: RawClient
) -> None:
    block_maildir(server, "zed@school.example")
    recipients = ["hal@school.example", "zed@school.example"]
    # the whole message fails, for every recipient
    assert transaction(raw_client, recipients, "fails") == [LOCAL_ERROR.encode()]
    hal = server.mailbox / mailbox_name("hal@school.example")
    assert list((hal / "tmp").iterdir()) == []
    assert list((hal / "new").iterdir()) == []


def test_too_many_recipients_are_deferred(raw_client: RawClient) -> None:
    raw_client.send(b"MAIL FROM:<ada@example.org>\r\n")
    raw_client.reply()
    raw_client.send(b"".join(b"RCPT TO:<s%d@school.example>\r\n" % i for i in range(101)))
    codes = [raw_client.reply()[0][:4] for _ in range(101)]
    assert codes == [b"250 "] * 100 + [b"452 "]


def test_concurrent_clients_lose_and_duplicate_nothing(server: CaptureServer) -> None:
    clients, per_client = 20, 50
    failures: list[BaseException] = []

    def client(n: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
                for i in range(per_client):
                    smtp.sendmail("a@x.org", ["all@school.example"], quiz_message(f"m{n}-{i}"))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with MailStore(server.mailbox) as store:
        subjects = [s.subject for s in store.search(to="all@school.example", limit=10_000)]
    assert sorted(subjects) == sorted(
        f"m{n}-{i}" for n in range(clients) for i in range(per_client)
    )


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_pipelining_delivery(server: CaptureServer) -> None:
    result = subprocess.run(
        [
            "swaks",
            "--server",
            f"127.0.0.1:{server.port}",
            "--pipeline",
            "--helo",
            "swaks.test",
            "--from",
            "ada@example.org",
            "--to",
            "a@school.example,b@school.example",
            "--header",
            "Subject: from swaks",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for rcpt in ("a@school.example", "b@school.example"):
        (copy,) = stored(server, rcpt)
        assert b"Subject: from swaks" in copy
        assert b"from swaks.test ([127.0.0.1])" in copy


def test_the_index_catches_up_with_deliveries_without_a_reader(tmp_path: Path) -> None:
    """The background refresher indexes what was delivered; no read had to trigger it."""
    with MailStore(tmp_path) as store:
        refresher = IndexRefresher(store, interval=0.05, max_lag=0.1)
        refresher.start()
        try:
            for i in range(5):
                store.deliver(["a@school.example"], quiz_message(f"m{i}"))
            with sqlite3.connect(tmp_path / INDEX_FILE) as index:
                indexed = 0
                for _ in range(600):  # bounded wait; the refresher runs every 50 ms
                    indexed = index.execute("SELECT count(*) FROM messages").fetchone()[0]
                    if indexed == 5:
                        break
                    threading.Event().wait(0.05)
            assert indexed == 5
        finally:
            refresher.stop()
