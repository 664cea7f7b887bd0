"""The client against real servers: ours (app/pop3/) and Dovecot, every command and error path."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from app.pop3 import POP3Controller, POP3Server, Users
from app.pop3client import (
    POP3AuthenticationError,
    POP3Client,
    POP3NotSupported,
    POP3ReplyError,
    POP3TLSError,
    State,
)
from app.store import MailStore

from .conftest import ADA, BOB, MAIL, PASSWORDS, Peer

DEL = "del@example.org"


def client(peer: Peer, **options: object) -> POP3Client:
    return POP3Client("127.0.0.1", peer.port, timeout=10, **options)  # type: ignore[arg-type]


def test_every_read_command(peer: Peer) -> None:
    with client(peer) as pop:
        assert pop.capabilities.pipelining
        assert "UIDL" in pop.capabilities
        pop.login(ADA, PASSWORDS[ADA], apop=False)
        assert pop.state is State.TRANSACTION
        sizes = pop.list()
        assert pop.stat() == (3, sum(sizes.values()))
        assert sorted(sizes) == [1, 2, 3]
        assert pop.list_one(2) == sizes[2]
        uids = pop.uidl()
        assert pop.uidl_one(3) == uids[3]
        assert len(set(uids.values())) == 3
        messages = dict(pop.retrieve(sizes))
        assert sorted(messages.values()) == sorted(MAIL[ADA])
        assert {n: len(m) for n, m in messages.items()} == sizes
        dotty = next(n for n, m in messages.items() if b"Subject: dots" in m)
        assert pop.retr(dotty) == messages[dotty]
        assert pop.top(dotty, 0).endswith(b"Subject: dots\r\n\r\n")
        assert pop.top(dotty, 1).endswith(b"\r\n\r\n.leading dot\r\n")
        assert [m for _, m in pop.tops([1, 2], 0)] == [pop.top(1, 0), pop.top(2, 0)]
        pop.noop()
    assert pop.state is State.CLOSED


def test_passwords_with_spaces_and_apop(peer: Peer) -> None:
    with client(peer) as pop:
        assert pop.apop_timestamp is not None
        pop.login(BOB, PASSWORDS[BOB])  # APOP: the greeting offers it and there is no TLS
        assert pop.stat()[0] == 1
    assert any(line.startswith("C: APOP bob@example.org <digest>") for line in pop.transcript)
    with client(peer) as pop:
        pop.login(BOB, PASSWORDS[BOB], apop=False)
        assert pop.stat()[0] == 1


@pytest.mark.parametrize("apop", [False, True])
def test_a_wrong_password_is_refused_with_its_code(peer: Peer, apop: bool) -> None:
    with client(peer) as pop, pytest.raises(POP3AuthenticationError) as refused:
        pop.login(ADA, "wrong", apop=apop)
    assert refused.value.code in ("AUTH", None)
    assert "refused" in str(refused.value)


def test_the_transcript_never_holds_the_password(peer: Peer) -> None:
    with client(peer) as pop:
        pop.login(ADA, PASSWORDS[ADA], apop=False)
        pop.retr(1)
    text = "\n".join(pop.transcript)
    assert PASSWORDS[ADA] not in text
    assert "C: PASS <password>" in text
    assert "Hello Ada" not in text  # messages are summarised


def test_pipelining_sends_the_retrs_together(peer: Peer) -> None:
    with client(peer) as pop:
        pop.login(ADA, PASSWORDS[ADA], apop=False)
        list(pop.retrieve([1, 2, 3]))
    lines = pop.transcript
    first = lines.index("C: RETR 1")
    assert lines[first : first + 3] == ["C: RETR 1", "C: RETR 2", "C: RETR 3"]


def test_a_missing_message_is_refused_and_the_session_goes_on(peer: Peer) -> None:
    with client(peer) as pop:
        pop.login(ADA, PASSWORDS[ADA], apop=False)
        with pytest.raises(POP3ReplyError, match="RETR 99 refused"):
            pop.retr(99)
        with pytest.raises(POP3ReplyError):
            list(pop.retrieve([1, 99]))
        assert pop.stat()[0] == 3


def test_deletions_wait_for_quit_and_close_undoes_them(peer: Peer) -> None:
    peer.deliver(DEL, b"Subject: doomed\r\n\r\nbye\r\n")
    peer.deliver(DEL, b"Subject: kept\r\n\r\nstay\r\n")
    with client(peer) as pop:
        pop.login(DEL, "del-pw", apop=False)
        count = pop.stat()[0]
        pop.dele_many(range(1, count + 1))
        with pytest.raises(POP3ReplyError):
            pop.retr(1)  # RFC 1939 §6: a deleted message may not be read
        pop.close()  # RSET, QUIT: nothing removed
    with client(peer) as pop:
        pop.login(DEL, "del-pw", apop=False)
        assert pop.stat()[0] == count
        doomed = next(n for n, m in pop.tops(range(1, count + 1)) if b"doomed" in m)
        pop.dele(doomed)
        pop.rset()
        pop.dele(doomed)
    with client(peer) as pop:
        pop.login(DEL, "del-pw", apop=False)
        assert pop.stat()[0] == count - 1
        assert not any(b"doomed" in m for _, m in pop.tops(range(1, count)))


def delete_all_then_interrupt(peer: Peer) -> None:
    with client(peer) as pop:
        pop.login(DEL, "del-pw", apop=False)
        pop.dele_many(range(1, pop.stat()[0] + 1))
        raise KeyboardInterrupt


def test_an_exception_in_the_block_applies_no_deletion(peer: Peer) -> None:
    peer.deliver(DEL, b"Subject: survivor\r\n\r\nstill here\r\n")
    with client(peer) as pop:
        pop.login(DEL, "del-pw", apop=False)
        count = pop.stat()[0]
    with pytest.raises(KeyboardInterrupt):
        delete_all_then_interrupt(peer)
    with client(peer) as pop:
        pop.login(DEL, "del-pw", apop=False)
        assert pop.stat()[0] == count


def test_a_second_session_on_a_maildrop(peer: Peer) -> None:
    if peer.name == "dovecot":
        pytest.skip("Dovecot lets two POP3 sessions share a maildrop (or waits, with a lock)")
    with client(peer) as first:
        first.login(ADA, PASSWORDS[ADA], apop=False)
        second = client(peer)
        second.connect()
        with pytest.raises(POP3AuthenticationError) as refused:
            second.login(ADA, PASSWORDS[ADA], apop=False)
        second.close()
    assert refused.value.code == "IN-USE"
    assert refused.value.is_transient


def test_stls_verifies_the_certificate(peer: Peer) -> None:
    with client(peer, security="stls", ssl_context=peer.context()) as pop:
        assert pop.is_encrypted
        assert "STLS" not in pop.capabilities  # asked again after the handshake
        pop.login(ADA, PASSWORDS[ADA])  # USER/PASS: APOP is not needed inside TLS
        assert pop.stat()[0] == 3
    assert "C: STLS" in pop.transcript
    assert "C: USER ada@example.org" in pop.transcript


def test_stls_with_an_untrusted_certificate_never_goes_on(peer: Peer) -> None:
    context = ssl.create_default_context()
    trustme.CA().configure_trust(context)  # some other CA
    pop = client(peer, security="stls", ssl_context=context)
    with pytest.raises(POP3TLSError, match="certificate verify failed"):
        pop.connect()
    assert pop.state is State.CLOSED
    assert not any(line.startswith("C: USER") for line in pop.transcript)


def test_implicit_tls(peer: Peer) -> None:
    if peer.tls_port is None:
        pytest.skip(f"{peer.name}'s POP3 server offers STLS only, no implicit TLS port")
    tls = POP3Client(
        "127.0.0.1", peer.tls_port, security="tls", ssl_context=peer.context(), timeout=10
    )
    with tls as pop:
        assert pop.is_encrypted
        pop.login(ADA, PASSWORDS[ADA])
        assert pop.stat()[0] == 3


def test_stls_asked_of_a_server_without_it_is_an_error(tmp_path: Path) -> None:
    store = MailStore(tmp_path / "mailbox")
    with POP3Controller(POP3Server.over_store(store, Users.parse(f"{ADA} pw\n"))) as server:
        pop = POP3Client("127.0.0.1", server.port, security="stls", timeout=10)
        with pytest.raises(POP3NotSupported, match="not going on in plaintext"):
            pop.connect()
        assert pop.state is State.CLOSED


def test_commands_between_pipelined_answers_and_a_read_left_early(peer: Peer) -> None:
    for n in range(3):
        peer.deliver(DEL, b"Subject: batch %d\r\n\r\nbody\r\n" % n)
    with client(peer) as pop:
        pop.login(DEL, "del-pw", apop=False)
        count = pop.stat()[0]
        seen = []
        for number, message in pop.retrieve(range(1, count + 1)):
            pop.dele(number)  # sent while later RETRs are still in flight
            seen.append(message)
        assert len(seen) == count
        pop.rset()
        first = next(m for _, m in pop.tops(range(1, count + 1)))  # the rest left unread
        assert first.startswith(b"Subject: ")
        assert pop.stat()[0] == count
        assert pop.uidl_one(1) == pop.uidl()[1]
