"""The POP3 server over a real MailStore, with the stdlib ``poplib`` as an independent client."""

from __future__ import annotations

import contextlib
import mailbox
import poplib
import re
import socket
import sqlite3
import ssl
import time
from collections.abc import Callable

import pytest
import trustme

from app.pop3 import Maildrop, POP3Controller, POP3Server, Users
from app.pop3.server import is_loopback
from app.pop3.store import unique_id
from app.store import MailStore

from .conftest import ADA, ADA_MAIL, BOB, PASSWORDS

Login = Callable[[str], poplib.POP3]
Connect = Callable[[], poplib.POP3]


def retrieved(client: poplib.POP3, number: int) -> bytes:
    """The message as poplib hands it back (un-stuffed lines), with CRLF line endings again."""
    _, lines, _ = client.retr(number)
    return b"".join(line + b"\r\n" for line in lines)


def test_stat_list_uidl_agree_with_the_store(login: Login, store: MailStore) -> None:
    client = login(ADA)
    sizes = [len(m) for m in ADA_MAIL]
    assert client.stat() == (3, sum(sizes))
    _, listing, _ = client.list()
    assert listing == [b"%d %d" % (n, size) for n, size in enumerate(sizes, 1)]
    _, uidl, _ = client.uidl()
    assert uidl == [f"{n} {unique_id(k)}".encode() for n, k in enumerate(store.keys(ADA), 1)]
    assert client.list(2) == b"+OK 2 %d" % sizes[1]


def test_uids_are_stable_across_sessions_and_restarts(
    make_server: Callable[..., POP3Controller], store: MailStore
) -> None:
    seen = []
    for _ in range(2):
        controller = make_server()
        client = poplib.POP3("127.0.0.1", controller.port, timeout=10)
        client.user(ADA)
        client.pass_(PASSWORDS[ADA])
        seen.append(client.uidl()[1])
        client.quit()
        controller.stop()
    assert seen[0] == seen[1]
    assert len(set(seen[0])) == 3


def test_retr_returns_the_stored_bytes_exactly(login: Login, store: MailStore) -> None:
    client = login(ADA)
    for number, key in enumerate(store.keys(ADA), 1):
        assert retrieved(client, number) == store.get_bytes(key)
    response, _, octets = client.retr(2)
    assert response == b"+OK %d octets" % len(ADA_MAIL[1])
    assert octets == len(ADA_MAIL[1])


DOTTED = (
    b".at the start\r\nFrom: quizmail@localhost\r\nSubject: dots\r\n\r\n"
    + b"a sentence. another.\r\n" * 40  # more dots than are looked at one by one
    + b".in the middle\r\n..two\r\n.\r\nmid.dle\r\n"
    + b"base64/line+A==\r\n" * 300
    + b".at the end\r\n"
)


@pytest.mark.parametrize("message", [DOTTED, DOTTED[1:].replace(b". ", b"; ")])
def test_retr_of_dotted_lines_is_exact_over_a_real_socket(
    login: Login, store: MailStore, message: bytes
) -> None:
    store.deliver([BOB], message)
    client = login(BOB)
    number = len(store.keys(BOB))
    response, _, octets = client.retr(number)
    assert retrieved(client, number) == message
    assert response == b"+OK %d octets" % len(message)
    assert octets == len(message)


def test_top_sends_headers_and_the_first_lines(login: Login) -> None:
    client = login(ADA)
    _, lines, _ = client.top(2, 2)
    assert lines[-4:] == [b"Subject: dots", b"", b".leading dot", b"..two dots"]
    _, lines, _ = client.top(1, 0)
    assert lines[-1] == b""
    assert b"Hello Ada" not in lines


def test_dele_and_quit_remove_from_the_store(login: Login, store: MailStore) -> None:
    keys = store.keys(ADA)
    client = login(ADA)
    client.dele(1)
    client.dele(3)
    assert client.quit().startswith(b"+OK")
    assert store.keys(ADA) == [keys[1]]


def test_dele_then_a_dropped_connection_removes_nothing(login: Login, store: MailStore) -> None:
    keys = store.keys(ADA)
    client = login(ADA)
    client.dele(1)
    client.close()  # no QUIT: the session never enters UPDATE (RFC 1939 §6)
    again = login(ADA)  # logging in again proves the first session has ended (the lock is free)
    assert again.stat()[0] == 3
    assert store.keys(ADA) == keys


def test_rset_unmarks_deleted_messages(login: Login, store: MailStore) -> None:
    client = login(ADA)
    client.dele(2)
    assert client.stat()[0] == 2
    client.rset()
    assert client.stat()[0] == 3
    client.quit()
    assert len(store.keys(ADA)) == 3


