"""The sans-IO core: the state table, which response answers which command, pipelining rules."""

from __future__ import annotations

import pytest

from app.pop3client.commands import (
    Apop,
    Capa,
    Dele,
    Greeting,
    List,
    Noop,
    Pass,
    Quit,
    Retr,
    Rset,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
    write,
)
from app.pop3client.connection import TRANSITIONS, ClientConnection, State
from app.pop3client.errors import LocalProtocolError, RemoteProtocolError

CAPA_PIPELINING = b"+OK\r\nTOP\r\nUIDL\r\nPIPELINING\r\nSTLS\r\n.\r\n"


def answered(conn: ClientConnection, data: bytes) -> list[tuple[object, object]]:
    conn.receive_data(data)
    out = []
    while (got := conn.next_response()) is not None:
        out.append(got)
    return out


def greeted(
    greeting: bytes = b"+OK ready <1896.697170952@dbc.mtview.ca.us>\r\n",
) -> ClientConnection:
    conn = ClientConnection()
    answered(conn, greeting)
    return conn


def logged_in(capa: bytes = CAPA_PIPELINING) -> ClientConnection:
    conn = greeted()
    conn.send(Capa())
    answered(conn, capa)
    conn.send(User("ada"))
    answered(conn, b"+OK\r\n")
    conn.send(Pass("pw"))
    answered(conn, b"+OK logged in\r\n")
    assert conn.state is State.TRANSACTION
    return conn


def test_the_greeting_timestamp_allows_apop() -> None:
    conn = greeted()
    assert conn.state is State.AUTHORIZATION
    assert conn.timestamp == "<1896.697170952@dbc.mtview.ca.us>"
    assert greeted(b"+OK POP3 server ready\r\n").timestamp is None


def test_an_err_greeting_closes() -> None:
    conn = ClientConnection()
    [(command, response)] = answered(conn, b"-ERR [SYS/TEMP] overloaded\r\n")
    assert isinstance(command, Greeting)
    assert response.code == "SYS/TEMP"
    assert conn.state is State.CLOSED
    with pytest.raises(LocalProtocolError, match="while closed"):
        conn.send(User("ada"))


def test_nothing_before_the_greeting() -> None:
    with pytest.raises(LocalProtocolError, match="waiting for the greeting"):
        ClientConnection().send(Capa())


@pytest.mark.parametrize(
    "command", [Stat(), List(), Retr(1), Dele(1), Noop(), Rset(), Top(1, 0), Uidl()]
)
def test_transaction_commands_need_a_login(command: object) -> None:
    with pytest.raises(LocalProtocolError, match="not logged in yet"):
        greeted().send(command)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", [User("x"), Pass("y"), Apop("x", "d" * 32), Stls()])
def test_login_commands_only_before_login(command: object) -> None:
    with pytest.raises(LocalProtocolError, match="logged in"):
        logged_in().send(command)  # type: ignore[arg-type]


def test_a_refused_password_stays_in_authorization() -> None:
    conn = greeted()
    conn.send(User("ada"))
    answered(conn, b"+OK\r\n")
    conn.send(Pass("wrong"))
    [(_, response)] = answered(conn, b"-ERR [AUTH] invalid login\r\n")
    assert response.code == "AUTH"  # type: ignore[attr-defined]
    assert conn.state is State.AUTHORIZATION


def test_apop_logs_in() -> None:
    conn = greeted()
    conn.send(Apop("ada", "c4c9334bac560ecc979e58001b3e22fb"))
    answered(conn, b"+OK maildrop has 2 messages\r\n")
    assert conn.state is State.TRANSACTION


def test_quit_after_login_is_update_then_closed() -> None:
    conn = logged_in()
    conn.send(Quit())
    assert conn.state is State.UPDATE
    answered(conn, b"+OK bye\r\n")
    assert conn.state is State.CLOSED


def test_quit_before_login_never_enters_update() -> None:
    conn = greeted()
    conn.send(Quit())
    assert conn.state is State.QUIT_SENT


def test_without_pipelining_one_command_at_a_time() -> None:
    conn = logged_in(b"+OK\r\nTOP\r\nUIDL\r\n.\r\n")
    conn.send(Retr(1))
    with pytest.raises(LocalProtocolError, match="before the response to RETR 1"):
        conn.send(Retr(2))


def test_with_pipelining_responses_come_back_in_order() -> None:
    conn = logged_in()
    data = b"".join(conn.send(c) for c in (Retr(1), Dele(1), Retr(2), Quit()))
    assert data == b"RETR 1\r\nDELE 1\r\nRETR 2\r\nQUIT\r\n"
    got = answered(
        conn, b"+OK\r\none\r\n.\r\n+OK\r\n-ERR [SYS/PERM] no such message\r\n+OK bye\r\n"
    )
    assert [type(c).__name__ for c, _ in got] == ["Retr", "Dele", "Retr", "Quit"]
    assert got[0][1].body == b"one\r\n"  # type: ignore[attr-defined]
    assert got[2][1].body is None
    assert not got[2][1].ok
    assert conn.state is State.CLOSED


