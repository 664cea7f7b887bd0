"""Real clients against `quizmail capture`: what the session log records of each, and the
findings each must and must not produce. smtplib, swaks and curl are well-behaved mostly; the
raw-socket clients are the sloppy ones students write."""

from __future__ import annotations

import shutil
import smtplib
import subprocess
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from app.conformance import check
from app.store import MailStore
from app.store.session_record import SessionRecord

from .conftest import HOST, Connect, RunningCapture

SWAKS, CURL = shutil.which("swaks"), shutil.which("curl")
CLIENT_TIMEOUT = 30


def codes(record: SessionRecord) -> set[str]:
    return {finding.rule.code for finding in check(record).findings}


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}.test"


def good_message(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ada <ada@example.org>"
    message["To"] = "bob@school.example"
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content("Line one.\n.A line that begins with a dot.\n")
    return message


def test_smtplib_is_recorded_accepted_and_clean(capture: RunningCapture) -> None:
    name = unique("smtplib")
    with smtplib.SMTP(HOST, capture.port, local_hostname=name, timeout=10) as smtp:
        smtp.send_message(good_message("from smtplib"))
    record = capture.session(name)
    assert record.outcome == "accepted"
    assert record.ended_by == "quit"
    assert codes(record) == set()  # smtplib's lower-case "mail FROM:" is allowed (§2.4)
    (message_id,) = record.message_ids
    with MailStore(capture.mailbox) as store:
        assert b"from smtplib" in store.get_bytes(message_id)


def test_smtplib_without_date_or_message_id(capture: RunningCapture) -> None:
    name = unique("bare-smtplib")
    with smtplib.SMTP(HOST, capture.port, local_hostname=name, timeout=10) as smtp:
        smtp.sendmail("ada@example.org", ["bob@school.example"], b"Subject: hi\r\n\r\nHello\r\n")
    assert codes(capture.session(name)) == {"header-from", "header-date", "message-id-missing"}


@pytest.mark.skipif(SWAKS is None, reason="swaks is not installed")
def test_swaks_pipelines_as_advertised(capture: RunningCapture) -> None:
    name = unique("swaks")
    command = [
        str(SWAKS),
        "--server",
        f"{HOST}:{capture.port}",
        "--pipeline",
        "--helo",
        name,
        "--from",
        "ada@example.org",
        "--to",
        "bob@school.example",
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=CLIENT_TIMEOUT)
    record = capture.session(name)
    assert record.outcome == "accepted"
    # MAIL, RCPT and DATA went in one group, after PIPELINING was advertised: no finding.
    assert any(line.side == "C" and line.replies < 3 for line in record.lines[8:])
    assert codes(record) == set()


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
# curl declares the file's size as SIZE=, then sends more: CRLF for each LF with --crlf, and a
# CRLF of its own before the final dot when the file does not end in one.
@pytest.mark.parametrize(
    ("crlf", "expected"), [(True, {"size-declared"}), (False, {"bare-lf", "size-declared"})]
)
def test_curl_with_and_without_crlf(
    capture: RunningCapture, tmp_path: Path, crlf: bool, expected: set[str]
) -> None:
    name = unique("curl")
    message = tmp_path / "message.txt"
    date = format_datetime(datetime.now(UTC))
    message.write_bytes(
        f"From: ada@example.org\nTo: bob@school.example\nDate: {date}\n"
        f"Message-ID: <{name}@example.org>\nSubject: curl\n\n.dot first\nHello\n".encode()
    )
    command = [
        str(CURL),
        "--silent",
        "--show-error",
        f"smtp://{HOST}:{capture.port}/{name}",
        "--mail-from",
        "ada@example.org",
        "--mail-rcpt",
        "bob@school.example",
        "--upload-file",
        str(message),
        *(["--crlf"] if crlf else []),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=CLIENT_TIMEOUT)
    record = capture.session(name)
    assert record.outcome == "accepted"
    assert codes(record) == expected
    # curl dot-stuffs ("..dot first") a line that follows a CRLF; with LF alone there is none.
    assert record.messages[0].stuffed == crlf


class Sloppy:
    """A raw-socket client as a student writes it first: it reads what it likes."""

    def __init__(self, connect: Connect) -> None:
        self.sock = connect()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self, replies: int = 1) -> bytes:
        """Read until *replies* final reply lines have come."""
        data = b""
        while sum(1 for line in data.split(b"\r\n")[:-1] if line[3:4] != b"-") < replies:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


