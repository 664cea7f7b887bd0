"""``quizmail pop3`` and ``quizmail pop3-hash``."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from app.cli import main
from app.pop3.users import verify_password


def test_pop3_hash_prints_a_hash_that_verifies() -> None:
    result = CliRunner().invoke(main, ["pop3-hash", "--scheme", "scrypt"], input="pw 1\npw 1\n")
    assert result.exit_code == 0, result.output
    stored = result.output.strip().splitlines()[-1]
    assert stored.startswith("scrypt$")
    assert verify_password(stored, "pw 1")


def test_pop3_reports_a_bad_users_file_with_its_line(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("ada@example.org pw\nbroken\n")
    result = CliRunner().invoke(
        main, ["pop3", "--mailbox", str(tmp_path / "mbox"), "--pop3-users", str(users)]
    )
    assert result.exit_code == 1
    assert f"{users}:2: expected 'address password'" in result.output
    assert "Traceback" not in result.output


def test_pop3_reports_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["pop3", "--mailbox", str(tmp_path / "mbox"), "--port", str(port)]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