def test_deleted_and_missing_messages_are_errors(login: Login) -> None:
    client = login(ADA)
    client.dele(1)
    with pytest.raises(poplib.error_proto, match="message 1 is already deleted"):
        client.retr(1)
    with pytest.raises(poplib.error_proto, match="no message 7: the maildrop has 3 messages"):
        client.dele(7)
    assert client.noop().startswith(b"+OK")  # the connection is still fine


def test_wrong_password_then_right_one(connect: Connect) -> None:
    client = connect()
    client.user(ADA)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] wrong name or password"):
        client.pass_("not-it")
    client.user(ADA)
    assert client.pass_(PASSWORDS[ADA]).startswith(b"+OK maildrop has 3 messages")


def test_too_many_failures_close_the_connection(connect: Connect) -> None:
    client = connect()
    for _ in range(2):
        client.user(BOB)
        with pytest.raises(poplib.error_proto, match="wrong name or password"):
            client.pass_("guess")
    client.user(BOB)
    with pytest.raises(poplib.error_proto, match="too many failed logins, closing"):
        client.pass_("guess")
    with pytest.raises((poplib.error_proto, OSError)):
        client.noop()


def test_hashed_password_logs_in(login: Login) -> None:
    client = login(BOB)
    assert client.stat()[0] == 1


def test_commands_in_the_wrong_state(connect: Connect, login: Login) -> None:
    client = connect()
    with pytest.raises(poplib.error_proto, match="STAT is not allowed before login"):
        client.stat()
    client = login(ADA)
    with pytest.raises(poplib.error_proto, match="USER is not allowed after login"):
        client.user(ADA)


def test_each_user_sees_only_their_own_mailbox(login: Login) -> None:
    assert login(BOB).stat()[0] == 1
    assert login(ADA).stat()[0] == 3


def test_a_second_session_finds_the_mailbox_locked(login: Login, connect: Connect) -> None:
    first = login(ADA)
    second = connect()
    second.user(ADA)
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\] mailbox locked by another session"):
        second.pass_(PASSWORDS[ADA])
    first.quit()
    second.user(ADA)
    assert second.pass_(PASSWORDS[ADA]).startswith(b"+OK")


UPPER = b"From: quizmail@localhost\r\nTo: ODD@Example.ORG\r\nSubject: upper\r\n\r\nupper\r\n"
LOWER = b"From: quizmail@localhost\r\nTo: odd@example.org\r\nSubject: lower\r\n\r\nlower\r\n"


def test_mail_for_every_spelling_of_an_address_is_one_mailbox(
    login: Login, store: MailStore
) -> None:
    store.deliver(["ODD@Example.ORG"], UPPER)
    store.deliver(["odd@example.org"], LOWER)
    client = login("instructor+Odd@example.org")
    assert client.stat()[0] == 2
    assert [retrieved(client, n) for n in (1, 2)] == [UPPER, LOWER]


def test_every_spelling_of_a_mailbox_takes_one_lock(login: Login, connect: Connect) -> None:
    first = login("instructor+ada@example.org")
    second = connect()
    second.user("instructor+ADA@EXAMPLE.ORG")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\] mailbox locked by another session"):
        second.pass_(PASSWORDS["instructor"])
    first.quit()
    second.user("INSTRUCTOR+Ada@Example.org")
    assert second.pass_(PASSWORDS["instructor"]).startswith(b"+OK maildrop has 3 messages")


def test_a_student_logs_in_whatever_the_case_of_the_address(connect: Connect) -> None:
    client = connect()
    client.user(ADA.upper())
    client.pass_(PASSWORDS[ADA])
    assert [retrieved(client, n) for n in (1, 2, 3)] == ADA_MAIL


def test_a_mailbox_in_a_maildir_per_spelling_is_one_maildrop_and_dele_works(
    login: Login, store: MailStore
) -> None:
    # As a store written when mailboxes kept the local part's case holds it.
    for name, raw in (("ODD@example.org", UPPER), ("odd@example.org", LOWER)):
        mailbox.Maildir(store.root / name).add(raw)
    client = login("instructor+odd@example.org")
    assert sorted(retrieved(client, n) for n in (1, 2)) == sorted([UPPER, LOWER])
    client.dele(1)
    client.quit()
    assert store.count(to="Odd@Example.org") == 1


