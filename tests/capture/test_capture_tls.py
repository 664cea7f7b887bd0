"""STARTTLS (RFC 3207) and implicit TLS (RFC 8314) on the capture server, with smtplib and a raw
socket: the happy paths, and every way a client can get TLS wrong."""

from __future__ import annotations

import email
import email.policy
import logging
import smtplib
import socket
import ssl
import threading
from pathlib import Path

import pytest
from capture_helpers import RawClient, StartServer, logged

from app.capture import CaptureServer
from app.capture.tls import LocalCA
from app.store import MailStore

MESSAGE = b"From: ada@example.org\r\nSubject: over TLS\r\n\r\nhello\r\n"


def stored(server: CaptureServer, recipient: str) -> list[bytes]:
    with MailStore(server.mailbox) as store:
        return [store.get_bytes(key) for key in store.keys(recipient)]


def received(copy: bytes) -> str:
    parsed = email.message_from_bytes(copy, policy=email.policy.default)
    return " ".join(str(parsed["Received"]).split())


def greeted(port: int) -> RawClient:
    client = RawClient(port)
    assert client.reply()[0].startswith(b"220 ")
    return client


def test_starttls_verifies_against_the_local_ca_and_is_traced_as_esmtps(
    secure: CaptureServer, local_ca: LocalCA
) -> None:
    with smtplib.SMTP("127.0.0.1", secure.port, local_hostname="client.test", timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert not smtp.has_extn("auth")  # RFC 4954 §4: no AUTH in plaintext
        smtp.starttls(context=local_ca.client_context())
        smtp.ehlo()
        assert not smtp.has_extn("starttls")  # RFC 3207 §4.2: not offered again
        assert smtp.has_extn("auth")
        smtp.sendmail("ada@example.org", ["t@school.example"], MESSAGE)
    (copy,) = stored(secure, "t@school.example")
    trace = received(copy)
    assert " with ESMTPS id " in trace
    assert " tls TLS_" in trace  # RFC 8314 §7.4: the cipher suite
    assert copy.endswith(MESSAGE)


def test_implicit_tls_port_speaks_tls_from_the_first_byte(
    secure: CaptureServer, local_ca: LocalCA
) -> None:
    context = local_ca.client_context()
    with smtplib.SMTP_SSL("127.0.0.1", secure.tls_port, context=context, timeout=10) as smtp:
        smtp.ehlo("client.test")
        assert not smtp.has_extn("starttls")
        assert smtp.has_extn("auth")
        smtp.sendmail("ada@example.org", ["t@school.example"], MESSAGE)
    assert " with ESMTPS id " in received(stored(secure, "t@school.example")[0])


def test_the_ehlo_state_is_forgotten_after_starttls(
    secure: CaptureServer, local_ca: LocalCA
) -> None:
    with greeted(secure.port) as client:
        client.command(b"EHLO client.test")
        assert client.command(b"STARTTLS")[0].startswith(b"220 ")
        client.start_tls(local_ca.client_context())
        assert client.command(b"MAIL FROM:<ada@example.org>")[0].startswith(b"503 ")


def test_starttls_twice_is_refused_and_the_session_goes_on(
    secure: CaptureServer, local_ca: LocalCA
) -> None:
    with greeted(secure.port) as client:
        client.command(b"EHLO client.test")
        client.command(b"STARTTLS")
        client.start_tls(local_ca.client_context())
        client.command(b"EHLO client.test")
        assert client.command(b"STARTTLS") == [b"503 5.5.1 TLS is already active"]
        assert client.command(b"NOOP")[0].startswith(b"250")


def test_starttls_on_the_implicit_tls_port_is_refused(
    secure: CaptureServer, local_ca: LocalCA
) -> None:
    context = local_ca.client_context()
    with (
        socket.create_connection(("127.0.0.1", secure.tls_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        lines = tls.makefile("rb")
        assert lines.readline().startswith(b"220 ")
        tls.sendall(b"EHLO client.test\r\nSTARTTLS\r\n")
        while lines.readline()[3:4] == b"-":
            pass
        assert lines.readline() == b"503 5.5.1 TLS is already active\r\n"


def test_starttls_with_an_argument_is_a_syntax_error(secure: CaptureServer) -> None:
    with greeted(secure.port) as client:
        client.command(b"EHLO client.test")
        assert client.command(b"STARTTLS now") == [b"501 5.5.4 Syntax: STARTTLS"]


def test_commands_pipelined_behind_starttls_are_discarded_not_run(
    secure: CaptureServer, local_ca: LocalCA, caplog: pytest.LogCaptureFixture
) -> None:
    """CVE-2011-0411: a MAIL FROM injected in plaintext must not count inside TLS."""
    with greeted(secure.port) as client, caplog.at_level(logging.WARNING):
        client.command(b"EHLO client.test")
        client.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<mallory@example.org>\r\n")
        assert client.reply()[0].startswith(b"220 ")
        client.start_tls(local_ca.client_context())
        client.command(b"EHLO client.test")
        # Had the injected MAIL run, RCPT would be accepted; the session has no sender.
        assert client.command(b"RCPT TO:<t@school.example>")[0].startswith(b"503 ")
        assert client.command(b"MAIL FROM:<ada@example.org>")[0].startswith(b"250")
    assert logged(caplog, "octets after STARTTLS; discarded unread")


def test_starttls_with_a_handshake_that_never_comes_times_out(
    secure: CaptureServer, caplog: pytest.LogCaptureFixture
) -> None:
    with greeted(secure.port) as client, caplog.at_level(logging.WARNING):
        client.command(b"EHLO client.test")
        assert client.command(b"STARTTLS")[0].startswith(b"220 ")
        assert client.rest() == b""  # closed by the server after its handshake timeout
    assert logged(caplog, "did not complete in time")


def test_implicit_tls_without_a_handshake_times_out(
    secure: CaptureServer, caplog: pytest.LogCaptureFixture
) -> None:
    with RawClient(secure.tls_port) as client, caplog.at_level(logging.WARNING):
        assert client.rest() == b""  # no greeting in plaintext, then closed
    assert logged(caplog, "TLS handshake with 127.0.0.1 failed")


def test_a_failed_handshake_is_logged_and_other_sessions_go_on(
    secure: CaptureServer, caplog: pytest.LogCaptureFixture
) -> None:
    untrusting = ssl.create_default_context()  # the system's CAs: ours is not among them
    with caplog.at_level(logging.WARNING), pytest.raises(ssl.SSLCertVerificationError):
        smtplib.SMTP_SSL("127.0.0.1", secure.tls_port, context=untrusting, timeout=10)
    with smtplib.SMTP("127.0.0.1", secure.port, timeout=10) as smtp:
        smtp.sendmail("ada@example.org", ["t@school.example"], MESSAGE)
    assert len(stored(secure, "t@school.example")) == 1
    assert logged(caplog, "TLS handshake")
    assert not any(r.exc_info for r in caplog.records)


def test_tls_sent_to_the_plaintext_port_gets_554_and_is_closed(
    secure: CaptureServer, local_ca: LocalCA, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING),
        socket.create_connection(("127.0.0.1", secure.port), timeout=10) as raw,
    ):
        hello = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = local_ca.client_context().wrap_bio(*hello, server_hostname="localhost")
        with pytest.raises(ssl.SSLWantReadError):
            tls.do_handshake()
        raw.sendall(hello[1].read())  # a ClientHello, where a command line was expected
        answer = b""
        while chunk := raw.recv(4096):
            answer += chunk
    assert b"554 5.7.0 This port speaks plaintext SMTP" in answer
    assert logged(caplog, "TLS handshake to a plaintext port")


def test_a_stalled_handshake_does_not_hold_up_other_clients(
    start_server: StartServer, local_ca: LocalCA
) -> None:
    server = start_server(tls=local_ca.server_context(), tls_port=0)
    with RawClient(server.tls_port), RawClient(server.port) as stalled:  # type: ignore[arg-type]
        stalled.command(b"STARTTLS")  # and never a ClientHello: both wait a minute
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
            smtp.starttls(context=local_ca.client_context())
            smtp.sendmail("ada@example.org", ["t@school.example"], MESSAGE)
        assert len(stored(server, "t@school.example")) == 1


def test_the_local_ca_is_made_once_and_reused(local_ca: LocalCA) -> None:
    before = local_ca.cert.read_bytes(), local_ca.ca_cert.read_bytes()
    again = LocalCA(local_ca.directory).ensure(["localhost"])
    assert (again.cert.read_bytes(), again.ca_cert.read_bytes()) == before
    assert local_ca.key.stat().st_mode & 0o077 == 0
    assert local_ca.ca_key.stat().st_mode & 0o077 == 0
    assert local_ca.ca_cert.read_bytes() in local_ca.trust.read_bytes()


def test_a_new_name_gets_a_new_server_certificate_from_the_same_ca(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path).ensure(["localhost"])
    first_ca, first_cert = ca.ca_cert.read_bytes(), ca.cert.read_bytes()
    ca.ensure(["localhost", "capture"])
    assert ca.ca_cert.read_bytes() == first_ca
    assert ca.cert.read_bytes() != first_cert
    client_side, server_side = socket.socketpair()
    with client_side, server_side:
        accepted = threading.Thread(
            target=lambda: ca.server_context().wrap_socket(server_side, server_side=True).close()
        )
        accepted.start()
        ca.client_context().wrap_socket(client_side, server_hostname="capture").close()
        accepted.join()