@pytest.mark.parametrize("first", [Quit(), Stls(), Pass("pw")])
def test_nothing_follows_a_barrier_even_with_pipelining(first: object) -> None:
    conn = greeted()
    conn.send(Capa())
    answered(conn, CAPA_PIPELINING)
    if isinstance(first, Pass):
        conn.send(User("ada"))
        answered(conn, b"+OK\r\n")
    conn.send(first)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="cannot send CAPA"):
        conn.send(Capa())


def test_user_and_pass_may_be_pipelined() -> None:
    conn = greeted()
    conn.send(Capa())
    answered(conn, CAPA_PIPELINING)
    assert conn.send(User("ada")) + conn.send(Pass("pw")) == b"USER ada\r\nPASS pw\r\n"


def test_stls_then_the_handshake_forgets_capabilities_and_buffered_bytes() -> None:
    conn = greeted()
    conn.send(Capa())
    answered(conn, CAPA_PIPELINING)
    conn.send(Stls())
    answered(conn, b"+OK begin TLS\r\n")
    assert conn.state is State.TLS_HANDSHAKE
    conn.receive_data(b"+OK injected\r\n")
    assert conn.start_tls() == len(b"+OK injected\r\n")
    assert conn.state is State.AUTHORIZATION
    assert not conn.capabilities.pipelining


def test_a_response_to_no_command_is_a_violation() -> None:
    conn = greeted()
    conn.receive_data(b"+OK surprise\r\n")
    with pytest.raises(RemoteProtocolError, match="to no command"):
        conn.next_response()


def test_capa_refused_means_no_capabilities() -> None:
    conn = greeted()
    conn.send(Capa())
    [(_, response)] = answered(conn, b"-ERR unknown command\r\n")
    assert not response.ok
    assert not conn.capabilities.keywords


def test_a_single_list_has_no_body() -> None:
    conn = logged_in()
    conn.send(List(2))
    [(_, response)] = answered(conn, b"+OK 2 200\r\n")
    assert response.body is None
    assert response.text == "2 200"


@pytest.mark.parametrize(
    ("command", "line"),
    [
        (Capa(), b"CAPA\r\n"),
        (User("ada@example.org"), b"USER ada@example.org\r\n"),
        (Pass("pw with spaces"), b"PASS pw with spaces\r\n"),
        (Top(3, 10), b"TOP 3 10\r\n"),
        (Uidl(), b"UIDL\r\n"),
        (List(7), b"LIST 7\r\n"),
    ],
)
def test_command_lines(command: object, line: bytes) -> None:
    assert write(command) == line  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("command", "match"),
    [
        (Pass("pw\r\nDELE 1"), "control character"),
        (User("ada\x00"), "control character"),
        (User("two words"), "one word"),
        (Pass("x" * 300), "255"),
        (Retr(0), "start at 1"),
        (Top(1, -1), "not negative"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(command: object, match: str) -> None:
    with pytest.raises(LocalProtocolError, match=match):
        write(command)  # type: ignore[arg-type]


def test_secrets_stay_out_of_the_transcript_lines() -> None:
    assert Pass("hunter2").describe() == "PASS <password>"
    assert "0123" not in Apop("ada", "0123456789abcdef" * 2).describe()


def test_every_state_but_closed_has_a_way_forward() -> None:
    reachable = {state for state, _ in TRANSITIONS}
    assert reachable == set(State) - {State.CLOSED}


def test_a_pipelined_dialogue_split_at_every_byte_boundary() -> None:
    stream = (
        b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"
        b"+OK\r\n..dotted\r\nline\r\n.\r\n"
        b"-ERR [SYS/PERM] no such message\r\n"
        b"+OK 1 deadbeef\r\n"
        b"+OK bye\r\n"
    )
    for cut in range(len(stream) + 1):
        conn = logged_in()
        for command in (List(), Retr(1), Retr(9), Uidl(1), Quit()):
            conn.send(command)
        got = answered(conn, stream[:cut]) + answered(conn, stream[cut:])
        assert [type(c).__name__ for c, _ in got] == ["List", "Retr", "Retr", "Uidl", "Quit"]
        assert got[0][1].body == b"1 120\r\n2 200\r\n"  # type: ignore[attr-defined]
        assert got[1][1].body == b".dotted\r\nline\r\n"  # type: ignore[attr-defined]
        assert got[2][1].code == "SYS/PERM"  # type: ignore[attr-defined]
        assert conn.state is State.CLOSED
