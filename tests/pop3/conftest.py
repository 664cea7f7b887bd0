"""A MailStore with mail for two students and a POP3 server over it, run on its own thread."""

from __future__ import annotations

import poplib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.mailstore import MailStore
from app.pop3 import POP3Controller, POP3Server, Users, hash_password

ADA, BOB = "ada@example.org", "bob@example.org"
PASSWORDS = {ADA: "ada-pw", BOB: "bob pw with spaces", "instructor": "teach-pw"}

ADA_MAIL = [
    b"From: quizmail@localhost\r\nTo: ada@example.org\r\nSubject: one\r\n\r\nHello Ada\r\n",
    b"From: quizmail@localhost\r\nTo: ada@example.org\r\nSubject: dots\r\n\r\n"
    b".leading dot\r\n..two dots\r\n.\r\nend\r\n",
    b"From: quizmail@localhost\r\nTo: ada@example.org\r\nSubject: three\r\n\r\n"
    + b"line of the body\r\n" * 50,
]
BOB_MAIL = [b"From: quizmail@localhost\r\nTo: bob@example.org\r\nSubject: bob\r\n\r\nHi Bob\r\n"]


@pytest.fixture(scope="session")
def users() -> Users:
    hashed = hash_password(PASSWORDS[BOB])  # scrypt: the file may hold hashes
    text = f"{ADA} {PASSWORDS[ADA]}\n{BOB} {hashed}\ninstructor {PASSWORDS['instructor']}\n"
    return Users.parse(text, instructor="instructor")


@pytest.fixture
def store(tmp_path: Path) -> MailStore:
    store = MailStore(tmp_path / "mailbox")
    for message in ADA_MAIL:
        store.deliver([ADA], message)
    for message in BOB_MAIL:
        store.deliver([BOB], message)
    return store


@pytest.fixture
def make_server(store: MailStore, users: Users) -> Iterator[Callable[..., POP3Controller]]:
    """Start a server with the given settings; short delays so that tests stay fast."""
    started: list[POP3Controller] = []

    def make(**settings: object) -> POP3Controller:
        settings = {"login_delay": 0.01, **settings}
        controller = POP3Controller(POP3Server.over_store(store, users, **settings)).start()
        started.append(controller)
        return controller

    yield make
    for controller in started:
        controller.stop()


@pytest.fixture
def server(make_server: Callable[..., POP3Controller]) -> POP3Controller:
    return make_server()


@pytest.fixture
def connect(server: POP3Controller) -> Iterator[Callable[[], poplib.POP3]]:
    clients: list[poplib.POP3] = []

    def open_client() -> poplib.POP3:
        client = poplib.POP3("127.0.0.1", server.port, timeout=10)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()


@pytest.fixture
def login(connect: Callable[[], poplib.POP3]) -> Callable[[str], poplib.POP3]:
    def logged_in(name: str) -> poplib.POP3:
        client = connect()
        client.user(name)
        client.pass_(PASSWORDS[name.split("+")[0]])
        return client

    return logged_in
