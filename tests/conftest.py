"""Shared fixtures: an app with a temporary instance, its test client and CLI runner (as flaskr)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import settings
from quiz_taking import QuizTaker, ServerClock

from app import create_app

# CI runs the same examples every time (a red build always means a change broke something);
# locally each run explores new ones. HYPOTHESIS_PROFILE=thorough looks much harder.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.register_profile("thorough", max_examples=2_000, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app({"TESTING": True, "VAR_DIR": str(tmp_path / "var")})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def quiz_taker(app: Flask, client: FlaskClient) -> QuizTaker:
    return QuizTaker(app, client)


@pytest.fixture
def server_clock(monkeypatch: pytest.MonkeyPatch) -> ServerClock:
    return ServerClock(monkeypatch)
