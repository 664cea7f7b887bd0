"""AUTH PLAIN and LOGIN (RFC 4954) on the capture server: logins from the POP3 users file,
offered only over TLS, and a reply with the right code for every way an exchange goes wrong."""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import smtplib
from pathlib import Path

import pytest
from capture_helpers import PASSWORD, USER, RawClient, StartServer, logged
from hypothesis import given
from hypothesis import strategies as st

from app.capture import CaptureServer
from app.capture.auth import (
    AUTH_LINE_LIMIT,
    AuthError,
    AuthState,
    Logins,
    decode_response,
    split_plain,
)
from app.capture.tls import LocalCA
from app.pop3.users import Users
from app.store import MailStore

MESSAGE = b"From: ada@example.org\r\nSubject: logged in\r\n\r\nhello\r\n"


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def plain(user: str = USER, password: str = PASSWORD, authzid: str = "") -> bytes:
    return b64(f"{authzid}\0{user}\0{password}".encode())


def tls_session(server: CaptureServer, ca: LocalCA, port: int | None = None) -> RawClient:
    """A raw client past STARTTLS and the second EHLO."""
    client = RawClient(port or server.port)
    client.reply()
    client.command(b"EHLO client.test")
    assert client.command(b"STARTTLS")[0].startswith(b"220 ")
    client.start_tls(ca.client_context())
    client.command(b"EHLO client.test")
    return client


def stored(server: CaptureServer, recipient: str) -> list[bytes]:
    with MailStore(server.mailbox) as store:
        return [store.get_bytes(key) for key in store.keys(recipient)]


@pytest.mark.parametrize("method", ["plain", "login"])
def test_smtplib_logs_in_and_the_received_field_names_the_user(
    secure: CaptureServer, local_ca: LocalCA, method: str
) -> None:
    with smtplib.SMTP("127.0.0.1", secure.port, local_hostname="client.test", timeout=10) as smtp:
        smtp.starttls(context=local_ca.client_context())
        smtp.ehlo()
        assert set(smtp.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN"}
        smtp.user, smtp.password = USER, PASSWORD
        code, _ = smtp.auth(method.upper(), getattr(smtp, f"auth_{method}"))
        assert code == 235
        smtp.sendmail(USER, ["t@school.example"], MESSAGE)
    (copy,) = stored(secure, "t@school.example")
    trace = " ".join(
        str(email.message_from_bytes(copy, policy=email.policy.default)["Received"]).split()
    )
    assert "(Authenticated sender: ada@example.org) by capture.test with ESMTPSA id " in trace


def test_a_plain_password_in_the_users_file_works_too(
    secure: CaptureServer, local_ca: LocalCA
) -> None:
    with tls_session(secure, local_ca) as client:
        reply = client.command(b"AUTH PLAIN " + plain("Bob@Example.org", "plain-secret"))
        assert reply == [b"235 2.7.0 Authentication successful"]


def test_plain_without_an_initial_response_gets_an_empty_challenge(
    secure: CaptureServer, local_ca: LocalCA
) -> None:
    with tls_session(secure, local_ca) as client:
        assert client.command(b"AUTH PLAIN") == [b"334 "]
        assert client.command(plain())[0].startswith(b"235 ")


def test_login_asks_for_the_user_then_the_password(
    secure: CaptureServer, local_ca: LocalCA
) -> None:
    with tls_session(secure, local_ca) as client:
        assert client.command(b"AUTH LOGIN") == [b"334 " + b64(b"Username:")]
        assert client.command(b64(USER.encode())) == [b"334 " + b64(b"Password:")]
        assert client.command(b64(PASSWORD.encode()))[0].startswith(b"235 ")
        assert client.command(b"AUTH PLAIN " + plain()) == [b"503 5.5.1 Already authenticated"]


def test_wrong_passwords_are_slowed_counted_and_the_third_closes(
    secure: CaptureServer, local_ca: LocalCA, caplog: pytest.LogCaptureFixture
) -> None:
    with tls_session(secure, local_ca) as client, caplog.at_level(logging.WARNING):
        for _ in range(2):
            assert client.command(b"AUTH PLAIN " + plain(password="wrong")) == [
                b"535 5.7.8 Authentication credentials invalid"
            ]
        assert client.command(b"AUTH LOGIN " + b64(b"nobody@example.org")) == [
            b"334 " + b64(b"Password:")
        ]
        assert client.command(b64(b"guess"))[0].startswith(b"421 4.7.0 Too many failed logins")
        assert client.rest() == b""
    assert secure.logins is not None
    assert secure.logins.failures == 3
    assert logged(caplog, "AUTH LOGIN failed for 'nobody@example.org' from 127.0.0.1 (3 of 3)")


def test_acting_for_someone_else_is_a_failed_login(
    secure: CaptureServer, local_ca: LocalCA
) -> None:
    with tls_session(secure, local_ca) as client:
        reply = client.command(b"AUTH PLAIN " + plain(authzid="bob@example.org"))
        assert reply[0].startswith(b"535 ")
        assert client.command(b"AUTH PLAIN " + plain(authzid=USER))[0].startswith(b"235 ")


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"AUTH PLAIN not*base64", b"501 5.5.2 Cannot decode the response: it is not base64"),
        (b"AUTH PLAIN " + b64(b"no nuls here"), b"501 5.5.2 PLAIN wants authorization-id NUL"),
        (b"AUTH PLAIN " + b64(b"\0\xff\xfe\0pw"), b"501 5.5.2 The login and password must be"),
        (b"AUTH CRAM-MD5", b"504 5.5.4 Unrecognized authentication type"),
        (b"AUTH", b"501 5.5.4 Syntax: AUTH mechanism"),
        (b"AUTH PLAIN a b", b"501 5.5.4 Syntax: AUTH mechanism"),
        (b"AUTH PLAIN " + b"A" * AUTH_LINE_LIMIT, b"500 5.5.6 Authentication exchange line is"),
        (b"AUTH PLAIN " + b"A" * 20_000, b"500 "),  # past what the reader holds: a plain 500
    ],
)
def test_bad_auth_commands_get_their_reply_and_the_session_goes_on(
    secure: CaptureServer, local_ca: LocalCA, line: bytes, reply: bytes
) -> None:
    with tls_session(secure, local_ca) as client:
        assert client.command(line)[0].startswith(reply)
        assert client.command(b"AUTH PLAIN " + plain())[0].startswith(b"235 ")