def test_the_instructor_without_a_mailbox_is_told_how_to_name_one_after_pass(
    connect: Connect,
) -> None:
    client = connect()
    # Before PASS, "instructor" gets the reply every name gets: nothing about accounts leaks.
    assert client.user("instructor") == client.user("nobody@example.org") == b"+OK send PASS"
    client.user("instructor")
    with pytest.raises(poplib.error_proto, match=r"^b'-ERR \[AUTH\] wrong name or password'$"):
        client.pass_("not the password")
    client.user("instructor")
    with pytest.raises(
        poplib.error_proto,
        match=r"-ERR \[AUTH\] name a mailbox: instructor\+ADDRESS, "
        r"e\.g\. instructor\+ada@example\.org",
    ):
        client.pass_(PASSWORDS["instructor"])
    client.user("instructor+ada@example.org")  # the session goes on, and is not locked out
    assert client.pass_(PASSWORDS["instructor"]).startswith(b"+OK maildrop has 3 messages")


def serve_users(store: MailStore, users_file: str, cleanup: contextlib.ExitStack) -> int:
    """The port of a POP3 server over *store* with the accounts of *users_file*'s text."""
    server = POP3Server.over_store(store, Users.parse(users_file))
    return cleanup.enter_context(POP3Controller(server)).port


def client_of(port: int, user: str, cleanup: contextlib.ExitStack) -> poplib.POP3:
    """A poplib client that has sent USER *user*, closed with *cleanup*."""
    client = poplib.POP3("127.0.0.1", port, timeout=10)
    cleanup.callback(client.close)
    client.user(user)
    return client


def test_a_users_file_in_another_case_than_the_mail_still_logs_in(
    store: MailStore, cleanup: contextlib.ExitStack
) -> None:
    client = client_of(serve_users(store, "ADA@Example.org ada-pw\n", cleanup), ADA, cleanup)
    client.pass_("ada-pw")
    assert [retrieved(client, n) for n in (1, 2, 3)] == ADA_MAIL


def test_a_mailbox_is_locked_across_servers_of_one_store(
    store: MailStore, cleanup: contextlib.ExitStack
) -> None:
    users_file = f"{ADA} {PASSWORDS[ADA]}\n"
    # as the capture server's POP3 and a `quizmail pop3` beside it
    clients = [client_of(serve_users(store, users_file, cleanup), ADA, cleanup) for _ in "ab"]
    assert clients[0].pass_(PASSWORDS[ADA]).startswith(b"+OK")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\] mailbox locked by another session"):
        clients[1].pass_(PASSWORDS[ADA])
    clients[0].quit()
    clients[1].user(ADA)
    assert clients[1].pass_(PASSWORDS[ADA]).startswith(b"+OK")  # released with the session


def test_one_mailbox_reached_in_two_spellings_is_still_locked(
    login: Login, connect: Connect
) -> None:
    login("instructor+ada@example.org")
    second = connect()
    second.user("instructor+ADA@example.org")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\] mailbox locked by another session"):
        second.pass_(PASSWORDS["instructor"])


def test_mail_arriving_during_a_session_shows_in_the_next(login: Login, store: MailStore) -> None:
    client = login(ADA)
    store.deliver([ADA], b"Subject: late\r\n\r\nlate\r\n")
    assert client.stat()[0] == 3
    client.quit()
    assert login(ADA).stat()[0] == 4


@pytest.fixture
def apop_client(
    make_server: Callable[..., POP3Controller], cleanup: contextlib.ExitStack
) -> poplib.POP3:
    """A client of a server told to offer APOP (``--apop``) over the mixed users file."""
    client = poplib.POP3("127.0.0.1", make_server(apop=True).port, timeout=10)
    cleanup.callback(client.close)
    return client


def test_a_file_with_a_hashed_password_offers_no_apop(
    connect: Connect, server: POP3Controller
) -> None:
    client = connect()  # the users file mixes plain and hashed passwords
    assert client.getwelcome() == b"+OK QuizMail POP3 server ready"
    with pytest.raises(poplib.error_proto, match="APOP not supported by server"):
        client.apop(ADA, PASSWORDS[ADA])  # poplib looks for the timestamp itself
    assert raw_exchange(server.port, f"APOP {ADA} {'0' * 32}\r\n".encode(), 1) == [
        b"-ERR APOP is not offered by this server: log in with USER and PASS\r\n"
    ]


def failed_login_reply(port: int, command: bytes) -> bytes:
    """The reply to one login attempt on a fresh connection."""
    return raw_exchange(port, command, 2 if command.startswith(b"USER") else 1)[-1]


