"""The two POP3 servers the client is tested against: ours (app/pop3/) and a private Dovecot,
each with the same mail for the same users, STLS with a throwaway CA (trustme)."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from private_dovecot import PrivateDovecot, missing_reason

from app.pop3 import POP3Controller, POP3Server, Users
from app.store import MailStore

ADA, BOB = "ada@example.org", "bob@example.org"
PASSWORDS = {ADA: "ada-pw", BOB: "bob pw with spaces"}
MAIL = {
    ADA: [
        b"From: quizmail@localhost\r\nTo: ada@example.org\r\nSubject: one\r\n\r\nHello Ada\r\n",
        b"From: quizmail@localhost\r\nTo: ada@example.org\r\nSubject: dots\r\n\r\n"
        b".leading dot\r\n..two dots\r\n.\r\nend\r\n",
        b"From: quizmail@localhost\r\nTo: ada@example.org\r\nSubject: three\r\n\r\n"
        + b"line of the body\r\n" * 50,
    ],
    BOB: [b"From: quizmail@localhost\r\nTo: bob@example.org\r\nSubject: bob\r\n\r\nHi Bob\r\n"],
}


@dataclass
class Peer:
    """A POP3 server under test: where it listens and what it holds."""

    name: str
    port: int
    tls_port: int | None
    ca: trustme.CA
    #: Puts mail in a user's maildrop (for tests that delete): (user, message) -> None.
    deliver: Callable[[str, bytes], object]

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def cert_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("pop3-cert")
    cert, key = directory / "cert.pem", directory / "key.pem"
    issued = ca.issue_cert("localhost", "127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return cert, key


@pytest.fixture(scope="session")
def dovecot_server(cert_files: tuple[Path, Path]) -> Iterator[PrivateDovecot]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    users = {**PASSWORDS, "del@example.org": "del-pw"}
    with PrivateDovecot(users, cert=cert_files[0], key=cert_files[1]) as server:
        for user, messages in MAIL.items():
            for message in messages:
                server.deliver(user, message)
        yield server


def our_server(store: MailStore, ca: trustme.CA, **settings: object) -> POP3Server:
    users = Users.parse("".join(f"{user} {pw}\n" for user, pw in PASSWORDS.items()))
    users = users.with_account("del@example.org", "del-pw")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return POP3Server.over_store(store, users, ssl_context=context, login_delay=0.01, **settings)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def our_controller(
    ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[POP3Controller, MailStore]]:
    store = MailStore(tmp_path_factory.mktemp("pop3client-store") / "mailbox")
    for user, messages in MAIL.items():
        for message in messages:
            store.deliver([user], message)
    with POP3Controller(our_server(store, ca)) as controller:
        yield controller, store


@pytest.fixture(params=["ours", "dovecot"])
def peer(request: pytest.FixtureRequest, ca: trustme.CA) -> Peer:
    if request.param == "ours":
        controller, store = request.getfixturevalue("our_controller")
        return Peer("ours", controller.port, None, ca, lambda u, m: store.deliver([u], m))
    server: PrivateDovecot = request.getfixturevalue("dovecot_server")
    return Peer("dovecot", server.port, server.tls_port, ca, server.deliver)