def test_a_sloppy_client_gets_told_what_it_did_wrong(
    capture: RunningCapture, connect: Connect
) -> None:
    name = unique("sloppy")
    client = Sloppy(connect)
    client.read()
    client.send(f"HELO {name}\n".encode())  # bare LF, and HELO rather than EHLO
    client.read()
    # Pipelined though HELO advertises nothing; the body has bare LFs and an unstuffed dot.
    client.send(b"MAIL FROM:<ada@example.org>\nRCPT TO:<bob@school.example>\nDATA\n")
    assert client.read(3).endswith(b"\r\n")
    client.send(b"Subject: sloppy\r\n\r\n.unstuffed line\r\nbody\nmore\r\n.\r\n")
    assert client.read().startswith(b"250 ")
    client.close()  # no QUIT
    record = capture.session(name)
    assert record.outcome == "accepted"
    assert record.ended_by == "client"
    found = codes(record)
    assert found >= {
        "bare-lf",
        "helo-not-ehlo",
        "unadvertised-pipelining",
        "dot-stuffing",
        "no-quit",
        "header-date",
        "header-from",
    }
    assert not found & {
        "before-greeting",
        "mail-before-helo",
        "path-syntax",
        "pipelining-group-end",
    }


def test_a_client_that_does_not_say_hello(capture: RunningCapture, connect: Connect) -> None:
    name = unique("eager")
    client = Sloppy(connect)
    # aiosmtpd greets at once, so a client that does not wait for it is not seen doing so: the
    # recorder sees it only when the bytes arrive before the greeting (test_conformance.py).
    client.send(f"MAIL FROM: <{name}@example.org>\r\n".encode())  # before HELO
    client.read(2)
    client.send(b"QUIT\r\n")
    client.read()
    client.close()
    record = capture.session(name)
    assert codes(record) >= {"mail-before-helo", "path-syntax"}
    assert "no-quit" not in codes(record)
    assert record.outcome == "refused"


def test_a_second_transaction_without_rset(capture: RunningCapture, connect: Connect) -> None:
    name = unique("again")
    client = Sloppy(connect)
    client.read()
    client.send(f"EHLO {name}\r\n".encode())
    client.read()
    client.send(b"MAIL FROM:<ada@example.org> SIZE=10\r\n")
    client.read()
    client.send("RCPT TO:<élève@école.example>\r\n".encode())  # refused: no SMTPUTF8
    assert client.read().startswith(b"553 ")
    client.send(b"MAIL FROM:<ada@example.org>\r\n")
    client.read()
    client.send(b"QUIT\r\n")
    client.read()
    client.close()
    assert codes(capture.session(name)) >= {"transaction-open", "utf8-address"}


def test_hostile_bytes_are_recorded_escaped_and_bounded(
    capture: RunningCapture, connect: Connect
) -> None:
    name = unique("hostile")
    client = Sloppy(connect)
    client.read()
    client.send(f"EHLO {name}\r\n".encode())
    client.read()
    client.send(b"\x00\xff\xfe<script>alert(1)</script>\x1b[2J\r\n")
    client.read()
    client.send(b"NOOP " + b"A" * 10_000_000 + b"\r\n")
    client.read()
    client.send(b"MAIL FROM:<ada@example.org>\r\nRCPT TO:<bob@school.example>\r\nDATA\r\n")
    client.read(3)
    client.send(b"Subject: cut off\r\n\r\nhalf a message \xc3")
    time.sleep(0.2)
    client.close()  # in the middle of the data
    record = capture.session(name)
    texts = [line.text for line in record.lines]
    assert "\\0\\xFF\\xFE<script>alert(1)</script>\\x1B[2J" in texts
    (long_line,) = [line for line in record.lines if line.octets > 10_000_000]
    assert long_line.cut
    assert len(long_line.text) <= 400
    assert record.outcome == "broken off"
    assert not record.messages[0].ended
