"""The client against scripted servers that break the rules, hang up, or lie.

Each server is a thread serving one connection; every wait is bounded by a short timeout.
"""

from __future__ import annotations

import base64
import ssl
import time
from collections.abc import Callable

import pytest
from smtp_servers import SHORT, Peer, Script, ScriptedServer, free_port

from app.smtp import (
    RemoteProtocolError,
    SMTPClient,
    SMTPConnectError,
    SMTPRecipientsRefused,
    SMTPReplyError,
    SMTPTimeout,
    SMTPTransportError,
)

Scripted = Callable[[Script], ScriptedServer]
MESSAGE = b"Subject: hi\r\n\r\nHello\r\n"


def client(server: ScriptedServer, **kwargs: object) -> SMTPClient:
    return SMTPClient("127.0.0.1", server.port, timeout=SHORT, **kwargs)  # type: ignore[arg-type]


def greet_and_ehlo(peer: Peer, *extensions: str) -> None:
    peer.send(b"220 fake.example ESMTP\r\n")
    peer.ehlo(*extensions)


def accept_envelope(peer: Peer) -> None:
    for reply in (b"250 OK\r\n", b"250 OK\r\n", b"354 go ahead\r\n"):
        peer.answer(reply)


def received(server: ScriptedServer) -> list[bytes]:
    assert server.peer is not None
    return server.peer.received


def test_a_server_closing_before_the_reply_to_the_message(scripted: Scripted) -> None:
    def script(peer: Peer) -> None:
        greet_and_ehlo(peer)
        accept_envelope(peer)
        peer.read_until(b"\r\n.\r\n")  # takes the message, then hangs up without a word

    with (
        scripted(script) as server,
        client(server) as smtp,
        pytest.raises(SMTPTransportError, match=r"closed the connection.*message data"),
    ):
        smtp.send(MESSAGE, "a@example.org", ["b@example.org"])


def test_a_server_closing_in_the_middle_of_the_data(scripted: Scripted) -> None:
    def script(peer: Peer) -> None:
        greet_and_ehlo(peer)
        accept_envelope(peer)
        peer.read_line()  # the first line of the message, then gone

    with (
        scripted(script) as server,
        client(server) as smtp,
        pytest.raises(SMTPTransportError),
    ):
        smtp.send(MESSAGE + b"line\r\n" * 100_000, "a@example.org", ["b@example.org"])


def test_a_server_that_never_answers_times_out(scripted: Scripted) -> None:
    with (
        scripted(lambda peer: peer.read_line()) as server,
        pytest.raises(SMTPTimeout, match=r"reply to 'the connection' after 0\.2 s") as caught,
    ):
        SMTPClient("127.0.0.1", server.port, timeout=0.2).connect()
    assert isinstance(caught.value, TimeoutError)


def test_a_reply_trickled_a_byte_at_a_time_times_out_as_a_whole(scripted: Scripted) -> None:
    # RFC 5321 §4.5.3.2: the timeout is the reply's, not each byte's.
    def script(peer: Peer) -> None:
        for byte in b"220 slow.example.org ESMTP hello\r\n":
            peer.send(bytes([byte]))
            time.sleep(0.05)  # each byte well within the timeout; the whole reply well past it

    with (
        scripted(script) as server,
        pytest.raises(SMTPTimeout, match=r"reply to 'the connection' after 0\.3 s"),
    ):
        SMTPClient("127.0.0.1", server.port, timeout=0.3).connect()


def test_the_wait_after_the_final_dot_has_its_own_timeout(scripted: Scripted) -> None:
    def script(peer: Peer) -> None:
        greet_and_ehlo(peer)
        accept_envelope(peer)
        peer.read_until(b"\r\n.\r\n")
        peer.read_line()  # silent until the client gives up

    with (
        scripted(script) as server,
        client(server, final_timeout=0.2) as smtp,
        pytest.raises(SMTPTimeout, match="message data"),
    ):
        smtp.send(MESSAGE, "a@example.org", ["b@example.org"])


def test_a_garbage_greeting_is_a_remote_protocol_error(scripted: Scripted) -> None:
    with (
        scripted(lambda peer: peer.send(b"SSH-2.0-OpenSSH_9.6\r\n")) as server,
        pytest.raises(RemoteProtocolError, match="malformed reply line"),
    ):
        client(server).connect()


