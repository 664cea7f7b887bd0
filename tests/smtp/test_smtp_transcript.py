"""The transcript: lines as on the wire, secrets and the message summarised, recent ones kept."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.smtp.events import Auth, Content
from app.smtp.replies import Reply
from app.smtp.transcript import Entry, Transcript

EHLO = Reply(250, None, "sink\nPIPELINING", ("250-sink", "250 PIPELINING"))


def record(transcript: Transcript, entry: Entry) -> None:
    if isinstance(entry, bytes):
        transcript.sent(entry)
    elif isinstance(entry, Reply):
        transcript.received(entry)
    elif isinstance(entry, str):
        transcript.note(entry)
    else:
        transcript.summarised(entry)


@pytest.mark.parametrize(
    ("entry", "lines"),
    [
        (
            b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
            ["C: MAIL FROM:<a@example.org>", "C: RCPT TO:<b@example.org>", "C: DATA"],
        ),
        ("RCPT TO:<élève@example.org>\r\n".encode(), ["C: RCPT TO:<élève@example.org>"]),
        (EHLO, ["S: 250-sink", "S: 250 PIPELINING"]),
        (Auth("PLAIN", "c2VjcmV0"), ["C: AUTH PLAIN <redacted>"]),
        (Content(b"Subject: x\r\n\r\nbody\r\n"), ["C: <20 bytes of message data>"]),
        (
            "-- 12 bytes sent before the TLS handshake discarded",
            ["-- 12 bytes sent before the TLS handshake discarded"],
        ),
    ],
)
def test_each_entry_reads_as_its_lines(entry: Entry, lines: list[str]) -> None:
    """Writes line by line as on the wire, replies as received; secrets and the message not."""
    transcript = Transcript(100)
    record(transcript, entry)
    assert transcript.lines() == lines


def test_the_lines_are_a_copy() -> None:
    transcript = Transcript(100)
    transcript.note("-- one")
    transcript.lines().append("-- not in the transcript")
    assert transcript.lines() == ["-- one"]


@given(
    max_lines=st.integers(min_value=2, max_value=30),
    steps=st.lists(st.tuples(st.integers(min_value=1, max_value=5), st.booleans()), max_size=80),
)
def test_the_recent_lines_are_kept_however_often_they_are_read(
    max_lines: int, steps: list[tuple[int, bool]]
) -> None:
    transcript = Transcript(max_lines)
    everything: list[str] = []
    for number, (commands, read_now) in enumerate(steps):
        lines = [f"C: NOOP {number}.{line}" for line in range(commands)]
        transcript.sent("".join(line[3:] + "\r\n" for line in lines).encode())
        everything += lines
        if read_now or number == len(steps) - 1:
            kept = transcript.lines()
            assert kept == everything[len(everything) - len(kept) :]  # the most recent, in order
            assert kept[-commands:] == lines  # the newest write is never cut
            assert len(kept) <= max(max_lines, commands)
