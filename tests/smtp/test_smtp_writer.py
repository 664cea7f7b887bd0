"""The command writer and the message on the wire (RFC 5321 §4.1, §4.5.2, §4.5.3.1.6)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.smtp import LocalProtocolError
from app.smtp.data import MAX_LINE, encode_content, normalise_line_endings
from app.smtp.events import Auth, AuthResponse, Content, Ehlo, Helo, MailFrom, RcptTo
from app.smtp.writer import describe, write


def unstuff(wire: bytes) -> bytes:
    """What a server makes of the wire: cut the final ".CRLF", undouble leading dots (§4.5.2)."""
    assert wire.endswith(b"\r\n.\r\n")
    body = wire[: -len(b".\r\n")]
    lines = body.split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def test_commands_are_written_as_rfc_5321_lines() -> None:
    assert write(Ehlo("client.example")) == b"EHLO client.example\r\n"
    assert write(Helo("client.example")) == b"HELO client.example\r\n"
    assert (
        write(MailFrom("a@example.org", ("SIZE=10",))) == b"MAIL FROM:<a@example.org> SIZE=10\r\n"
    )
    assert write(MailFrom("")) == b"MAIL FROM:<>\r\n"  # the null reverse-path, §4.5.5
    assert write(RcptTo("b@example.org")) == b"RCPT TO:<b@example.org>\r\n"


def test_an_empty_auth_initial_response_is_sent_as_equals() -> None:
    assert write(Auth("PLAIN", "")) == b"AUTH PLAIN =\r\n"  # RFC 4954 §4


def test_secrets_never_reach_the_transcript() -> None:
    assert describe(Auth("PLAIN", "AGFkYQBzZWNyZXQ=")) == "AUTH PLAIN <redacted>"
    assert describe(AuthResponse("c2VjcmV0")) == "<redacted>"
    assert describe(Auth("LOGIN")) == "AUTH LOGIN"


def test_the_message_is_summarised_in_the_transcript() -> None:
    assert describe(Content((b"x" * 510 + b"\r\n") * 4)) == "<2,048 bytes of message data>"


@pytest.mark.parametrize("bad", ["\r", "\n", "\0", "\x1b", "\x7f", "\x85", " ", "<", ">"])
@pytest.mark.parametrize("make", [MailFrom, RcptTo, Ehlo, Helo])
def test_controls_and_delimiters_in_envelope_arguments_are_refused(make: type, bad: str) -> None:
    # bpo-43124, golang/go#21159: a CR or LF would start a command of the caller's choosing.
    with pytest.raises(LocalProtocolError, match="SMTP does not allow"):
        make(f"a{bad}RCPT TO:<evil@example.org>")


def test_an_empty_recipient_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="empty"):
        RcptTo("")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (b"a\nb", b"a\r\nb"),
        (b"a\rb", b"a\r\nb"),
        (b"a\r\nb", b"a\r\nb"),
        (b"a\n\rb", b"a\r\n\r\nb"),
        (b"a\r\r\nb", b"a\r\n\r\nb"),
    ],
)
def test_bare_cr_and_lf_become_crlf(raw: bytes, normal: bytes) -> None:
    assert normalise_line_endings(raw) == normal


@pytest.mark.parametrize(
    "smuggled",
    [b"\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r", b"\r\n.\n", b"\r.\r", b"\n.\r"],
)
def test_smuggled_end_of_data_sequences_are_defused(smuggled: bytes) -> None:
    # CVE-2023-51764/5/6: a server that takes these for CRLF.CRLF ends the message early and
    # reads the rest as commands. Normalised then stuffed, the dot is doubled.
    wire = encode_content(
        b"Subject: x\r\n\r\nhello" + smuggled + b"MAIL FROM:<evil@example.org>\r\n"
    )
    assert wire.count(b"\r\n.\r\n") == 1
    assert wire.endswith(b"\r\n.\r\n")
    assert b"\r\n..\r\n" in wire


def test_a_leading_dot_is_doubled_on_every_line_including_the_first() -> None:
    assert encode_content(b".first\r\n.\r\nmiddle\r\n..two") == (
        b"..first\r\n..\r\nmiddle\r\n...two\r\n.\r\n"
    )


def test_the_end_is_exactly_crlf_dot_crlf_whether_or_not_the_message_ended_its_line() -> None:
    assert encode_content(b"body\r\n") == b"body\r\n.\r\n"
    assert encode_content(b"body") == b"body\r\n.\r\n"
    assert encode_content(b"") == b".\r\n"  # the CRLF after DATA ends the empty message


def test_a_line_of_1000_octets_with_crlf_passes_and_1001_is_refused() -> None:
    assert encode_content(b"x" * (MAX_LINE - 2) + b"\r\n")
    with pytest.raises(LocalProtocolError, match=r"line 2 is 1001 octets.*quoted-printable"):
        encode_content(b"ok\r\n" + b"x" * (MAX_LINE - 1) + b"\r\n")


def test_the_transparency_dot_counts_toward_the_line_limit() -> None:
    with pytest.raises(LocalProtocolError, match="1001 octets"):
        encode_content(b"." + b"x" * (MAX_LINE - 3))


def test_a_line_just_over_the_limit_is_refused_wherever_it_starts() -> None:
    for start in range(2, MAX_LINE + 1):  # every offset of the check's blocks, and then some
        message = b"y" * (start - 2) + b"\r\n" + b"x" * (MAX_LINE - 1) + b"\r\n"
        with pytest.raises(LocalProtocolError, match="line 2 is 1001 octets"):
            encode_content(message)


# Line lengths around the limit, and short ones, so a long line falls at every offset of a
# long message: the quick proof that all lines are short must never pass a long one.
line_lengths = st.one_of(st.integers(0, 80), st.integers(MAX_LINE - 4, MAX_LINE + 2))


@given(st.lists(line_lengths, min_size=1, max_size=12), st.booleans())
def test_a_line_over_the_limit_is_refused_wherever_it_falls(lengths: list[int], dot: bool) -> None:
    lines = [(b"." if dot else b"") + b"x" * n for n in lengths]
    on_wire = [len(line) + (1 if dot else 0) + 2 for line in lines]  # stuffing dot, CRLF
    message = b"\r\n".join(lines) + b"\r\n"
    too_long = [(number, n) for number, n in enumerate(on_wire, start=1) if n > MAX_LINE]
    if not too_long:
        assert encode_content(message)
    else:
        number, length = too_long[0]
        with pytest.raises(LocalProtocolError, match=f"line {number} is {length} octets"):
            encode_content(message)


# Bodies built from the bytes that matter to framing, and short lines so that the limit holds.
framing_bytes = st.sampled_from([b"\r", b"\n", b".", b"a", b"\xff", b"\0", b" "])
bodies = st.lists(framing_bytes, max_size=200).map(b"".join)


@given(bodies)
def test_the_wire_has_crlf_only_short_lines_and_one_end(body: bytes) -> None:
    wire = encode_content(body)
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", wire) is None  # no bare CR, no bare LF
    assert all(len(line) + 2 <= MAX_LINE for line in wire.split(b"\r\n"))
    assert wire.endswith(b"\r\n.\r\n") or wire == b".\r\n"
    assert b"\r\n.\r\n" not in wire[:-5]  # nothing ends the data before the end


@given(bodies.filter(bool))
def test_unstuffing_the_wire_gives_back_the_normalised_body(body: bytes) -> None:
    normal = normalise_line_endings(body)
    restored = unstuff(encode_content(body))
    # The message reaches the server with its last line ended, added if it was missing.
    assert restored == (normal if normal.endswith(b"\r\n") else normal + b"\r\n")


@given(st.binary(max_size=300))
def test_any_bytes_at_all_keep_the_framing(body: bytes) -> None:
    wire = encode_content(body)
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", wire) is None
    assert wire.count(b"\r\n.\r\n") == (1 if body else 0)
