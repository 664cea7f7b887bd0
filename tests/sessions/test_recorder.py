"""The recorder: bytes in and out become lines, counts and a bounded, escaped record."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from app.capture.recorder import MAX_LINES, SessionRecorder
from app.conformance import check
from app.store.session_record import MAX_SHOWN_OCTETS, SessionRecord, shown

from .scripted import EHLO_REPLY, GOOD_MESSAGE, GREETING, Step, polite, record


def split_every(steps: list[Step], size: int) -> list[Step]:
    """The same session with each client write cut into pieces of *size* octets."""
    out: list[Step] = []
    for side, data in steps:
        if side == "C" and isinstance(data, bytes):
            out += [("C", data[i : i + size]) for i in range(0, len(data), size)]
        else:
            out.append((side, data))
    return out


def test_a_polite_session_is_its_dialogue_with_the_message_summarised() -> None:
    rec = record(polite(GOOD_MESSAGE))
    assert rec.transcript[:3] == [
        "S: 220 capture.test ESMTP",
        "C: EHLO client.test",
        "S: 250-capture.test",
    ]
    assert f"C: <{len(GOOD_MESSAGE):,} bytes of message data>" in rec.transcript
    assert rec.ended_by == "quit"
    assert rec.outcome == "refused"
    (message,) = rec.messages
    assert message.stuffed == 1
    assert message.unstuffed == 0
    assert message.size == len(GOOD_MESSAGE) - 1
    assert message.header_complete
    assert message.header[0] == ("From: Ada <ada@example.org>", 27)
    assert b"Hello" not in json.dumps(rec.to_json()).encode()  # the body is never kept
    assert check(rec).findings == ()


def test_the_record_is_the_same_however_the_bytes_were_split() -> None:
    steps = polite(GOOD_MESSAGE)
    whole = record(steps)
    for size in (1, 2, 3, 5, 7):
        parts = record(split_every(steps, size))
        assert parts.messages == whole.messages
        assert [line.text for line in parts.lines] == [line.text for line in whole.lines]


def test_data_sent_before_354_is_read_as_data_and_shown_pipelined() -> None:
    steps = [
        GREETING,
        ("C", b"EHLO c\r\n"),
        *EHLO_REPLY,
        (
            "C",
            b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
            + GOOD_MESSAGE
            + b".\r\nQUIT\r\n",
        ),
        ("S", "250 OK"),
        ("S", "250 OK"),
        ("S", "354 go"),
        ("S", "250 OK"),
        ("S", "221 Bye"),
    ]
    rec = record(steps)
    assert len(rec.messages) == 1
    assert rec.messages[0].ended
    assert "C: QUIT" in rec.transcript
    codes = {f.rule.code for f in check(rec).findings}
    assert codes == {"pipelining-group-end"}  # DATA must end its group (RFC 2920 §3.1)


def test_a_ten_megabyte_line_is_kept_as_its_start_and_its_length() -> None:
    line = b"NOOP " + b"x" * 10_000_000 + b"\r\n"
    rec = record([GREETING, ("C", line[:65536]), ("C", line[65536:]), ("S", "500 too long")])
    command = rec.lines[1]
    assert command.octets == len(line)
    assert command.cut
    assert len(command.text) == MAX_SHOWN_OCTETS
    assert "octets in all" in command.transcript
    assert "command-too-long" in {f.rule.code for f in check(rec).findings}


def test_a_client_gone_in_the_middle_of_the_data_is_broken_off() -> None:
    steps = [*polite(GOOD_MESSAGE)[:-4], ("C", b"From: a@b\r\nSubject: cut")]
    rec = record(steps)
    assert rec.outcome == "broken off"
    assert rec.ended_by == "client"
    assert not rec.messages[0].ended
    assert rec.transcript[-1] == "-- the connection closed in the middle of the message data"
    assert "no-quit" in {f.rule.code for f in check(rec).findings}


def test_auth_secrets_are_never_kept() -> None:
    plain = base64.b64encode(b"\0ada\0correct horse").decode()
    steps = [
        GREETING,
        ("C", b"EHLO c\r\n"),
        ("S", "250-c"),
        ("S", "250 AUTH PLAIN LOGIN"),
        ("C", f"AUTH PLAIN {plain}\r\n".encode()),
        ("S", "535 5.7.8 no"),
        ("C", b"AUTH LOGIN\r\n"),
        ("S", "334 VXNlcm5hbWU6"),
        ("C", base64.b64encode(b"ada") + b"\r\n"),
        ("S", "334 UGFzc3dvcmQ6"),
        ("C", base64.b64encode(b"correct horse") + b"\r\n"),
        ("S", "535 5.7.8 no"),
        ("C", b"correct horse\r\n"),
        ("S", '500 Error: command "CORRECT" not recognized'),
    ]
    text = json.dumps(record(steps).to_json())
    for secret in (
        "correct",
        "CORRECT",
        plain,
        base64.b64encode(b"correct horse").decode(),
        base64.b64encode(b"ada").decode(),
    ):
        assert secret not in text
    assert "AUTH PLAIN <redacted>" in text


def test_bytes_sent_after_starttls_before_the_handshake_are_noted_as_discarded() -> None:
    steps = [
        GREETING,
        ("C", b"EHLO c\r\n"),
        ("S", "250 STARTTLS"),
        ("C", b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n"),
        ("S", "220 go ahead"),
    ]
    rec = record(steps)
    assert not any("evil" in line for line in rec.transcript)
    assert "discarded" in rec.transcript[-1]


def test_lines_past_the_limit_are_counted_not_kept() -> None:
    steps: list[Step] = [GREETING]
    for _ in range(MAX_LINES):
        steps += [("C", b"NOOP\r\n"), ("S", "250 OK")]
    rec = record(steps)
    assert len(rec.lines) == MAX_LINES
    assert rec.lines_dropped == MAX_LINES + 1
    assert any("not kept" in text for text in check(rec).unknown)


def test_shown_escapes_everything_that_is_not_plain_text() -> None:
    assert shown(b"a\\b\tc\r\n\0") == "a\\\\b\\tc\\r\\n\\0"
    assert shown(b"\xff\x1b[31m") == "\\xFF\\x1B[31m"
    assert shown("é\u202eevil".encode()) == "é\\u202Eevil"


def test_a_record_survives_its_json() -> None:
    rec = record(polite(GOOD_MESSAGE))
    assert SessionRecord.from_json(json.loads(json.dumps(rec.to_json()))) == rec


_CONTROL = set(range(0x20)) | {0x7F}


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("C"), st.binary(max_size=300)),
            st.tuples(
                st.just("C"),
                st.sampled_from(
                    [
                        b"DATA\r\n",
                        b".\r\n",
                        b"\r\n.\r\n",
                        b"AUTH LOGIN\r\n",
                        b"STARTTLS\n",
                        b"MAIL FROM:<\xff>\n",
                        b"..\r\n",
                    ]
                ),
            ),
            st.tuples(
                st.just("S"),
                st.sampled_from(
                    ["354 go", "334 VXNlcg==", "220 tls", "250-x", "250 OK", "221 Bye", "5", ""]
                ),
            ),
            st.tuples(st.just("S"), st.text(max_size=40)),
        ),
        max_size=40,
    ),
    st.booleans(),
)
def test_any_byte_stream_is_recorded_and_checked_without_raising(
    steps: list[Step], by_client: bool
) -> None:
    rec = record(steps, by_client=by_client)
    report = check(rec)
    json.dumps(report.to_json())
    assert SessionRecord.from_json(json.loads(json.dumps(rec.to_json()))) == rec
    for line in rec.lines:
        assert not any(ord(char) in _CONTROL for char in line.text)
        assert len(line.text.encode()) <= 4 * MAX_SHOWN_OCTETS + 20


def test_an_unfinished_recorder_builds_too() -> None:
    recorder = SessionRecorder("s", "", 0, 0.0, 0.0)
    recorder.received(b"EHLO", 0.1)
    recorder.closed(0.2, by_client=False, idle_limit=0.1)
    assert recorder.build(1.0).ended_by == "timeout"
