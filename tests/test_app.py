from pathlib import Path

import pytest
from flask import Flask

from app import create_app


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUIZMAIL_SMTP_PORT", "2525")
    monkeypatch.setenv("QUIZMAIL_SMTP_HOST", "relay.example.org")
    app = create_app({"VAR_DIR": str(tmp_path)})
    assert app.config["SMTP_PORT"] == 2525
    assert app.config["SMTP_HOST"] == "relay.example.org"


def test_test_config_wins_over_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUIZMAIL_SMTP_PORT", "2525")
    app = create_app({"VAR_DIR": str(tmp_path), "SMTP_PORT": 9999})
    assert app.config["SMTP_PORT"] == 9999


def test_generated_secret_is_shared_by_every_worker(tmp_path: Path) -> None:
    first = create_app({"VAR_DIR": str(tmp_path)})
    second = create_app({"VAR_DIR": str(tmp_path)})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_data_directories_default_under_var(app: Flask) -> None:
    var = Path(app.config["VAR_DIR"])
    assert Path(app.config["MAILBOX_DIR"]) == var / "mailbox"
    assert Path(app.config["OUTBOX_DIR"]) == var / "outbox"


def test_unknown_page_is_a_plain_404(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"Traceback" not in response.data
    assert b"Not Found" in response.data


def test_workers_starting_together_share_one_complete_secret(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from app.config import persistent_secret

    path = tmp_path / "secret_key"
    with ThreadPoolExecutor(max_workers=8) as pool:
        secrets = set(pool.map(lambda _: persistent_secret(path), range(64)))
    assert secrets == {path.read_text().strip()}
    assert len(secrets.pop()) >= 32
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