@pytest.mark.parametrize(
    ("answer", "reply"),
    [
        (b"*", b"501 5.7.0 Authentication cancelled"),
        (b"%%%", b"501 5.5.2 Cannot decode"),
        (b"A" * (AUTH_LINE_LIMIT + 4), b"500 5.5.6 Authentication exchange line is too long"),
        (b"A" * 40_000, b"500 5.5.6 Authentication exchange line is too long"),
    ],
)
def test_a_bad_answer_to_a_challenge_ends_the_exchange(
    secure: CaptureServer, local_ca: LocalCA, answer: bytes, reply: bytes
) -> None:
    with tls_session(secure, local_ca) as client:
        assert client.command(b"AUTH LOGIN")[0].startswith(b"334 ")
        assert client.command(answer)[0].startswith(reply)
        assert client.command(b"NOOP")[0].startswith(b"250")


def test_an_auth_line_of_12288_octets_is_allowed(secure: CaptureServer, local_ca: LocalCA) -> None:
    """RFC 4954 §4: AUTH lines may be longer than the 512 octets of other commands."""
    long_password = "x" * 9000
    with tls_session(secure, local_ca) as client:
        line = b"AUTH PLAIN " + plain(password=long_password)
        assert 512 < len(line) <= AUTH_LINE_LIMIT
        assert client.command(line)[0].startswith(b"535 ")  # heard in full, and wrong
        assert client.command(b"NOOP " + b"x" * 600)[0].startswith(b"500 ")  # others: 512


def test_auth_before_ehlo_is_a_bad_sequence(secure: CaptureServer) -> None:
    with RawClient(secure.port) as client:
        client.reply()
        assert client.command(b"AUTH PLAIN " + plain())[0].startswith(b"503 ")


def test_auth_after_helo_needs_ehlo(secure: CaptureServer, local_ca: LocalCA) -> None:
    with tls_session(secure, local_ca) as client:
        client.command(b"HELO client.test")
        assert client.command(b"AUTH PLAIN " + plain())[0].startswith(b"503 5.5.1 AUTH is an")


