"""Shared fixtures: an app with a temporary instance, its test client and CLI runner (as flaskr)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from app import create_app


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app({"TESTING": True, "VAR_DIR": str(tmp_path / "var")})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()