def test_a_failed_login_says_nothing_of_how_the_password_is_stored(
    make_server: Callable[..., POP3Controller],
) -> None:
    port = make_server(apop=True).port
    stamp_free = "0123456789abcdef" * 2
    attempts = [
        f"USER {ADA}\r\nPASS wrong\r\n",  # a plain password
        f"USER {BOB}\r\nPASS wrong\r\n",  # a hashed one
        "USER nobody@example.org\r\nPASS wrong\r\n",
        f"APOP {ADA} {stamp_free}\r\n",
        f"APOP {BOB} {stamp_free}\r\n",  # a hashed password can never answer APOP
        f"APOP nobody@example.org {stamp_free}\r\n",
    ]
    replies = {failed_login_reply(port, attempt.encode()) for attempt in attempts}
    assert replies == {b"-ERR [AUTH] wrong name or password\r\n"}


def test_apop_with_the_greeting_timestamp(apop_client: poplib.POP3) -> None:
    client = apop_client
    assert re.fullmatch(rb"\+OK QuizMail POP3 server ready <[^>]+@[^>]+>", client.getwelcome())
    assert client.apop(ADA, PASSWORDS[ADA]).startswith(b"+OK")
    assert client.stat()[0] == 3


def test_apop_with_the_wrong_secret_or_a_hashed_one(apop_client: poplib.POP3) -> None:
    client = apop_client
    with pytest.raises(poplib.error_proto, match="wrong name or password"):
        client.apop(ADA, "wrong")
    with pytest.raises(poplib.error_proto, match="wrong name or password"):
        client.apop(BOB, PASSWORDS[BOB])  # only a hash is stored: APOP cannot work


def test_instructor_reads_any_mailbox(login: Login, store: MailStore) -> None:
    client = login(f"instructor+{ADA}")
    assert client.stat()[0] == 3
    assert retrieved(client, 1) == store.get_bytes(store.keys(ADA)[0])


def test_a_student_cannot_use_the_instructor_form(connect: Connect) -> None:
    client = connect()
    client.user(f"{BOB}+{ADA}")
    with pytest.raises(poplib.error_proto, match="wrong name or password"):
        client.pass_(PASSWORDS[BOB])


def test_capa_over_the_wire(connect: Connect) -> None:
    capa = connect().capa()
    assert {"TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING"} <= capa.keys()
    assert capa["IMPLEMENTATION"] == ["QuizMail"]
    assert "STLS" not in capa