def test_an_endless_reply_line_is_cut_short(scripted: Scripted) -> None:
    with (
        scripted(lambda peer: peer.send(b"220 " + b"x" * 5000)) as server,
        pytest.raises(RemoteProtocolError, match="longer than"),
    ):
        client(server).connect()


def test_a_multi_line_reply_that_changes_its_code(scripted: Scripted) -> None:
    def script(peer: Peer) -> None:
        peer.send(b"220 fake.example\r\n")
        peer.answer(b"250-fake.example\r\n251 PIPELINING\r\n")

    with (
        scripted(script) as server,
        pytest.raises(RemoteProtocolError, match="changed its code"),
    ):
        client(server).connect()


def test_a_554_greeting_means_go_away_and_the_client_quits(scripted: Scripted) -> None:
    def script(peer: Peer) -> None:
        peer.send(b"554 fake.example no service for you\r\n")
        peer.answer(b"221 bye\r\n")

    with (
        scripted(script) as server,
        pytest.raises(SMTPReplyError, match="554") as caught,
    ):
        client(server).connect()
    assert caught.value.code == 554
    assert received(server) == [b"QUIT"]


def test_421_shutdown_ends_the_dialogue_at_once(scripted: Scripted) -> None:
    def script(peer: Peer) -> None:
        greet_and_ehlo(peer)
        peer.answer(b"421 4.3.2 fake.example shutting down\r\n")
        peer.read_line()

    with (
        scripted(script) as server,
        client(server) as smtp,
        pytest.raises(SMTPReplyError, match=r"MAIL FROM.*421") as caught,
    ):
        smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
    assert (caught.value.code, caught.value.is_transient) == (421, True)
    assert received(server)[-1].startswith(b"MAIL")  # no QUIT to a server that has left


def test_ehlo_not_recognised_falls_back_to_helo(scripted: Scripted) -> None:
    def script(peer: Peer) -> None:
        peer.send(b"220 old.example SMTP\r\n")
        peer.answer(b"502 5.5.2 command not recognised\r\n")
        peer.answer(b"250 old.example\r\n")
        accept_envelope(peer)
        peer.read_until(b"\r\n.\r\n")
        peer.send(b"250 OK\r\n")
        peer.answer(b"221 bye\r\n")

    with scripted(script) as server, client(server) as smtp:
        result = smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
    assert result.reply.code == 250
    commands = received(server)
    assert commands[0].startswith(b"EHLO ")
    assert commands[1].startswith(b"HELO ")
    assert commands[2] == b"MAIL FROM:<a@example.org>"  # no SIZE= after HELO


def test_starttls_offered_then_refused_never_goes_on_in_plaintext(scripted: Scripted) -> None:
    def script(peer: Peer) -> None:
        greet_and_ehlo(peer, "STARTTLS", "AUTH PLAIN")
        peer.answer(b"454 4.7.0 TLS not available due to temporary reason\r\n")
        peer.answer(b"221 bye\r\n")

    with scripted(script) as server:
        smtp = client(server, security="starttls", username="ada", password="s3cret")
        with pytest.raises(SMTPReplyError, match="STARTTLS") as caught:
            smtp.connect()
    assert caught.value.code == 454
    assert [c.split(b" ")[0] for c in received(server)] == [b"EHLO", b"STARTTLS", b"QUIT"]


