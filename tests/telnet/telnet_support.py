"""Test support for the telnet quiz: a quiz file, a whole site (capture server, web app, telnet
server sharing one VAR_DIR and secret key), a raw-socket client and a clock that tests move."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from capture.capture_helpers import free_port
from flask import Flask
from quiz_taking import questions_dir, quiz_site

from app.capture import CaptureServer, RecipientPolicy
from app.store import MailStore
from app.telnet import TelnetController, TelnetQuizServer
from app.web.results_email import notifier

#: Shuffled questions and options, a pick of 4 from 5, Markdown with a code block, one
#: "select all that apply" and one true/false question: everything the order depends on.
PORTS_QUIZ = """\
title: Ports and protocols
description: Which port is which.
pass_mark: 50%
shuffle: {questions: true, options: true}
pick: 4
questions:
  - id: smtp
    text: On which port does an SMTP relay listen?
    options:
      - {text: "25", correct: true}
      - {text: "110", feedback: "That is POP3."}
      - {text: "143"}
    explanation: RFC 5321 §4.5.4.
  - id: pop3
    text: |
      Which port does this POP3 session use?

      ```
      $ nc mail.example.org 110
      +OK POP3 ready
      ```
    options:
      - {text: "110", correct: true}
      - {text: "995", feedback: "That is POP3 over TLS."}
      - {text: "25"}
  - id: secure
    type: multiple
    text: Which ports carry **implicit** TLS?
    options:
      - {text: "465", correct: true}
      - {text: "993", correct: true}
      - {text: "587", feedback: "Submission starts in plain text, then STARTTLS."}
      - {text: "143"}
  - id: dns
    text: DNS answers on which port?
    options:
      - {text: "53", correct: true}
      - {text: "67"}
  - id: udp
    type: true_false
    text: DNS uses UDP and TCP.
    answer: true
"""
TIMED_QUIZ = """\
title: A timed quiz
time_limit: 10m
questions:
  - id: one
    text: One?
    options:
      - {text: "yes", correct: true}
      - {text: "no"}
  - id: two
    text: Two?
    options:
      - {text: "yes", correct: true}
      - {text: "no"}
"""
PROMPTS = (b"quiz> ", b"answer> ", b"submit> ", b"results> ")
ADA = "ada@example.org"


class MovableClock:
    """The server's clock, a real one plus an offset a test may change."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Site:
    """Capture server, web app and telnet server on one VAR_DIR, questions and secret key."""

    app: Flask
    capture: CaptureServer
    telnet: TelnetController
    clock: MovableClock
    capture_running: bool = True  # False once a test has stopped the relay itself

    @property
    def port(self) -> int:
        return self.telnet.port

    def store(self) -> MailStore:
        return self.capture.store

    def stop(self) -> None:
        self.telnet.stop()
        with self.app.app_context():
            notifier().close()
        if self.capture_running:
            self.capture.stop()


def start_site(
    tmp_path: Path, policy: RecipientPolicy | None = None, **server_settings: Any
) -> Site:
    questions = questions_dir(tmp_path, ports=PORTS_QUIZ, timed=TIMED_QUIZ)
    capture = CaptureServer(
        tmp_path / "mailbox",
        port=free_port(),
        hostname="capture.test",
        policy=policy or RecipientPolicy(),
    )
    capture.start()
    app = quiz_site(tmp_path / "var", questions)
    app.config.update(
        SMTP_PORT=capture.port, SMTP_TIMEOUT=10.0, MAILBOX_DIR=str(tmp_path / "mailbox")
    )
    clock = MovableClock()
    server = TelnetQuizServer.from_config(app.config, clock=clock, **server_settings)
    telnet = TelnetController(server).start()
    return Site(app, capture, telnet, clock)


def site_fixture(
    tmp_path: Path, policy: RecipientPolicy | None = None, **server_settings: Any
) -> Iterator[Site]:
    site = start_site(tmp_path, policy, **server_settings)
    yield site
    site.stop()


class Client:
    """A telnet client on a bare socket: send lines, read up to the next prompt."""

    def __init__(self, port: int, *, timeout: float = 20.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.received = bytearray()
        self.greeting = ""

    def read_until(self, *endings: bytes) -> str:
        """What arrived up to and including the first of *endings* (a prompt by default)."""
        endings = endings or PROMPTS
        while True:
            found = [self.received.find(end) for end in endings]
            hits = [(at, len(end)) for at, end in zip(found, endings, strict=True) if at >= 0]
            if hits:
                at, size = min(hits)
                text = bytes(self.received[: at + size]).decode("utf-8")
                del self.received[: at + size]
                return text
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; received: {bytes(self.received)!r}")
            self.received += chunk

    def read_to_close(self) -> str:
        """Everything until the server closes the connection."""
        while chunk := self.sock.recv(65536):
            self.received += chunk
        text = bytes(self.received).decode("utf-8")
        self.received.clear()
        return text

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self, text: str, end: bytes = b"\r\n") -> str:
        """Send one line; the answer up to the next prompt."""
        self.send(text.encode("utf-8") + end)
        return self.read_until()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Client:
        self.greeting = self.read_until()  # the welcome and the quiz list
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def quiz_number(greeting_or_menu: str, title: str) -> str:
    """The number the quiz list gives *title*."""
    for line in greeting_or_menu.splitlines():
        if title in line:
            return line.strip().split(")")[0]
    raise AssertionError(f"{title!r} is not listed:\n{greeting_or_menu}")


def results_json(message: EmailMessage) -> dict[str, Any]:
    for part in message.iter_attachments():
        if part.get_filename() == "results.json":
            return json.loads(part.get_content())  # type: ignore[no-any-return]
    raise AssertionError("no results.json attached")


def captured_messages(store: MailStore, to: str, count: int) -> list[EmailMessage]:
    """The *count* messages captured for *to*, waiting a little for them to be indexed."""
    deadline = time.monotonic() + 10
    while True:
        summaries = store.search(to=to, limit=100)
        if len(summaries) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return [
        message_from_bytes(store.get_bytes(s.id), policy=policy.default)  # type: ignore[misc]
        for s in reversed(summaries)
    ]
