from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from app import create_app
from app.cli import main
from app.config import ConfigError, from_environment


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUIZMAIL_SMTP_PORT", "2525")
    monkeypatch.setenv("QUIZMAIL_SMTP_HOST", "relay.example.org")
    app = create_app({"VAR_DIR": str(tmp_path)})
    assert app.config["SMTP_PORT"] == 2525
    assert app.config["SMTP_HOST"] == "relay.example.org"


@pytest.mark.parametrize("raw", ["1.50", "null", "8472619305718264", "true", '"quoted"', " pad "])
def test_secrets_and_names_are_taken_exactly_as_written(raw: str) -> None:
    names = ["SECRET_KEY", "INSTRUCTOR_PASSWORD", "SMTP_USER", "SMTP_PASSWORD", "MAIL_FROM"]
    settings = from_environment({f"QUIZMAIL_{name}": raw for name in names})
    assert settings == dict.fromkeys(names, raw)


def test_an_all_digit_secret_key_signs_attempts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QUIZMAIL_SECRET_KEY", "8472619305718264")
    client = create_app({"VAR_DIR": str(tmp_path)}).test_client()
    assert client.get("/quiz/smtp", follow_redirects=True).status_code == 200


def test_other_values_are_parsed_as_json() -> None:
    settings = from_environment(
        {"QUIZMAIL_SMTP_TIMEOUT": "2.5", "QUIZMAIL_WTF_CSRF_ENABLED": "false", "OTHER": "1"}
    )
    assert settings == {"SMTP_TIMEOUT": 2.5, "WTF_CSRF_ENABLED": False}


@pytest.mark.parametrize("raw", ["abc", "true", "[1]", ""])
def test_a_number_setting_refuses_anything_else(raw: str) -> None:
    with pytest.raises(ConfigError) as refused:
        from_environment({"QUIZMAIL_SMTP_PORT": raw})
    assert str(refused.value) == f"QUIZMAIL_SMTP_PORT must be a number, such as 8025, not {raw!r}"


def test_commands_report_a_bad_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QUIZMAIL_EMAILS_PER_ATTEMPT", "three")
    monkeypatch.setenv("QUIZMAIL_VAR_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["mailbox", "list"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: QUIZMAIL_EMAILS_PER_ATTEMPT must be a number, such as 3, not 'three'\n"
    )


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
