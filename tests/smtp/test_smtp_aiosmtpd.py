"""The client against a real aiosmtpd server, in-process (no PIPELINING, as deployed)."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from smtp_servers import SHORT, Capture, aiosmtpd_server

from app.mail import build_message
from app.smtp import (
    LocalProtocolError,
    SMTPAuthenticationError,
    SMTPClient,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPTLSError,
)

MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello\r\n.dot line\r\n"


def client(port: int, **kwargs: Any) -> SMTPClient:
    return SMTPClient("127.0.0.1", port, timeout=SHORT, **kwargs)


def sent_commands(smtp: SMTPClient) -> list[str]:
    return [
        line[3:].split(" ")[0].split(":")[0] for line in smtp.transcript if line.startswith("C: ")
    ]


def test_a_message_arrives_byte_for_byte(aiosmtpd: Controller, capture: Capture) -> None:
    with client(aiosmtpd.port) as smtp:
        result = smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
    assert result.accepted == ["b@example.org"]
    assert result.refused == {}
    assert result.reply.code == 250
    [envelope] = capture.messages
    assert (envelope.mail_from, envelope.rcpt_tos) == ("a@example.org", ["b@example.org"])
    assert envelope.original_content == MESSAGE  # dot-stuffing undone, nothing added
    assert smtp.transcript[-2:] == ["C: QUIT", "S: 221 Bye"]


def test_bare_line_feeds_arrive_as_crlf(aiosmtpd: Controller, capture: Capture) -> None:
    with client(aiosmtpd.port) as smtp:
        smtp.send(b"Subject: lf\n\nline one\nline two", "a@example.org", ["b@example.org"])
    assert capture.messages[0].original_content == b"Subject: lf\r\n\r\nline one\r\nline two\r\n"


def test_several_messages_share_one_connection(aiosmtpd: Controller, capture: Capture) -> None:
    with client(aiosmtpd.port) as smtp:
        for number in range(3):
            smtp.send(b"Subject: %d\r\n\r\nbody\r\n" % number, "a@example.org", ["b@example.org"])
    assert len(capture.messages) == 3
    assert sent_commands(smtp).count("EHLO") == 1
    assert sent_commands(smtp).count("MAIL") == 3


def test_one_refused_recipient_does_not_stop_the_others(
    aiosmtpd: Controller, capture: Capture
) -> None:
    capture.refuse.add("nobody@example.org")
    with client(aiosmtpd.port) as smtp:
        result = smtp.send(
            MESSAGE, "a@example.org", ["b@example.org", "nobody@example.org", "c@example.org"]
        )
    assert result.accepted == ["b@example.org", "c@example.org"]
    assert list(result.refused) == ["nobody@example.org"]
    refusal = result.refused["nobody@example.org"]
    assert (refusal.code, refusal.text) == (550, "No such user here")
    assert capture.messages[0].rcpt_tos == ["b@example.org", "c@example.org"]


def test_every_recipient_refused_raises_and_resets_for_the_next_message(
    aiosmtpd: Controller, capture: Capture
) -> None:
    capture.refuse.update({"x@example.org", "y@example.org"})
    with client(aiosmtpd.port) as smtp:
        with pytest.raises(SMTPRecipientsRefused, match="every recipient was refused") as caught:
            smtp.send(MESSAGE, "a@example.org", ["x@example.org", "y@example.org"])
        assert sent_commands(smtp)[-1] == "RSET"
        smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
    assert set(caught.value.refused) == {"x@example.org", "y@example.org"}
    assert caught.value.code == 550
    assert "DATA" not in sent_commands(smtp)[:-5]  # no DATA without a recipient
    assert len(capture.messages) == 1


def test_a_message_over_the_size_limit_is_refused_before_mail(capture: Capture) -> None:
    with aiosmtpd_server(capture, data_size_limit=1000) as server, client(server.port) as smtp:
        with pytest.raises(SMTPNotSupported, match=r"2,000 bytes.*at most 1,000"):
            smtp.send(
                b"x" * 998 + b"\r\n" + b"y" * 998 + b"\r\n", "a@example.org", ["b@example.org"]
            )
        assert "MAIL" not in sent_commands(smtp)
        result = smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
    assert result.accepted == ["b@example.org"]
    assert f"MAIL FROM:<a@example.org> SIZE={len(MESSAGE)}" in "\n".join(smtp.transcript)


def test_a_line_over_1000_octets_is_refused_before_mail(aiosmtpd: Controller) -> None:
    with client(aiosmtpd.port) as smtp:
        with pytest.raises(LocalProtocolError, match="1001 octets"):
            smtp.send(
                b"Subject: x\r\n\r\n" + b"x" * 999 + b"\r\n", "a@example.org", ["b@example.org"]
            )
        assert "MAIL" not in sent_commands(smtp)


def test_8bitmime_is_declared_only_for_8bit_bodies(aiosmtpd: Controller, capture: Capture) -> None:
    with client(aiosmtpd.port) as smtp:
        smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
        smtp.send("Subject: hi\r\n\r\nçà\r\n".encode(), "a@example.org", ["b@example.org"])
    mails = [line for line in smtp.transcript if line.startswith("C: MAIL")]
    assert "BODY=8BITMIME" not in mails[0]
    assert mails[1].endswith("BODY=8BITMIME")  # 8-bit only in the body: no SMTPUTF8
    assert capture.messages[1].original_content == "Subject: hi\r\n\r\nçà\r\n".encode()


def test_utf8_addresses_use_smtputf8_when_offered(capture: Capture) -> None:
    with aiosmtpd_server(capture, enable_SMTPUTF8=True) as server, client(server.port) as smtp:
        smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
        smtp.send(MESSAGE, "a@example.org", ["jürgen@bücher.example"])
    mails = [line for line in smtp.transcript if line.startswith("C: MAIL")]
    assert "SMTPUTF8" not in mails[0]  # only when an address needs it
    assert mails[1].endswith("SMTPUTF8")
    assert capture.messages[1].rcpt_tos == ["jürgen@bücher.example"]


UTF8_HEADER = build_message(
    sender="a@example.org", to="jörg@bücher.example", subject="hi", text="Hello"
)


@pytest.mark.parametrize(
    ("message", "recipient", "error"),
    [
        (MESSAGE, "jürgen@bücher.example", r"an address is not ASCII.*SMTPUTF8"),
        (UTF8_HEADER, "b@example.org", r"header is not ASCII.*SMTPUTF8"),
    ],
    ids=["address", "header"],
)
def test_utf8_fails_clearly_without_smtputf8(
    capture: Capture, message: bytes, recipient: str, error: str
) -> None:
    with aiosmtpd_server(capture, enable_SMTPUTF8=False) as server, client(server.port) as smtp:
        with pytest.raises(SMTPNotSupported, match=error):
            smtp.send(message, "a@example.org", [recipient])
        assert "MAIL" not in sent_commands(smtp)
    assert capture.messages == []


def test_a_utf8_header_uses_smtputf8_with_an_ascii_envelope(capture: Capture) -> None:
    # RFC 6532 §3: UTF-8 header fields travel only in an SMTPUTF8 transaction (RFC 6531 §3.4).
    with aiosmtpd_server(capture, enable_SMTPUTF8=True) as server, client(server.port) as smtp:
        smtp.send(UTF8_HEADER, "a@example.org", ["b@example.org"])
    mails = [line for line in smtp.transcript if line.startswith("C: MAIL")]
    assert len(mails) == 1
    assert mails[0].endswith(" BODY=8BITMIME SMTPUTF8")
    assert capture.messages[0].original_content == UTF8_HEADER


# --- STARTTLS and implicit TLS --------------------------------------------------------------------


def test_starttls_with_a_verified_certificate(
    capture: Capture, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    with (
        aiosmtpd_server(capture, tls_context=server_tls, require_starttls=True) as server,
        client(server.port, security="starttls", ssl_context=client_tls) as smtp,
    ):
        assert smtp.is_encrypted
        smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
    assert sent_commands(smtp)[:3] == ["EHLO", "STARTTLS", "EHLO"]  # EHLO again, RFC 3207 §4.2
    assert len(capture.messages) == 1


def test_starttls_with_a_certificate_from_another_ca_is_refused(
    capture: Capture, server_tls: ssl.SSLContext
) -> None:
    stranger = ssl.create_default_context()
    trustme.CA().configure_trust(stranger)
    with aiosmtpd_server(capture, tls_context=server_tls) as server:
        smtp = client(server.port, security="starttls", ssl_context=stranger)
        with pytest.raises(
            SMTPTLSError, match=r"certificate verify failed|unable to get local issuer"
        ):
            smtp.connect()
    assert "MAIL" not in sent_commands(smtp)
    assert capture.messages == []


def test_the_default_context_verifies_the_certificate(
    capture: Capture, server_tls: ssl.SSLContext
) -> None:
    with (
        aiosmtpd_server(capture, tls_context=server_tls) as server,
        pytest.raises(SMTPTLSError, match="certificate verify failed"),
        client(server.port, security="starttls"),
    ):
        pass


def test_starttls_not_offered_stops_instead_of_going_on_in_plaintext(
    aiosmtpd: Controller, capture: Capture
) -> None:
    smtp = client(aiosmtpd.port, security="starttls")
    with pytest.raises(SMTPNotSupported, match="does not offer STARTTLS"):
        smtp.connect()
    assert sent_commands(smtp) == ["EHLO", "QUIT"]


def test_implicit_tls_from_the_first_byte(
    capture: Capture, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    with (
        aiosmtpd_server(capture, ssl_context=server_tls) as server,
        client(server.port, security="tls", ssl_context=client_tls) as smtp,
    ):
        assert smtp.is_encrypted
        smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
    assert len(capture.messages) == 1


# --- AUTH -----------------------------------------------------------------------------------------


LONG_PASSWORD = "t" * 400  # AUTH PLAIN with it as initial response: 569 octets


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data in (
        (b"ada", b"s3cret"),
        (b"ada@example.org", LONG_PASSWORD.encode()),
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


@pytest.mark.parametrize("exclude", [[], ["PLAIN"]], ids=["PLAIN", "LOGIN"])
def test_auth_over_starttls_with_secrets_redacted(
    capture: Capture,
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
    exclude: list[str],
) -> None:
    options = {"tls_context": server_tls, "authenticator": authenticator}
    with (
        aiosmtpd_server(capture, auth_exclude_mechanism=exclude, **options) as server,
        client(
            server.port,
            security="starttls",
            ssl_context=client_tls,
            username="ada",
            password="s3cret",
        ) as smtp,
    ):
        smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
    transcript = "\n".join(smtp.transcript)
    assert "\nS: 235 " in transcript
    for secret in ("s3cret", "czNjcmV0", "AGFkYQBzM2NyZXQ="):  # the password, and in base64
        assert secret not in transcript


def test_auth_plain_too_long_for_an_initial_response_answers_the_challenge(
    capture: Capture,
) -> None:
    # RFC 4954 §4: "AUTH PLAIN <response>" would exceed 512 octets, so the response follows 334.
    options = {"authenticator": authenticator, "auth_require_tls": False}
    with (
        aiosmtpd_server(capture, **options) as server,
        client(
            server.port,
            username="ada@example.org",
            password=LONG_PASSWORD,
            allow_plaintext_auth=True,
        ) as smtp,
    ):
        smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
    start = smtp.transcript.index("C: AUTH PLAIN")
    assert smtp.transcript[start : start + 4] == [
        "C: AUTH PLAIN",
        "S: 334 ",
        "C: <redacted>",
        "S: 235 2.7.0 Authentication successful",
    ]
    assert len(capture.messages) == 1


def test_auth_refused_over_plaintext_unless_allowed(capture: Capture) -> None:
    options = {"authenticator": authenticator, "auth_require_tls": False}
    with aiosmtpd_server(capture, **options) as server:
        smtp = client(server.port, username="ada", password="s3cret")
        with pytest.raises(LocalProtocolError, match="unencrypted"):
            smtp.connect()
        assert "AUTH" not in sent_commands(smtp)
        with client(
            server.port, username="ada", password="s3cret", allow_plaintext_auth=True
        ) as ok:
            ok.send(MESSAGE, "a@example.org", ["b@example.org"])
    assert len(capture.messages) == 1


def test_wrong_password_is_an_authentication_error(capture: Capture) -> None:
    options = {"authenticator": authenticator, "auth_require_tls": False}
    with aiosmtpd_server(capture, **options) as server:
        smtp = client(server.port, username="ada", password="wrong", allow_plaintext_auth=True)
        with pytest.raises(SMTPAuthenticationError, match="535") as caught:
            smtp.connect()
    assert caught.value.code == 535


def test_a_closed_client_can_connect_again(aiosmtpd: Controller, capture: Capture) -> None:
    smtp = client(aiosmtpd.port)
    for _ in range(2):
        with smtp:
            smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
    assert len(capture.messages) == 2
    assert sent_commands(smtp).count("QUIT") == 2


def test_the_transcript_of_a_long_connection_keeps_its_recent_lines(aiosmtpd: Controller) -> None:
    with client(aiosmtpd.port) as smtp:
        smtp.max_transcript_lines = 20
        for _ in range(5):
            smtp.send(MESSAGE, "a@example.org", ["b@example.org"])
        assert len(smtp.transcript) <= 20
        assert smtp.transcript[-1] == "S: 250 OK: queued"
        assert not any(line.startswith("S: 220") for line in smtp.transcript)  # the greeting went


def test_a_batch_without_pipelining_goes_one_by_one_past_a_refusal(
    aiosmtpd: Controller, capture: Capture
) -> None:
    capture.refuse.add("nobody@example.org")
    items = [(MESSAGE, "a@example.org", [f"{to}@example.org"]) for to in ("b", "nobody", "c")]
    with client(aiosmtpd.port) as smtp:
        outcomes = smtp.send_many(items)
    assert isinstance(outcomes[1], SMTPRecipientsRefused)
    assert [o.accepted for o in (outcomes[0], outcomes[2])] == [  # type: ignore[union-attr]
        ["b@example.org"],
        ["c@example.org"],
    ]
    assert [envelope.rcpt_tos for envelope in capture.messages] == [
        ["b@example.org"],
        ["c@example.org"],
    ]
