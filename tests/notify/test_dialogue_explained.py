"""The "Email sent" page shows the SMTP dialogue as sent or explained, by a link, without script."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from notify_support import LocalRelay
from results_client import press_email, results_app, status_page_of, take_and_submit

from app.explain import explain


@pytest.fixture
def app(tmp_path: Path, relay: LocalRelay) -> Iterator[Flask]:
    yield from results_app(tmp_path, relay)


def sent(client: FlaskClient) -> tuple[str, str]:
    response = press_email(client, take_and_submit(client))
    return status_page_of(client, response)


def test_the_bare_dialogue_links_to_the_explained_one(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    delivery_id, page = sent(client)
    assert f'href="/results/email/{delivery_id}?dialogue=explained#dialogue"' in page
    assert re.search(r'dialogue=bare#dialogue"\s+aria-current="true">As sent', page)
    assert '<ol class="dialogue"' not in page
    assert '<details class="email-details">' in page  # closed until a view is chosen


def test_the_explained_dialogue_links_each_line_to_its_rfc_section(
    client: FlaskClient, running_relay: LocalRelay
) -> None:
    delivery_id, _ = sent(client)
    page = client.get(f"/results/email/{delivery_id}?dialogue=explained").get_data(as_text=True)
    assert '<details class="email-details" open>' in page
    assert '<ol class="dialogue" aria-label="SMTP dialogue of the last attempt, explained">' in page
    assert 'href="https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.2"' in page  # MAIL
    assert ">RFC 5321 §4.2.5</a>" in page  # the reply to the end of the data
    assert "MAIL FROM:&lt;quizmail@localhost&gt;" in page
    assert 'data-outcome="transcript" hidden' in page  # still there for the status script
    assert "dialogue-unknown" not in page


def test_a_hostile_reply_is_shown_escaped(app: Flask) -> None:
    with app.test_request_context():
        page = render_template_string(
            '{% from "explain/_dialogue.html" import explained_dialogue %}'
            "{{ explained_dialogue(steps, 'x') }}",
            steps=explain(["S: 220 <script>alert(1)</script>", "C: EHLO <img src=x>"]),
        )
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "<img" not in page