@pytest.mark.parametrize(
    ("password", "initial"),
    [("t" * 400, False), ("t" * 356, False), ("t" * 355, True)],
    ids=["569 octets", "513 octets", "509 octets"],  # the AUTH PLAIN line with its response
)
def test_auth_plain_sends_no_initial_response_over_512_octets(
    scripted: Scripted, password: str, initial: bool
) -> None:
    # RFC 4954 §4: an initial response that makes AUTH longer than 512 octets MUST NOT be used.
    secret = base64.b64encode(f"\0ada@example.org\0{password}".encode()).decode()

    def script(peer: Peer) -> None:
        greet_and_ehlo(peer, "AUTH PLAIN LOGIN")
        if not initial:
            peer.answer(b"334 \r\n")  # RFC 4954 §4: an empty challenge
        peer.answer(b"235 2.7.0 Authentication successful\r\n")
        peer.answer(b"221 bye\r\n")

    options = {"username": "ada@example.org", "password": password}
    with scripted(script) as server, client(server, allow_plaintext_auth=True, **options) as smtp:
        pass
    sent = received(server)[1:-1]
    if initial:
        assert sent == [f"AUTH PLAIN {secret}".encode()]
    else:
        assert sent == [b"AUTH PLAIN", secret.encode()]
    assert len(sent[0]) + len(b"\r\n") <= 512
    transcript = "\n".join(smtp.transcript)
    assert "S: 235 " in transcript
    assert secret not in transcript  # still redacted
    assert "tttt" not in transcript


def test_replies_injected_before_the_tls_handshake_are_thrown_away(
    scripted: Scripted, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    def script(peer: Peer) -> None:
        greet_and_ehlo(peer, "STARTTLS")
        peer.read_line()
        # A man in the middle appends replies to the 220 (aiosmtplib GHSA-vxj7-4xrp-5vr4).
        peer.send(b"220 go ahead\r\n250-evil.example\r\n250 AUTH PLAIN\r\n")
        peer.sock = server_tls.wrap_socket(peer.sock, server_side=True)
        peer.ehlo("8BITMIME")
        peer.answer(b"221 bye\r\n")

    with (
        scripted(script) as server,
        client(server, security="starttls", ssl_context=client_tls) as smtp,
    ):
        assert smtp.is_encrypted
        assert smtp.extensions == {"8BITMIME"}  # what the server said under TLS, only
    assert not any("evil" in line for line in smtp.transcript)
    assert any("discarded" in line for line in smtp.transcript)


def test_pipelined_replies_are_read_in_order(scripted: Scripted) -> None:
    def script(peer: Peer) -> None:
        greet_and_ehlo(peer, "PIPELINING", "ENHANCEDSTATUSCODES")
        for _ in range(4):  # a client that waited for replies would hang here
            peer.read_line()
        peer.send(b"250 2.1.0 OK\r\n550 5.1.1 No such user here\r\n250 2.1.5 OK\r\n354 go\r\n")
        peer.read_until(b"\r\n.\r\n")
        peer.send(b"250 2.0.0 queued\r\n")
        peer.answer(b"221 bye\r\n")

    with scripted(script) as server, client(server) as smtp:
        result = smtp.send(MESSAGE, "a@example.org", ["x@example.org", "b@example.org"])
    assert result.accepted == ["b@example.org"]
    assert result.refused["x@example.org"].enhanced == "5.1.1"
    assert result.reply.enhanced == "2.0.0"


def test_a_354_after_every_recipient_was_refused_gets_an_empty_message_then_rset(
    scripted: Scripted,
) -> None:
    def script(peer: Peer) -> None:
        greet_and_ehlo(peer, "PIPELINING")
        for _ in range(3):
            peer.read_line()
        peer.send(b"250 OK\r\n550 no such user\r\n354 go ahead anyway\r\n")
        peer.answer(b"554 no valid recipients\r\n")
        peer.answer(b"250 OK\r\n")
        peer.answer(b"221 bye\r\n")

    with (
        scripted(script) as server,
        client(server) as smtp,
        pytest.raises(SMTPRecipientsRefused),
    ):
        smtp.send(MESSAGE, "a@example.org", ["x@example.org"])
    assert received(server)[-3:] == [b".", b"RSET", b"QUIT"]


def test_nothing_listening_is_a_connect_error() -> None:
    with pytest.raises(SMTPConnectError, match=r"connecting to 127\.0\.0\.1:\d+ failed"):
        SMTPClient("127.0.0.1", free_port(), timeout=SHORT).connect()


def test_sending_after_the_connection_broke_says_so(scripted: Scripted) -> None:
    def script(peer: Peer) -> None:
        greet_and_ehlo(peer)
        peer.answer(b"421 4.3.2 going away\r\n")

    with scripted(script) as server, client(server) as smtp:
        with pytest.raises(SMTPReplyError, match="421"):
            smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
        with pytest.raises(SMTPTransportError, match="not connected"):
            smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
