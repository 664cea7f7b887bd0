"""Exchangers the capture servers cannot play: opportunistic STARTTLS (RFC 3207, RFC 7435) taken
when offered, certificate unchecked unless asked, a failed handshake moving on to the next host;
and a host that closes with 421 after one message, the rest going to the next host."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from exchangers import GOOD, Exchangers

from app.delivery.direct import DirectOptions, deliver_direct

TLS_HOST, BROKEN_TLS_HOST = "127.0.0.8", "127.0.0.9"
MESSAGE = b"Subject: results\r\n\r\n8 of 10\r\n"


@dataclass
class Keep:
    """An aiosmtpd handler that keeps each message and whether it came over TLS."""

    received: list[tuple[list[str], bool]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), session.ssl is not None))
        return "250 2.0.0 kept"


@pytest.fixture
def tls_exchanger(exchangers: Exchangers) -> Iterator[Keep]:
    """aiosmtpd offering STARTTLS with a certificate no system CA signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("mx.tls.test").configure_cert(context)
    handler = Keep()
    controller = Controller(handler, hostname=TLS_HOST, port=exchangers.port, tls_context=context)
    controller.start()
    yield handler
    controller.stop()


class BrokenTLS:
    """Offers STARTTLS, says 220 to it, then answers the handshake with plain text."""

    def __init__(self, port: int) -> None:
        self.listener = socket.create_server((BROKEN_TLS_HOST, port))
        self.listener.settimeout(5)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 broken.tls.test ESMTP\r\n")
            lines.readline()  # EHLO
            conn.sendall(b"250-broken.tls.test\r\n250 STARTTLS\r\n")
            lines.readline()  # STARTTLS
            conn.sendall(b"220 go ahead\r\n")
            conn.sendall(b"this is not a TLS record at all\r\n" * 4)

    def stop(self) -> None:
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def broken_tls(exchangers: Exchangers) -> Iterator[BrokenTLS]:
    server = BrokenTLS(exchangers.port)
    yield server
    server.stop()


def deliver(options: DirectOptions, recipient: str) -> tuple[str, str, list[str]]:
    (result,) = deliver_direct([(MESSAGE, "quizmail@school.example", [recipient])], options)
    outcome = result.recipients[recipient]
    return outcome.state, outcome.host or "", result.transcript


def test_starttls_is_taken_when_offered_without_checking_the_certificate(
    options: DirectOptions, tls_exchanger: Keep
) -> None:
    state, host, transcript = deliver(options, "ada@tls.test")
    assert state == "sent"
    assert host == f"mx.tls.test [{TLS_HOST}]"
    assert "C: STARTTLS" in transcript
    assert tls_exchanger.received == [(["ada@tls.test"], True)]


def test_without_starttls_on_offer_the_message_goes_in_plaintext(
    options: DirectOptions, exchangers: Exchangers
) -> None:
    state, _, transcript = deliver(options, "ada@good.test")
    assert state == "sent"
    assert "C: STARTTLS" not in transcript


def test_a_certificate_checked_when_asked_fails_and_the_message_waits(
    options: DirectOptions, tls_exchanger: Keep
) -> None:
    state, _, transcript = deliver(replace(options, verify_tls=True), "ada@tls.test")
    assert state == "queued"
    assert any("certificate verify failed" in line for line in transcript)
    assert tls_exchanger.received == []


def test_a_failed_handshake_moves_on_to_the_next_host(
    options: DirectOptions, broken_tls: BrokenTLS, exchangers: Exchangers
) -> None:
    state, host, transcript = deliver(options, "ada@brokentls.test")
    assert state == "sent"
    assert host == f"mx.good.test [{GOOD}]"
    text = "\n".join(transcript)
    assert "the TLS handshake with mx.brokentls.test" in text
    assert text.index("TLS handshake") < text.index("-- moving on to the next host")


@dataclass
class ClosesAfterOne(Keep):
    """Takes one message per connection, then answers the next MAIL with 421 and closes."""

    mails: int = 0

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.mails += 1
        if self.mails > 1:
            return "421 4.3.2 one message a connection, closing"
        envelope.mail_from = address
        return "250 OK"


def test_a_421_mid_batch_sends_the_rest_to_the_next_host(
    options: DirectOptions, exchangers: Exchangers
) -> None:
    handler = ClosesAfterOne()
    controller = Controller(handler, hostname=TLS_HOST, port=exchangers.port)
    controller.start()
    try:
        items = [(MESSAGE, "quizmail@school.example", [f"s{n}@closing.test"]) for n in range(3)]
        results = deliver_direct(items, options)
    finally:
        controller.stop()
    hosts = [r.recipients[f"s{n}@closing.test"].host for n, r in enumerate(results)]
    assert hosts == [f"mx.closing.test [{TLS_HOST}]"] + [f"mx.good.test [{GOOD}]"] * 2
    assert handler.received == [(["s0@closing.test"], False)]
    assert [exchangers.total(f"s{n}@closing.test") for n in range(3)] == [0, 1, 1]
