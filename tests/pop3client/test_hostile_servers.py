"""Servers that break the rules: each gives one clear error, never a hang or a traceback's worth."""

from __future__ import annotations

import pytest

from app.pop3client import (
    POP3Client,
    POP3Error,
    POP3NotSupported,
    POP3Timeout,
    POP3TransportError,
    RemoteProtocolError,
    State,
)

from .hostile import HostileServer, scripted


def logged_in(server: HostileServer, timeout: float = 5) -> POP3Client:
    pop = POP3Client("127.0.0.1", server.port, timeout=timeout)
    pop.connect()
    pop.login("ada", "pw", apop=False)
    return pop


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text
    assert len(text) < 300
    return text


def test_a_ten_megabyte_line() -> None:
    answer = scripted({b"RETR": b"+OK\r\nSubject: x\r\n\r\n" + b"y" * (10 * 1024 * 1024)})
    with HostileServer(answer) as server:
        pop = logged_in(server)
        with pytest.raises(RemoteProtocolError) as refused:
            pop.retr(1)
    assert "line of over" in one_line(refused.value)
    assert pop.state is State.CLOSED


def test_a_multi_line_reply_that_never_ends() -> None:
    with HostileServer(
        scripted({b"RETR": b"+OK\r\nSubject: x\r\n\r\nand then nothing\r\n"})
    ) as server:
        pop = logged_in(server, timeout=0.5)
        with pytest.raises(POP3Timeout) as timed_out:
            pop.retr(1)
    assert "timed out waiting for the response to RETR 1" in one_line(timed_out.value)


def test_plus_ok_to_everything() -> None:
    with HostileServer(lambda line: b"+OK\r\n") as server:
        pop = POP3Client("127.0.0.1", server.port, timeout=0.5)
        with pytest.raises(POP3Timeout):
            pop.connect()  # its +OK to CAPA starts a listing that never ends
    with HostileServer(scripted({b"STAT": b"+OK\r\n", b"LIST": b"+OK\r\n+OK\r\n.\r\n"})) as server:
        pop = logged_in(server)
        with pytest.raises(RemoteProtocolError) as refused:
            pop.stat()
        assert "not a message number and a size" in one_line(refused.value)
    with (
        HostileServer(scripted({b"LIST": b"+OK\r\n+OK\r\n.\r\n"})) as server,
        pytest.raises(RemoteProtocolError),
    ):
        logged_in(server).list()


def test_closed_in_the_middle_of_retr() -> None:
    def answer(line: bytes) -> bytes | None:
        return scripted({b"RETR": None})(line)

    with HostileServer(answer) as server:
        pop = logged_in(server)
        with pytest.raises(POP3TransportError) as closed:
            pop.retr(1)
    assert "closed the connection while waiting for the response to RETR 1" in one_line(
        closed.value
    )


def test_half_a_message_then_close() -> None:
    sent = []

    def answer(line: bytes) -> bytes | None:
        if line.startswith(b"RETR"):
            if sent:
                return None
            sent.append(line)
            return b"+OK\r\nSubject: half\r\n\r\nthe first half\r\n"
        return scripted({})(line)

    with HostileServer(answer) as server:
        pop = logged_in(server)
        with pytest.raises(POP3Error):
            list(pop.retrieve([1, 2]))


@pytest.mark.parametrize(
    "greeting",
    [b"220 smtp.example.org ESMTP\r\n", b"\x00\xff\xfe binary junk\r\n", b"HTTP/1.1 400 Bad\r\n"],
)
def test_junk_instead_of_a_greeting(greeting: bytes) -> None:
    with HostileServer(lambda line: b"", greeting=greeting) as server:
        pop = POP3Client("127.0.0.1", server.port, timeout=5)
        with pytest.raises(RemoteProtocolError) as refused:
            pop.connect()
    assert "neither +OK nor -ERR" in one_line(refused.value)


def test_junk_uidl_listing() -> None:
    with HostileServer(
        scripted({b"UIDL": b"+OK\r\n1 has spaces in it\r\nnot a number\r\n.\r\n"})
    ) as server:
        pop = logged_in(server)
        with pytest.raises(RemoteProtocolError, match="not a message number and a unique id"):
            pop.uidl()


def test_an_err_greeting_is_a_reply_error() -> None:
    with HostileServer(lambda line: b"", greeting=b"-ERR [SYS/TEMP] too busy\r\n") as server:
        pop = POP3Client("127.0.0.1", server.port, timeout=5)
        with pytest.raises(POP3Error, match=r"\[SYS/TEMP\] too busy"):
            pop.connect()


def test_apop_needs_a_timestamp_in_the_greeting() -> None:
    with HostileServer(scripted({})) as server:
        pop = POP3Client("127.0.0.1", server.port, timeout=5)
        pop.connect()
        assert pop.apop_timestamp is None
        with pytest.raises(POP3NotSupported, match="timestamp"):
            pop.login("ada", "pw", apop=True)
        pop.login("ada", "pw")  # no timestamp: USER/PASS
        pop.close()
    assert "C: APOP" not in "\n".join(pop.transcript)
