"""The reply reader, bytes in and replies out (RFC 5321 §4.2, RFC 3463)."""

from __future__ import annotations

import pytest

from app.smtp import RemoteProtocolError, Reply
from app.smtp.replies import MAX_REPLY_LINE, ReplyReader

EHLO = (
    b"250-mail.example.org greets you\r\n"
    b"250-PIPELINING\r\n"
    b"250-SIZE 1000\r\n"
    b"250 ENHANCEDSTATUSCODES\r\n"
)


def read_all(data: bytes, reader: ReplyReader | None = None) -> list[Reply]:
    reader = reader or ReplyReader()
    reader.feed(data)
    replies = []
    while (reply := reader.next_reply()) is not None:
        replies.append(reply)
    return replies


def test_a_single_line_reply() -> None:
    assert read_all(b"250 OK\r\n") == [Reply(250, None, "OK")]


def test_a_multi_line_reply_ends_at_the_line_with_a_space() -> None:
    (reply,) = read_all(EHLO)
    assert reply.code == 250
    assert reply.lines == [
        "mail.example.org greets you",
        "PIPELINING",
        "SIZE 1000",
        "ENHANCEDSTATUSCODES",
    ]
    assert reply.wire[0] == "250-mail.example.org greets you"


def test_a_reply_is_not_complete_until_its_last_line_is() -> None:
    reader = ReplyReader()
    reader.feed(EHLO[:-1])
    assert reader.next_reply() is None
    reader.feed(EHLO[-1:])
    assert reader.next_reply() is not None


@pytest.mark.parametrize("cut", range(1, len(EHLO)))
def test_a_reply_split_at_any_byte_gives_the_same_reply(cut: int) -> None:
    reader = ReplyReader()
    reader.feed(EHLO[:cut])
    early = reader.next_reply()
    reader.feed(EHLO[cut:])
    assert early is None
    assert reader.next_reply() == read_all(EHLO)[0]


def test_replies_come_out_in_order() -> None:
    replies = read_all(b"250 2.1.0 Ok\r\n550 No such user here\r\n354 Go ahead\r\n")
    assert [r.code for r in replies] == [250, 550, 354]


def test_a_code_alone_is_a_reply_with_empty_text() -> None:
    assert read_all(b"250\r\n") == [Reply(250, None, "")]


def test_a_bare_lf_ends_a_reply_line_too() -> None:
    assert read_all(b"220 hello\n") == [Reply(220, None, "hello")]


@pytest.mark.parametrize(
    "line",
    [
        b"2500 OK\r\n",
        b"25 OK\r\n",
        b"OK 250\r\n",
        b"250_OK\r\n",
        b"150 OK\r\n",
        b"260 OK\r\n",
        b"\r\n",
        b"+OK POP3 ready\r\n",
        b"HTTP/1.1 400 Bad Request\r\n",
    ],
)
def test_a_malformed_line_is_a_remote_protocol_error(line: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="malformed reply line"):
        read_all(line)


def test_every_line_of_a_multi_line_reply_carries_the_same_code() -> None:
    with pytest.raises(RemoteProtocolError, match="changed its code from 250 to 251"):
        read_all(b"250-first\r\n251 second\r\n")


def test_an_endless_line_is_refused_before_it_ends() -> None:
    reader = ReplyReader()
    reader.feed(b"250 " + b"x" * MAX_REPLY_LINE)
    with pytest.raises(RemoteProtocolError, match="longer than"):
        reader.next_reply()


def test_an_overlong_complete_line_is_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="longer than"):
        read_all(b"250 " + b"x" * MAX_REPLY_LINE + b"\r\n")


def test_a_reply_with_too_many_lines_is_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="lines"):
        read_all(b"250-more\r\n" * 10 + b"250 end\r\n", ReplyReader(max_lines=5))


def test_a_reply_with_too_many_bytes_is_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="octets"):
        read_all(b"250-" + b"x" * 90 + b"\r\n" * 1 + b"250 end\r\n", ReplyReader(max_bytes=50))


def enhanced(data: bytes) -> list[Reply]:
    reader = ReplyReader()
    reader.enhanced_codes = True
    return read_all(data, reader)


def test_enhanced_codes_are_parsed_when_offered() -> None:
    assert enhanced(b"550 5.1.1 No such user here\r\n") == [
        Reply(550, "5.1.1", "No such user here")
    ]


def test_enhanced_codes_are_stripped_from_every_line() -> None:
    (reply,) = enhanced(b"250-2.0.0 first\r\n250 2.0.0 second\r\n")
    assert (reply.enhanced, reply.lines) == ("2.0.0", ["first", "second"])


def test_enhanced_codes_are_left_alone_when_not_offered() -> None:
    assert read_all(b"550 5.1.1 No such user\r\n") == [Reply(550, None, "5.1.1 No such user")]


@pytest.mark.parametrize("text", [b"2.1.1 class disagrees", b"5.1 too short", b"5.1.1234 too long"])
def test_an_enhanced_code_that_does_not_fit_stays_in_the_text(text: bytes) -> None:
    (reply,) = enhanced(b"550 " + text + b"\r\n")
    assert (reply.enhanced, reply.text) == (None, text.decode())


def test_str_of_a_reply_shows_code_enhanced_code_and_text() -> None:
    assert str(Reply(550, "5.1.1", "No such user\nhere")) == "550 5.1.1 No such user / here"


def test_discard_forgets_buffered_bytes() -> None:
    reader = ReplyReader()
    reader.feed(b"250-injected\r\n250 ")
    reader.next_reply()
    assert reader.discard() == len(b"250-injected\r\n250 ")
    assert not reader.has_pending_bytes