def raw_exchange(port: int, data: bytes, replies: int) -> list[bytes]:
    """Send *data* in one write; read until *replies* lines (or end of stream) came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = sock.makefile("rb")
        stream.readline()  # greeting
        sock.sendall(data)
        return [stream.readline() for _ in range(replies)]


def test_pipelined_commands_over_one_write(server: POP3Controller) -> None:
    data = f"USER {ADA}\r\nPASS {PASSWORDS[ADA]}\r\nSTAT\r\nDELE 1\r\nSTAT\r\nRSET\r\n".encode()
    lines = raw_exchange(server.port, data, 6)
    total = sum(len(m) for m in ADA_MAIL)
    assert lines[2] == b"+OK 3 %d\r\n" % total
    assert lines[3] == b"+OK message 1 deleted\r\n"
    assert lines[4] == b"+OK 2 %d\r\n" % (total - len(ADA_MAIL[0]))


def multiline_bodies(stream: bytes) -> list[bytes]:
    """The bodies of the multi-line replies in *stream*, un-stuffed as a client does."""
    bodies, lines, body = [], stream.split(b"\r\n"), None
    for line in lines:
        if body is None:
            body = [] if re.fullmatch(rb"\+OK \d+ octets", line) else None
        elif line == b".":
            bodies.append(b"".join(part + b"\r\n" for part in body))
            body = None
        else:
            body.append(line[1:] if line.startswith(b".") else line)
    return bodies


def test_pipelined_retrs_come_back_exact_and_in_order(
    server: POP3Controller, store: MailStore
) -> None:
    # Far more than one batch of replies written together, then a command that needs the
    # driver (QUIT: UPDATE), after which the connection closes.
    numbers = [1, 2, 3] * 400
    login = f"USER {ADA}\r\nPASS {PASSWORDS[ADA]}\r\n".encode()
    commands = b"".join(b"RETR %d\r\n" % n for n in numbers) + b"DELE 1\r\nQUIT\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(login + commands)
        stream = sock.makefile("rb").read()
    assert multiline_bodies(stream) == [ADA_MAIL[n - 1] for n in numbers]
    assert stream.endswith(b"+OK message 1 deleted\r\n+OK QuizMail POP3 server signing off\r\n")
    assert len(store.keys(ADA)) == 2


def test_an_over_long_line_is_an_error_and_the_session_goes_on(server: POP3Controller) -> None:
    lines = raw_exchange(server.port, b"NOOP " + b"x" * 400 + b"\r\nCAPA\r\n", 2)
    assert lines == [
        b"-ERR command line too long: at most 255 octets with CRLF\r\n",
        b"+OK Capability list follows\r\n",
    ]


def test_an_idle_connection_is_closed_without_a_reply(
    make_server: Callable[..., POP3Controller],
) -> None:
    controller = make_server(idle_timeout=0.05)
    with socket.create_connection(("127.0.0.1", controller.port), timeout=10) as sock:
        stream = sock.makefile("rb")
        assert stream.readline().startswith(b"+OK")
        assert stream.read() == b""  # closed by the server, nothing more said


def test_a_client_that_stops_reading_is_logged_out_and_its_mailbox_unlocked(
    make_server: Callable[..., POP3Controller], cleanup: contextlib.ExitStack
) -> None:
    controller = make_server(idle_timeout=0.05)
    retrs = 20_000  # about 20 MB of replies: more than the socket and write buffers hold
    with socket.create_connection(("127.0.0.1", controller.port), timeout=10) as stalled:
        stream = stalled.makefile("rb")
        stalled.sendall(f"USER {ADA}\r\nPASS {PASSWORDS[ADA]}\r\n".encode())
        assert [stream.readline()[:3] for _ in range(3)] == [b"+OK"] * 3  # it holds the lock
        stalled.sendall(b"RETR 3\r\n" * retrs + b"QUIT\r\n")  # and reads no more for now
        client = poplib.POP3("127.0.0.1", controller.port, timeout=10)
        cleanup.callback(client.close)
        for _ in range(1000):  # the lock is freed once the stalled session's wait times out
            client.user(ADA)
            try:
                reply = client.pass_(PASSWORDS[ADA])
            except poplib.error_proto as error:
                reply = error.args[0]
            if not reply.startswith(b"-ERR [IN-USE]"):
                break
            time.sleep(0.01)
        assert reply.startswith(b"+OK")
        assert client.stat()[0] == 3
        received = stream.read()  # what was written before the timeout, then the end
        assert received.count(b"+OK 965 octets") < retrs
        assert b"signing off" not in received


def test_a_failed_login_delay_does_not_hold_up_other_sessions(
    make_server: Callable[..., POP3Controller],
) -> None:
    controller = make_server(login_delay=60)
    with socket.create_connection(("127.0.0.1", controller.port), timeout=10) as slow:
        slow.recv(1024)
        slow.sendall(f"USER {ADA}\r\nPASS wrong\r\n".encode())
        client = poplib.POP3("127.0.0.1", controller.port, timeout=10)
        client.user(BOB)
        client.pass_(PASSWORDS[BOB])  # answered while the other session still waits
        assert client.stat()[0] == 1
        client.quit()


# --- STLS (RFC 2595) ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(make_server: Callable[..., POP3Controller], ca: trustme.CA) -> POP3Controller:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return make_server(ssl_context=context, trust_loopback=False)


def test_plaintext_login_is_refused_before_stls(tls_server: POP3Controller) -> None:
    client = poplib.POP3("127.0.0.1", tls_server.port, timeout=10)
    assert "STLS" in client.capa()
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] .*use STLS first"):
        client.user(ADA)
    client.close()


def test_stls_then_login(tls_server: POP3Controller, ca: trustme.CA) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    client = poplib.POP3("localhost", tls_server.port, timeout=10)
    client.stls(context)
    assert isinstance(client.sock, ssl.SSLSocket)
    assert "STLS" not in client.capa()
    client.user(ADA)
    client.pass_(PASSWORDS[ADA])
    assert client.stat()[0] == 3
    client.quit()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.0.2.7", False),
        ("::ffff:192.0.2.7", False),
        ("fe80::1%eth0", False),
        ("", False),
    ],
)
def test_which_peers_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_store_that_cannot_open_the_mailbox_is_an_error_not_a_drop(
    users: Users, cleanup: contextlib.ExitStack
) -> None:
    def unavailable(address: str) -> Maildrop:
        raise sqlite3.OperationalError("database is locked")

    pop3 = POP3Server(users, unavailable, login_delay=0.01)
    controller = cleanup.enter_context(POP3Controller(pop3))
    client = poplib.POP3("127.0.0.1", controller.port, timeout=10)
    cleanup.callback(client.close)
    client.user(ADA)
    with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\] cannot open the mailbox now"):
        client.pass_(PASSWORDS[ADA])
    assert client.capa()  # the session goes on
