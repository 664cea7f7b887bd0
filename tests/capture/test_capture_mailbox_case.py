"""Through the capture server: an address in any case reaches one mailbox, each message once."""

from __future__ import annotations

import smtplib

from app.capture import CaptureServer
from app.store import MailStore


def send(server: CaptureServer, recipients: list[str], subject: str) -> None:
    raw = f"From: ada@example.org\r\nSubject: {subject}\r\n\r\nHello\r\n".encode()
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test", timeout=10) as smtp:
        assert smtp.sendmail("quizmail@example.org", recipients, raw) == {}


def test_mail_for_every_spelling_of_an_address_fills_one_mailbox(server: CaptureServer) -> None:
    send(server, ["Ada@Example.ORG"], "upper")
    send(server, ["ada@example.org"], "lower")
    send(server, ["ADA@example.org", "ada@EXAMPLE.org"], "both in one transaction")
    mailboxes = [p.name for p in server.mailbox.iterdir() if p.is_dir() and "@" in p.name]
    assert mailboxes == ["ada@example.org"]
    with MailStore(server.mailbox) as store:
        assert store.mailboxes() == ["ada@example.org"]
        subjects = sorted(s.subject for s in store.search(to="aDa@Example.Org"))
        assert subjects == ["both in one transaction", "lower", "upper"]
        assert len(store.keys("ADA@EXAMPLE.ORG")) == 3
