"""A session log never holds an AUTH secret, not even base64-encoded: smtplib logging in to a
real aiosmtpd (AUTH PLAIN and LOGIN) with the tap on, and any secret in any exchange."""

from __future__ import annotations

import base64
import json
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import AuthResult
from hypothesis import given
from hypothesis import strategies as st

from app.capture.recording import record_sessions
from app.store.sessions import SessionLog

from .conftest import HOST, free_port, wait_for_session
from .scripted import GREETING, Step, record

USER, PASSWORD = "ada", "correct horse battery"


def secret_forms(user: str, password: str) -> list[str]:
    """Every form a secret takes on the wire."""
    plain = f"\0{user}\0{password}".encode()
    forms = [
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(plain).decode(),
        base64.b64encode(user.encode()).decode(),
    ]
    return [form for form in forms if len(form) >= 4]


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[tuple[int, SessionLog]]:
    log = SessionLog(tmp_path)
    controller = Controller(
        Sink(),
        hostname=HOST,
        port=free_port(),
        auth_require_tls=False,
        authenticator=lambda *args: AuthResult(success=True),
    )
    controller.start()
    record_sessions(controller, log, 300)
    yield controller.port, log
    controller.stop()
    log.close()


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_smtplib_logging_in_leaves_no_secret(
    auth_server: tuple[int, SessionLog], mechanism: str
) -> None:
    port, log = auth_server
    with smtplib.SMTP(HOST, port, timeout=10) as smtp:
        smtp.ehlo("secret.test")
        smtp.user, smtp.password = USER, PASSWORD
        login = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
        smtp.auth(mechanism, login, initial_response_ok=mechanism == "PLAIN")
    text = json.dumps(wait_for_session(log).to_json())
    assert f"AUTH {mechanism}" in text
    assert "<redacted>" in text
    for form in secret_forms(USER, PASSWORD):
        assert form not in text
        assert form not in log.path.read_bytes().decode("latin-1")


# A prefix no record holds by itself: a secret is never mistaken for the words around it.
_SECRET = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=3, max_size=30)


@given(_SECRET, _SECRET, st.sampled_from(["initial", "challenge", "refused", "pipelined"]))
def test_no_secret_in_any_exchange(user: str, password: str, shape: str) -> None:
    user, password = "U9z" + user, "P8y" + password
    plain = base64.b64encode(f"\0{user}\0{password}".encode())
    b64user, b64password = (base64.b64encode(x.encode()) for x in (user, password))
    ehlo: list[Step] = [GREETING, ("C", b"EHLO c\r\n"), ("S", "250 AUTH PLAIN LOGIN")]
    shapes: dict[str, list[Step]] = {
        "initial": [("C", b"AUTH PLAIN " + plain + b"\r\n"), ("S", "535 no")],
        "challenge": [
            ("C", b"AUTH LOGIN\r\n"),
            ("S", "334 VXNlcm5hbWU6"),
            ("C", b64user + b"\r\n"),
            ("S", "334 UGFzc3dvcmQ6"),
            ("C", b64password + b"\r\n"),
            ("S", "535 no"),
        ],
        "refused": [
            ("C", b"AUTH LOGIN\r\n"),
            ("S", "538 encryption required"),
            ("C", b64user + b"\r\n"),
            ("S", "500 not recognized"),
            ("C", password.encode() + b"\r\n"),
            ("S", "500 not recognized"),
        ],
        "pipelined": [
            ("C", b"AUTH LOGIN\r\n" + b64user + b"\r\n" + b64password + b"\r\n"),
            ("S", "334 VXNlcm5hbWU6"),
            ("S", "334 UGFzc3dvcmQ6"),
            ("S", "235 ok"),
        ],
    }
    text = json.dumps(record(ehlo + shapes[shape]).to_json())
    for form in (password, b64password.decode(), plain.decode(), b64user.decode()):
        assert form not in text
