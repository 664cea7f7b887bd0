"""Real clients against the capture server's TLS and AUTH: swaks, curl, aiosmtplib and our own
SMTPClient, each verifying the local CA's certificate and logging in as a users-file account."""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import subprocess
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from capture_helpers import PASSWORD, USER, StartServer

from app.capture import CaptureServer
from app.capture.auth import Logins
from app.capture.tls import LocalCA
from app.mail import build_message
from app.pop3.users import Users
from app.smtp import SMTPAuthenticationError, SMTPClient
from app.store import MailStore

RCPT = "t@school.example"


def swaks_speaks_tls() -> bool:
    if shutil.which("swaks") is None:
        return False
    support = subprocess.run(["swaks", "--support"], capture_output=True, text=True, check=False)
    return "TLS supported" in support.stdout + support.stderr


needs_swaks = pytest.mark.skipif(
    not swaks_speaks_tls(), reason="swaks with TLS (Debian: swaks, libnet-ssleay-perl) is missing"
)
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def traces(server: CaptureServer) -> list[str]:
    """The Received field of each stored copy for RCPT, unfolded."""
    with MailStore(server.mailbox) as store:
        copies = [store.get_bytes(key) for key in store.keys(RCPT)]
    parsed = (email.message_from_bytes(c, policy=email.policy.default) for c in copies)
    return [" ".join(str(message["Received"]).split()) for message in parsed]


def assert_one_authenticated_tls_copy(server: CaptureServer) -> None:
    (trace,) = traces(server)
    assert f"(Authenticated sender: {USER})" in trace
    assert " with ESMTPSA id " in trace


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


@needs_swaks
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_swaks_starttls_and_auth(secure: CaptureServer, local_ca: LocalCA, mechanism: str) -> None:
    done = run(
        ["swaks", "--server", f"127.0.0.1:{secure.submission_port}", "--tls",
         "--tls-verify", "--tls-ca-path", str(local_ca.ca_cert),
         "--auth", mechanism, "--auth-user", USER, "--auth-password", PASSWORD,
         "--from", USER, "--to", RCPT, "--helo", "swaks.test"]
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "235 2.7.0 Authentication successful" in done.stdout
    assert_one_authenticated_tls_copy(secure)


@needs_swaks
def test_swaks_implicit_tls(secure: CaptureServer, local_ca: LocalCA) -> None:
    done = run(
        ["swaks", "--server", f"127.0.0.1:{secure.tls_port}", "--tlsc",
         "--tls-verify", "--tls-ca-path", str(local_ca.ca_cert),
         "--auth", "PLAIN", "--auth-user", USER, "--auth-password", PASSWORD,
         "--from", USER, "--to", RCPT]
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert_one_authenticated_tls_copy(secure)


@needs_swaks
def test_swaks_with_a_wrong_password_is_refused(secure: CaptureServer, local_ca: LocalCA) -> None:
    done = run(
        ["swaks", "--server", f"127.0.0.1:{secure.submission_port}", "--tls",
         "--auth", "LOGIN", "--auth-user", USER, "--auth-password", "wrong",
         "--from", USER, "--to", RCPT]
    )  # fmt: skip
    assert done.returncode != 0
    assert "535 5.7.8" in done.stdout
    assert traces(secure) == []


def curl_upload(url: str, ca: LocalCA, tmp_path: Path, *options: str) -> None:
    message = tmp_path / "message.eml"
    message.write_bytes(b"From: ada@example.org\r\nSubject: from curl\r\n\r\nhello\r\n")
    done = run(
        ["curl", "--silent", "--show-error", "--cacert", str(ca.ca_cert), url,
         "--mail-from", USER, "--mail-rcpt", RCPT, "--upload-file", str(message),
         "--user", f"{USER}:{PASSWORD}", *options]
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@needs_curl
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_curl_smtp_with_ssl_reqd(
    secure: CaptureServer, local_ca: LocalCA, tmp_path: Path, mechanism: str
) -> None:
    url = f"smtp://127.0.0.1:{secure.submission_port}"
    curl_upload(url, local_ca, tmp_path, "--ssl-reqd", "--login-options", f"AUTH={mechanism}")
    assert_one_authenticated_tls_copy(secure)


@needs_curl
def test_curl_smtps(secure: CaptureServer, local_ca: LocalCA, tmp_path: Path) -> None:
    curl_upload(f"smtps://127.0.0.1:{secure.tls_port}", local_ca, tmp_path)
    assert_one_authenticated_tls_copy(secure)


def aiosmtplib_message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = USER, RCPT, "from aiosmtplib"
    message.set_content("hello\n")
    return message


def test_aiosmtplib_starttls_and_login(secure: CaptureServer, local_ca: LocalCA) -> None:
    send = aiosmtplib.send(
        aiosmtplib_message(), hostname="127.0.0.1", port=secure.submission_port,
        start_tls=True, tls_context=local_ca.client_context(),
        username=USER, password=PASSWORD, timeout=10,
    )  # fmt: skip
    asyncio.run(send)
    assert_one_authenticated_tls_copy(secure)


def test_aiosmtplib_implicit_tls(secure: CaptureServer, local_ca: LocalCA) -> None:
    send = aiosmtplib.send(
        aiosmtplib_message(), hostname="127.0.0.1", port=secure.tls_port, use_tls=True,
        tls_context=local_ca.client_context(), username=USER, password=PASSWORD, timeout=10,
    )  # fmt: skip
    asyncio.run(send)
    assert_one_authenticated_tls_copy(secure)


def our_send(port: int, ca: LocalCA, security: str, password: str = PASSWORD) -> list[str]:
    message = build_message(sender=USER, to=RCPT, subject="from QuizMail", text="hello")
    client = SMTPClient(
        "127.0.0.1", port, security=security, username=USER, password=password,  # type: ignore[arg-type]
        ssl_context=ca.client_context(), timeout=10,
    )  # fmt: skip
    with client:
        client.send(message, USER, [RCPT])
    return client.transcript


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_our_client_sends_over_tls_with_a_login(
    secure: CaptureServer, local_ca: LocalCA, security: str
) -> None:
    port = secure.submission_port if security == "starttls" else secure.tls_port
    assert port is not None
    transcript = our_send(port, local_ca, security)
    assert any(line.startswith("C: AUTH PLAIN") for line in transcript)
    assert not any(PASSWORD in line for line in transcript)
    assert_one_authenticated_tls_copy(secure)


def test_our_client_uses_login_where_only_login_is_offered(
    start_server: StartServer, local_ca: LocalCA, users_file: Path
) -> None:
    logins = Logins(Users.from_file(users_file), mechanisms=("LOGIN",), delay=0.01)
    server = start_server(tls=local_ca.server_context(), logins=logins)
    transcript = our_send(server.port, local_ca, "starttls")
    assert "C: AUTH LOGIN" in transcript
    assert_one_authenticated_tls_copy(server)


def test_our_client_reports_a_wrong_password(secure: CaptureServer, local_ca: LocalCA) -> None:
    assert secure.submission_port is not None
    with pytest.raises(SMTPAuthenticationError, match="535"):
        our_send(secure.submission_port, local_ca, "starttls", password="wrong")