def test_auth_in_plaintext_is_refused_with_538(secure: CaptureServer) -> None:
    with RawClient(secure.port) as client:
        client.reply()
        ehlo = client.command(b"EHLO client.test")
        assert not any(b"AUTH" in line for line in ehlo)
        assert client.command(b"AUTH PLAIN " + plain()) == [
            b"538 5.7.11 Encryption required for requested authentication mechanism"
        ]


def test_auth_during_a_mail_transaction_is_refused(
    secure: CaptureServer, local_ca: LocalCA
) -> None:
    with tls_session(secure, local_ca) as client:
        client.command(b"MAIL FROM:<ada@example.org>")
        assert client.command(b"AUTH PLAIN " + plain())[0].startswith(b"503 5.5.1 AUTH is not")


def test_auth_insecure_allows_a_login_in_plaintext(
    start_server: StartServer, users_file: Path
) -> None:
    server = start_server(logins=Logins(Users.from_file(users_file), insecure=True, delay=0.01))
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        assert "PLAIN" in smtp.esmtp_features["auth"]
        assert smtp.login(USER, PASSWORD)[0] == 235


def test_mail_before_auth_gets_530_where_auth_is_required(
    start_server: StartServer, local_ca: LocalCA, users_file: Path
) -> None:
    logins = Logins(Users.from_file(users_file), required=True, delay=0.01)
    server = start_server(tls=local_ca.server_context(), logins=logins)
    with tls_session(server, local_ca) as client:
        assert client.command(b"MAIL FROM:<ada@example.org>") == [
            b"530 5.7.0 Authentication required"
        ]
        client.command(b"AUTH PLAIN " + plain())
        assert client.command(b"MAIL FROM:<ada@example.org>")[0].startswith(b"250")


def test_the_submission_port_requires_auth_and_the_main_port_does_not(
    secure: CaptureServer, local_ca: LocalCA
) -> None:
    assert secure.submission_port is not None
    with tls_session(secure, local_ca, secure.submission_port) as client:
        assert client.command(b"MAIL FROM:<ada@example.org>")[0].startswith(b"530 5.7.0")
    with smtplib.SMTP("127.0.0.1", secure.port, timeout=10) as smtp:
        assert smtp.sendmail("ada@example.org", ["t@school.example"], MESSAGE) == {}


def test_without_logins_auth_is_neither_offered_nor_accepted(
    start_server: StartServer, local_ca: LocalCA
) -> None:
    server = start_server(tls=local_ca.server_context())
    with tls_session(server, local_ca) as client:
        assert not any(b"AUTH" in line for line in client.command(b"EHLO client.test"))
        assert client.command(b"AUTH PLAIN " + plain())[0].startswith(b"502 5.5.1")


def test_a_submission_port_needs_a_certificate_and_logins(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="submission port needs"):
        CaptureServer(tmp_path, submission_port=0)


# --- the decoding, without sockets ---------------------------------------------------------------


@given(st.text(), st.text().filter(bool), st.text())
def test_plain_round_trips(authzid: str, login: str, password: str) -> None:
    if "\0" in authzid + login + password:
        return
    message = decode_response(plain(login, password, authzid))
    assert split_plain(message) == (authzid, login, password)


@given(st.binary())
def test_any_response_decodes_or_is_refused_with_501(blob: bytes) -> None:
    reply = "ok"
    try:
        split_plain(decode_response(blob))
    except AuthError as error:
        reply = error.reply
    assert reply == "ok" or reply.startswith("501 ")


def test_the_empty_initial_response_is_an_equals_sign() -> None:
    assert decode_response(b"=") == b""


def test_refusals_follow_rfc_4954_order(logins: Logins) -> None:
    ready = AuthState(tls=True, extended=True, authenticated=False, in_transaction=False)
    assert logins.refusal("PLAIN", ready) is None
    plaintext = AuthState(tls=False, extended=True, authenticated=False, in_transaction=False)
    assert (logins.refusal("PLAIN", plaintext) or "").startswith("538 ")
    assert (logins.refusal("plain", ready)) is None  # mechanism names ignore case
