"""The client against a private Postfix that delivers into a Maildir per recipient, as a school's
own mail server would: what it sends arrives whole, and Postfix's refusals reach the caller."""

from __future__ import annotations

import mailbox
import time
from collections.abc import Iterator

import pytest
from private_postfix import PrivatePostfix, missing_reason
from smtp_servers import free_port

from app.mail import build_message
from app.smtp import SMTPClient

ADA, GRACE = "ada@school.example", "grace@school.example"
DELIVERY_SECONDS = 30.0  # Postfix's queue manager hands the message on within a second or two


@pytest.fixture(scope="module")
def postfix() -> Iterator[PrivatePostfix]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with PrivatePostfix(free_port(), maildirs=[ADA, GRACE]) as postfix:
        yield postfix


def delivered(postfix: PrivatePostfix, address: str) -> list[bytes]:
    deadline = time.monotonic() + DELIVERY_SECONDS
    while time.monotonic() < deadline:
        if postfix.maildir(address).is_dir():
            messages = [m.as_bytes() for m in mailbox.Maildir(postfix.maildir(address))]
            if messages:
                return messages
        time.sleep(0.1)
    raise AssertionError(f"nothing reached {address}:\n{postfix.log()}")


def test_each_recipient_gets_the_message_in_a_maildir_of_its_own(postfix: PrivatePostfix) -> None:
    message = build_message(
        sender="quizmail@example.org", to=[ADA, GRACE], subject="Résultats", text="8/10\n.\n"
    )
    with SMTPClient("127.0.0.1", postfix.smtpd_port, timeout=10) as smtp:
        result = smtp.send(message, "quizmail@example.org", [ADA, GRACE, "nobody@school.example"])
    assert result.accepted == [ADA, GRACE]
    assert result.refused["nobody@school.example"].code == 550  # unknown in virtual_mailbox_maps
    for address in (ADA, GRACE):
        [stored] = delivered(postfix, address)
        # Postfix stores LF line endings and puts its trace fields on top.
        assert stored.endswith(message.replace(b"\r\n", b"\n"))
        assert f"Delivered-To: {address}\n".encode() in stored


def test_relay_port_or_maildirs_not_both() -> None:
    with pytest.raises(ValueError, match="either"):
        PrivatePostfix(free_port(), free_port(), maildirs=[ADA])
