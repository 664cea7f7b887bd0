"""The response reader: bytes in any pieces, status lines and bodies out, every buffer bounded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.pop3.wire import dot_stuff, to_crlf
from app.pop3client.errors import RemoteProtocolError
from app.pop3client.responses import Response, ResponseReader, parse_status, unstuff

MESSAGE = b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n"
WIRE = b"+OK 52 octets\r\n" + dot_stuff(MESSAGE) + b".\r\n"


def read_one(reader: ResponseReader) -> tuple[Response | None, bytes | None]:
    status = reader.next_status()
    return status, (reader.next_body() if status is not None else None)


def feed_until_refused(reader: ResponseReader, piece: bytes, times: int) -> None:
    for _ in range(times):
        reader.feed(piece)
        assert reader.next_body() is None


def test_a_status_line_and_its_parts() -> None:
    response = parse_status(b"-ERR [IN-USE] mailbox locked by another session")
    assert (response.ok, response.code, response.text) == (
        False,
        "IN-USE",
        "mailbox locked by another session",
    )
    assert str(response) == "-ERR [IN-USE] mailbox locked by another session"
    assert parse_status(b"+OK").text == ""
    assert parse_status(b"-ERR [SYS/TEMP] try later").code == "SYS/TEMP"
    assert parse_status(b"-ERR [login-delay] wait").code == "LOGIN-DELAY"
    assert parse_status(b"+OK [not a code").code is None


@pytest.mark.parametrize(
    "line", [b"OK", b"+ok fine", b"+OKAY", b"-ERROR", b"", b"\x00\xff junk", b"220 smtp"]
)
def test_junk_is_neither_ok_nor_err(line: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="neither \\+OK nor -ERR"):
        parse_status(line)


def test_every_byte_boundary_gives_the_same_message() -> None:
    for cut in range(len(WIRE) + 1):
        reader = ResponseReader()
        reader.feed(WIRE[:cut])
        status = reader.next_status()
        body = reader.next_body() if status is not None else None
        if status is None:
            assert b"\n" not in WIRE[:cut]
            reader.feed(WIRE[cut:])
            status, body = read_one(reader)
        elif body is None:
            reader.feed(WIRE[cut:])
            body = reader.next_body()
        assert status is not None
        assert status.text == "52 octets"
        assert body == MESSAGE
        assert not reader.has_pending_bytes


def test_one_byte_at_a_time() -> None:
    reader = ResponseReader()
    got: list[object] = []
    status = None
    for byte in WIRE + b"+OK next\r\n":
        reader.feed(bytes([byte]))
        if status is None:
            status = reader.next_status()
            if status is not None and got:
                got.append(status)
                continue
        if status is not None and not got:
            body = reader.next_body()
            if body is not None:
                got.append(body)
                status = None
    assert got[0] == MESSAGE
    assert isinstance(got[1], Response)
    assert got[1].text == "next"


@pytest.mark.parametrize("cut", range(1, 3))
def test_an_empty_body_cut_anywhere(cut: int) -> None:
    reader = ResponseReader()
    reader.feed(b"+OK\r\n" + b".\r\n"[:cut])
    assert reader.next_status() is not None
    assert reader.next_body() is None
    reader.feed(b".\r\n"[cut:])
    assert reader.next_body() == b""


def test_unstuffing_removes_one_dot_per_line_start() -> None:
    assert unstuff(b"..a\r\n...b\r\nc.\r\n.d\r\n") == b".a\r\n..b\r\nc.\r\nd\r\n"


@given(st.lists(st.text(alphabet=".ab \r", max_size=8), max_size=10))
def test_dot_stuffing_round_trips_with_our_server(lines: list[str]) -> None:
    message = to_crlf("\r\n".join(lines).replace("\r", "").encode() + b"\r\n") if lines else b""
    reader = ResponseReader()
    reader.feed(b"+OK\r\n" + dot_stuff(message) + b".\r\n")
    assert read_one(reader)[1] == message


def test_many_responses_in_one_piece() -> None:
    reader = ResponseReader()
    reader.feed(WIRE * 3 + b"-ERR no such message\r\n")
    for _ in range(3):
        assert read_one(reader)[1] == MESSAGE
    status = reader.next_status()
    assert status is not None
    assert not status.ok


def test_a_status_line_over_the_bound_is_refused() -> None:
    reader = ResponseReader(max_status_line=100)
    reader.feed(b"+OK " + b"x" * 200)
    with pytest.raises(RemoteProtocolError, match="status line of over 100 octets"):
        reader.next_status()


def test_a_ten_megabyte_line_in_a_message_is_refused_as_it_arrives() -> None:
    reader = ResponseReader()
    reader.feed(b"+OK\r\nSubject: x\r\n\r\n")
    assert reader.next_status() is not None
    with pytest.raises(RemoteProtocolError, match="line of over"):
        feed_until_refused(reader, b"y" * 65536, 160)  # 10 MiB in 64 KiB pieces


@pytest.mark.parametrize("tail", [b"", b"\r\n.\r\n"])
def test_a_long_line_inside_one_big_piece_is_found(tail: bytes) -> None:
    reader = ResponseReader(max_body_line=1000)
    reader.feed(b"+OK\r\n" + b"short\r\n" * 300 + b"z" * 1001 + b"\r\n" + b"short\r\n" * 300 + tail)
    assert reader.next_status() is not None
    with pytest.raises(RemoteProtocolError, match="line of over 1000"):
        reader.next_body()


def test_lines_at_the_bound_pass() -> None:
    reader = ResponseReader(max_body_line=1000)
    body = (b"z" * 998 + b"\r\n") * 5
    reader.feed(b"+OK\r\n" + body + b".\r\n")
    assert read_one(reader)[1] == body


def test_a_reply_that_never_ends_is_refused_past_the_bound() -> None:
    reader = ResponseReader(max_body=10_000)
    reader.feed(b"+OK\r\n")
    assert reader.next_status() is not None
    with pytest.raises(RemoteProtocolError, match="without ending the response"):
        feed_until_refused(reader, b"more lines\r\n" * 10, 100)


def test_discard_forgets_what_came_before_tls() -> None:
    reader = ResponseReader()
    reader.feed(b"+OK injected\r\n")
    assert reader.discard() == len(b"+OK injected\r\n")
    assert not reader.has_pending_bytes
    assert reader.next_status() is None


def test_body_lines_of_a_listing() -> None:
    reader = ResponseReader()
    reader.feed(b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n")
    status = reader.next_status()
    assert status is not None
    listing = Response(status.ok, status.code, status.text, reader.next_body())
    assert listing.body_lines() == ["1 120", "2 200"]
