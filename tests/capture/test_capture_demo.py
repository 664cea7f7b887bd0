"""The demo sends its results emails as to a real relay: STARTTLS, then AUTH, on its submission
port, verified against the certificate it made under var/; the plain port stays plain."""

from __future__ import annotations

import html
import re
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from capture_helpers import free_port
from quiz_taking import QuizTaker

from app.serve import DEMO_SMTP_USER, Demo, Service
from app.store import MailStore
from app.web.results_email import notifier

HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
ADA = "ada@example.org"


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # the demo sets it; put back afterwards
    ports = {name: free_port() for name in ("web_port", "smtp_port", "pop3_port")}
    demo = Demo(var_dir=tmp_path / "var", password="pw", submission_port=free_port(), **ports)
    capture: Service = demo.services()[0]  # the capture server alone; the web app in-process
    capture.start()
    yield demo
    with demo.app.app_context():
        notifier().close()  # the connection kept for a next message
    capture.stop()


def test_a_results_email_goes_through_starttls_and_auth(demo: Demo) -> None:
    client = demo.app.test_client()
    results = QuizTaker(demo.app, client).submit("smtp").get_data(as_text=True)
    fields = {name: html.unescape(value) for name, value in HIDDEN.findall(results)}
    data = {"csrf_token": fields["csrf_token"], "token": fields["token"], "email": ADA}
    sent = client.post("/results/email", data=data, follow_redirects=True)
    page = html.unescape(sent.get_data(as_text=True))
    assert "C: STARTTLS" in page
    assert "C: AUTH PLAIN" in page
    assert demo.smtp_password not in page
    with MailStore(Path(demo.app.config["MAILBOX_DIR"])) as store:
        (summary,) = store.search(to=ADA)
        copy = store.get_bytes(summary.id)
    assert f"(Authenticated sender: {DEMO_SMTP_USER})".encode() in copy
    assert b"with ESMTPSA id" in copy


def test_the_plain_port_stays_plain_and_open(demo: Demo) -> None:
    with smtplib.SMTP("127.0.0.1", demo.smtp_port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        assert not smtp.has_extn("starttls")
        assert smtp.sendmail(ADA, ["t@school.example"], b"Subject: hi\r\n\r\nhi\r\n") == {}


def test_the_banner_says_where_the_ca_is(demo: Demo) -> None:
    assert f"TLS CA:      {demo.tls.ca_cert}" in demo.banner()
    assert f"Submission:  127.0.0.1:{demo.submission_port}, STARTTLS then AUTH" in demo.banner()
    assert demo.tls.ca_cert.is_file()
