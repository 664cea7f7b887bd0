"""Real dialogues for the explainer: our client and a bare-socket client against aiosmtpd,
Postfix's smtp-sink and the capture server, recorded as ``C: …`` / ``S: …`` lines."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from capture.capture_helpers import RawClient
from smtp.smtp_servers import SHORT, Capture, aiosmtpd_server, free_port, smtp_sink

from app.capture import CaptureServer, RecipientPolicy
from app.mail import build_message
from app.smtp import SMTPClient, SMTPError

SENDER = "a@example.com"
RECIPIENTS = ["b@example.com", "refused@example.com"]
MESSAGE = build_message(
    sender=SENDER, to=RECIPIENTS[0], subject="Dots", text="A line\n.starts with a dot\n"
)

#: What a student types by hand: every command of base SMTP, extensions, mistakes, a message
#: with a dot-stuffed line, and a verb no server knows (FOO).
HAND_TYPED: list[tuple[bytes, bool]] = [  # (line, whether a reply comes)
    (b"HELO client.test", True),
    (b"EHLO client.test", True),
    (b"HELP", True),
    (b"VRFY b@example.com", True),
    (b"EXPN staff", True),
    (b"NOOP", True),
    (b"FOO", True),
    (b"MAIL", True),
    (b"MAIL FROM:<a@example.com> BODY=8BITMIME SIZE=100", True),
    (b"MAIL FROM:<a@example.com>", True),
    (b"RCPT TO:<b@example.com>", True),
    (b"RCPT TO:<someone@elsewhere.test>", True),
    (b"RCPT TO:<" + b"x" * 300 + b"@example.com>", True),
    (b"RCPT TO:<\xc3\xa9@example.com>", True),
    (b"DATA", True),
    (b"Subject: by hand", False),
    (b"", False),
    (b"..a line that starts with a dot", False),
    (b".", True),
    (b"RSET", True),
    (b"DATA", True),
    (b"AUTH PLAIN", True),
    (b"STARTTLS", True),
    (b"BDAT 10", True),
    (b"ETRN example.com", True),
    (b"QUIT", True),
]


def ours(port: int) -> list[str]:
    """Our client's dialogue sending MESSAGE to RECIPIENTS (one may be refused)."""
    client = SMTPClient("127.0.0.1", port, timeout=SHORT)
    try:
        with client:
            client.send(MESSAGE, SENDER, RECIPIENTS)
    except SMTPError:
        pass  # every recipient refused: the dialogue is still what we want
    return client.transcript


def hand_typed(port: int) -> list[str]:
    """The HAND_TYPED lines over a bare socket, each reply read before the next line."""
    lines: list[str] = []
    with RawClient(port) as raw:
        lines += ["S: " + line.decode("utf-8", "replace") for line in raw.reply()]
        for command, answered in HAND_TYPED:
            raw.send(command + b"\r\n")
            lines.append("C: " + command.decode("utf-8", "replace"))
            if answered:
                lines += ["S: " + line.decode("utf-8", "replace") for line in raw.reply()]
    return lines


def smtp_sink_path() -> str | None:
    return shutil.which("smtp-sink") or shutil.which("smtp-sink", path="/usr/sbin:/usr/lib/postfix")


@pytest.fixture(scope="session")
def aiosmtpd_dialogues() -> list[list[str]]:
    with aiosmtpd_server(Capture(refuse={RECIPIENTS[1]})) as controller:
        return [ours(controller.port), hand_typed(controller.port)]


@pytest.fixture(scope="session")
def smtp_sink_dialogues() -> list[list[str]]:
    binary = smtp_sink_path()
    if binary is None:
        pytest.skip("Postfix's smtp-sink is not installed (Debian package postfix)")
    with smtp_sink(binary) as port:
        return [ours(port), hand_typed(port)]


@pytest.fixture(scope="session")
def capture_dialogues(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[list[str]]]:
    """`quizmail capture`'s server, taking mail for example.com only (so that some is refused)."""
    mailbox: Path = tmp_path_factory.mktemp("mailbox")
    policy = RecipientPolicy(domains=frozenset({"example.com"}))
    server = CaptureServer(
        port=free_port(), hostname="capture.test", mailbox=mailbox, policy=policy
    )
    server.start()
    try:
        yield [ours(server.port), hand_typed(server.port)]
    finally:
        server.stop()
