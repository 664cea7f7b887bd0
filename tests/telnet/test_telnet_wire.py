"""Bytes in, lines out: line ends of every client, Telnet commands (RFC 854) taken out wherever
they fall, and the lines we refuse to read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.telnet.wire import (
    CONTROLS,
    DO,
    DONT,
    IAC,
    IP,
    MAX_LINE_BYTES,
    MAX_SUBNEGOTIATION,
    NOT_UTF8,
    SB,
    SE,
    TOO_LONG,
    WILL,
    WONT,
    Interrupt,
    Line,
    LineReader,
    Refused,
    encode,
)

ECHO, SGA, NAWS, TTYPE = 1, 3, 31, 24


def lines(data: bytes) -> list[object]:
    return LineReader().receive(data)


@pytest.mark.parametrize(
    "data",
    [b"b c\r\n", b"b c\n", b"b c\r\x00", b"b c\r"],
    ids=["telnet CR LF", "nc LF", "CR NUL", "bare CR"],
)
def test_every_line_end_ends_one_line(data: bytes) -> None:
    assert lines(data + b"next\n") == [Line("b c"), Line("next")]


def test_a_cr_lf_split_between_reads_is_one_line_end() -> None:
    reader = LineReader()
    assert reader.receive(b"a\r") == [Line("a")]
    assert reader.receive(b"\nb\n") == [Line("b")]


def test_utf8_split_between_reads_is_one_character() -> None:
    reader = LineReader()
    data = "email zoë@example.org Zoë Ångström\n".encode()
    assert reader.receive(data[:9]) == []
    assert reader.receive(data[9:]) == [Line("email zoë@example.org Zoë Ångström")]


def test_negotiation_is_taken_out_and_each_request_refused_once() -> None:
    reader = LineReader()
    data = bytes([IAC, DO, ECHO, IAC, WILL, NAWS]) + b"a" + bytes([IAC, DO, ECHO]) + b"\r\n"
    assert reader.receive(data) == [Line("a")]
    assert bytes(reader.replies) == bytes([IAC, WONT, ECHO, IAC, DONT, NAWS])


def test_wont_and_dont_need_no_answer() -> None:
    reader = LineReader()
    assert reader.receive(bytes([IAC, WONT, ECHO, IAC, DONT, SGA]) + b"x\n") == [Line("x")]
    assert reader.replies == b""


def test_a_subnegotiation_is_dropped_whole_even_with_iac_iac_inside() -> None:
    sub = bytes([IAC, SB, TTYPE, 0, IAC, IAC]) + b"XTERM" + bytes([IAC, SE])
    assert lines(b"a" + sub + b"b\n") == [Line("ab")]


def test_a_subnegotiation_never_ended_gives_the_lines_back_past_its_limit() -> None:
    reader = LineReader()
    assert reader.receive(bytes([IAC, SB]) + b"x" * MAX_SUBNEGOTIATION) == []  # all skipped
    assert reader.receive(b"b\n") == [Line("b")]


def test_iac_ip_is_an_interrupt() -> None:
    assert lines(b"ans" + bytes([IAC, IP])) == [Interrupt()]


def test_iac_iac_is_the_data_byte_255_which_is_no_utf8() -> None:
    assert lines(bytes([IAC, IAC]) + b"\n") == [Refused(NOT_UTF8)]


@given(st.data())
def test_commands_split_anywhere_give_the_same_lines(data: st.DataObject) -> None:
    stream = (
        b"first "
        + bytes([IAC, DO, ECHO, IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE, IAC, WILL, SGA])
        + b"line\r\nsecond\n"
    )
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    reader = LineReader()
    got: list[object] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += reader.receive(stream[start:end])
    assert got == [Line("first line"), Line("second")]
    assert bytes(reader.replies) == bytes([IAC, WONT, ECHO, IAC, DONT, SGA])


@given(st.binary(max_size=300))
def test_junk_never_raises_and_never_gives_a_control_character(junk: bytes) -> None:
    for event in LineReader().receive(junk + b"\n"):
        if isinstance(event, Line):
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in event.text)


def test_a_megabyte_line_is_refused_once_without_being_kept() -> None:
    reader = LineReader()
    for _ in range(16):
        assert reader.receive(b"x" * 65536) == []
        assert len(reader._line) <= MAX_LINE_BYTES
    assert reader.receive(b"\nb\n") == [Refused(TOO_LONG), Line("b")]


def test_a_line_of_exactly_the_limit_is_read() -> None:
    assert lines(b"a" * MAX_LINE_BYTES + b"\n") == [Line("a" * MAX_LINE_BYTES)]


def test_arrow_keys_and_other_controls_are_refused() -> None:
    assert lines(b"a\x1b[A\n") == [Refused(CONTROLS)]


def test_tabs_read_as_spaces_and_nul_is_dropped() -> None:
    assert lines(b"a\tc\x00\n") == [Line("a c")]


def test_text_goes_out_in_utf8_with_cr_lf() -> None:
    assert encode("Zoë\nnext\r\nend") == "Zoë\r\nnext\r\nend".encode()
