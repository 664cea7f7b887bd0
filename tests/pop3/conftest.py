"""A MailStore with mail for two students and a POP3 server over it, run on its own thread."""

from __future__ import annotations

import contextlib
import poplib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.pop3 import POP3Controller, POP3Server, Users, hash_password
from app.store import MailStore

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
    hashed = hash_password(PASSWORDS[BOB], work=1024)  # scrypt: the file may hold hashes
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
def cleanup() -> Iterator[contextlib.ExitStack]:
    """Servers and clients a test opens, closed when it ends."""
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def make_server(
    store: MailStore, users: Users, cleanup: contextlib.ExitStack
) -> Callable[..., POP3Controller]:
    """Start a server with the given settings; short delays so that tests stay fast."""

    def make(**settings: object) -> POP3Controller:
        settings = {"login_delay": 0.01, **settings}
        pop3 = POP3Server.over_store(store, users, **settings)
        return cleanup.enter_context(POP3Controller(pop3))

    return make


@pytest.fixture
def server(make_server: Callable[..., POP3Controller]) -> POP3Controller:
    return make_server()


@pytest.fixture
def connect(server: POP3Controller, cleanup: contextlib.ExitStack) -> Callable[[], poplib.POP3]:
    def open_client() -> poplib.POP3:
        client = poplib.POP3("127.0.0.1", server.port, timeout=10)
        cleanup.callback(client.close)
        return client

    return open_client


@pytest.fixture
def login(connect: Callable[[], poplib.POP3]) -> Callable[[str], poplib.POP3]:
    def logged_in(name: str) -> poplib.POP3:
        client = connect()
        client.user(name)
        client.pass_(PASSWORDS[name.partition("+")[0]])
        return client

    return logged_in
