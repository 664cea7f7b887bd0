"""Sessions played to the recorder without a network: client bytes and server lines in order."""

from __future__ import annotations

from collections.abc import Iterable

from app.capture.recorder import SessionRecorder
from app.store.session_record import SessionRecord

Step = tuple[str, bytes | str]  # ("C", bytes the client sent) or ("S", a line the server wrote)


def record(steps: Iterable[Step], *, by_client: bool = True) -> SessionRecord:
    """The record of a session made of *steps*, each a millisecond after the one before."""
    recorder = SessionRecorder("test-session", "192.0.2.7", 40000, 1_764_700_000.0, 0.0)
    at = 0.0
    for side, data in steps:
        at += 0.001
        if side == "C":
            assert isinstance(data, bytes)
            recorder.received(data, at)
        else:
            recorder.sent(data, at)
    recorder.closed(at + 0.001, by_client=by_client, idle_limit=300)
    return recorder.build(1_764_700_001.0)


GREETING = ("S", "220 capture.test ESMTP")
EHLO_REPLY = [
    ("S", "250-capture.test"),
    ("S", "250-SIZE 1000"),
    ("S", "250-8BITMIME"),
    ("S", "250-SMTPUTF8"),
    ("S", "250-PIPELINING"),
    ("S", "250 HELP"),
]


def polite(message: bytes, mail: bytes = b"MAIL FROM:<ada@example.org>") -> list[Step]:
    """A well-behaved session sending *message* (already dot-stuffed, CRLF, no final dot)."""
    return [
        GREETING,
        ("C", b"EHLO client.test\r\n"),
        *EHLO_REPLY,
        ("C", mail + b"\r\n"),
        ("S", "250 OK"),
        ("C", b"RCPT TO:<bob@school.example>\r\n"),
        ("S", "250 2.1.5 OK"),
        ("C", b"DATA\r\n"),
        ("S", "354 End data with <CR><LF>.<CR><LF>"),
        ("C", message + b".\r\n"),
        ("S", "250 2.0.0 OK: queued as 1"),
        ("C", b"QUIT\r\n"),
        ("S", "221 Bye"),
    ]


GOOD_MESSAGE = (
    b"From: Ada <ada@example.org>\r\n"
    b"To: bob@school.example\r\n"
    b"Date: Wed, 2 Dec 2026 18:30:00 +0000\r\n"
    b"Message-ID: <1.2@example.org>\r\n"
    b"Subject: =?utf-8?q?R=C3=A9sultats?=\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"..a stuffed line\r\n"
    b"Hello\r\n"
)
