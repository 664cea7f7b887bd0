"""Fixtures for the instructor's side: an app with a password and a mailbox, a logged-in client."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.store import MailStore
from app.web.instructor import get_store

from .helpers import PASSWORD, log_in


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": True,
            "VAR_DIR": str(tmp_path / "var"),
            "MAILBOX_DIR": str(tmp_path / "mailbox"),
            "INSTRUCTOR_PASSWORD": PASSWORD,
        }
    )


@pytest.fixture
def instructor(client: FlaskClient) -> FlaskClient:
    """The test client, logged in as the instructor."""
    response = log_in(client)
    assert response.status_code == 302
    return client


@pytest.fixture
def store(app: Flask) -> MailStore:
    """The store the instructor pages read (delivered to as the capture server would)."""
    with app.app_context():
        return get_store()
