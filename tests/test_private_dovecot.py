"""The private Dovecot: it serves the Maildir the test wrote, speaks STLS and implicit TLS."""

from __future__ import annotations

import poplib
import ssl
from collections.abc import Iterator

import pytest
import trustme
from private_dovecot import PrivateDovecot, missing_reason

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")

MESSAGE = b"From: a@example.test\r\nSubject: hello\r\n\r\nbody line\r\n.starts with a dot\r\n"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def dovecot(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDovecot]:
    directory = tmp_path_factory.mktemp("cert")
    cert, key = directory / "cert.pem", directory / "key.pem"
    issued = ca.issue_cert("localhost", "127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    with PrivateDovecot({"alice": "secret", "bob": "other"}, cert=cert, key=key) as server:
        server.deliver("alice", MESSAGE)
        yield server


def test_serves_the_maildir_the_caller_wrote(dovecot: PrivateDovecot) -> None:
    pop = poplib.POP3("127.0.0.1", dovecot.port, timeout=10)
    try:
        pop.user("alice")
        pop.pass_("secret")
        assert pop.stat()[0] == 1
        lines = pop.retr(1)[1]
        assert b".starts with a dot" in lines
    finally:
        pop.quit()


def test_refuses_a_wrong_password(dovecot: PrivateDovecot) -> None:
    pop = poplib.POP3("127.0.0.1", dovecot.port, timeout=10)
    pop.user("bob")
    with pytest.raises(poplib.error_proto):
        pop.pass_("wrong")
    pop.quit()


def test_greeting_offers_apop(dovecot: PrivateDovecot) -> None:
    pop = poplib.POP3("127.0.0.1", dovecot.port, timeout=10)
    try:
        pop.apop("bob", "other")
        assert pop.stat()[0] == 0
    finally:
        pop.quit()


def test_stls_and_implicit_tls_with_the_callers_certificate(
    dovecot: PrivateDovecot, ca: trustme.CA
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    pop = poplib.POP3("127.0.0.1", dovecot.port, timeout=10)
    pop.stls(context)
    pop.user("bob")
    pop.pass_("other")
    pop.quit()
    assert dovecot.tls_port is not None
    pops = poplib.POP3_SSL("127.0.0.1", dovecot.tls_port, timeout=10, context=context)
    assert "PIPELINING" in pops.capa()
    pops.quit()


def test_missing_reason_is_a_sentence_or_none() -> None:
    reason = missing_reason()
    assert reason is None or "Dovecot" in reason or "root" in reason


def test_the_directory_goes_away() -> None:
    with PrivateDovecot({"carol": "pw"}) as server:
        directory = server.directory
        assert server.maildir("carol").joinpath("new").is_dir()
    assert not directory.exists()
