"""The instructor reads the Sessions page: a sloppy client's session, its findings and dialogue,
escaped; the message it delivered links to it and back; axe-core finds nothing serious."""

from __future__ import annotations

import json
import re
import socket
import uuid

import pytest
from journeys import open_message
from playwright.sync_api import Page, expect
from running_product import HOST, RunningProduct
from test_accessibility import serious_violations

pytestmark = pytest.mark.e2e

#: The session log writes every half second (app/store/sessions.py): a few rounds of it.
SESSION_TIMEOUT_MS = 15_000


def sloppy_session(product: RunningProduct, name: str) -> None:
    """HELO with bare LFs, unadvertised pipelining, an unstuffed dot, a script, no QUIT."""
    with socket.create_connection((HOST, product.smtp_port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(f"HELO {name}\n".encode())
        reader.readline()
        sock.sendall(
            b"MAIL FROM:<sloppy@students.example>\nRCPT TO:<teacher@school.example>\nDATA\n"
        )
        for _ in range(3):
            reader.readline()
        sock.sendall(
            f"Subject: {name}\r\nFrom: <script>alert(1)</script>\r\n\r\n.hidden\r\n.\r\n".encode()
        )
        reader.readline()
        reader.close()


def test_a_sloppy_session_is_listed_explained_and_linked(
    instructor: Page, product: RunningProduct, axe_source: str
) -> None:
    name = f"sloppy-{uuid.uuid4().hex[:8]}.test"
    sloppy_session(product, name)
    open_message(instructor, product.base_url, name, "teacher@school.example")
    to_session = instructor.get_by_role("link", name="The SMTP session that delivered it")
    for _ in range(SESSION_TIMEOUT_MS // 500):  # the log writes a moment after the session
        if to_session.count():
            break
        instructor.wait_for_timeout(500)
        instructor.reload()
    to_session.click()
    expect(instructor.get_by_role("heading", level=1)).to_contain_text("Session from")
    expect(instructor.locator("ol.dialogue")).to_contain_text(f"HELO {name}")  # explained
    expect(instructor.locator("ol.dialogue")).to_contain_text("RFC 5321")
    findings = instructor.locator("ul.findings")
    expect(findings).to_contain_text("RFC 5321 §4.3.1")  # pipelining without PIPELINING
    expect(findings).to_contain_text("RFC 5321 §4.5.2")  # the unstuffed ".hidden"
    expect(findings).to_contain_text("closed the connection without sending QUIT")
    header = instructor.locator("pre.message-source")
    expect(header).to_contain_text("From: <script>alert(1)</script>")  # text, not a script
    found = serious_violations(instructor, axe_source)
    assert found == [], json.dumps(found, indent=2)
    findings.get_by_role("link", name="2", exact=True).first.click()  # a line the finding names
    expect(instructor).to_have_url(re.compile(r"dialogue=bare#line-2$"))
    expect(instructor.locator("ol.session-lines #line-2")).to_contain_text("C: HELO")
    found = serious_violations(instructor, axe_source)
    assert found == [], json.dumps(found, indent=2)

    instructor.get_by_role("navigation", name="Site").get_by_role("link", name="Sessions").click()
    expect(instructor.get_by_role("heading", level=1)).to_have_text("Sessions")
    expect(
        instructor.locator("table.sessions td.findings").filter(has_text="MUST").first
    ).to_be_visible()
    found = serious_violations(instructor, axe_source)
    assert found == [], json.dumps(found, indent=2)
    instructor.get_by_label("Outcome").select_option("accepted")
    instructor.get_by_role("button", name="Show sessions").click()
    expect(instructor.locator("table.sessions td.outcome").first).to_have_text("accepted")
