"""Odd arguments and unusable paths: one line that says what is wrong, exit status 2, never a
traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main


@pytest.fixture
def mailbox(tmp_path: Path) -> str:
    (tmp_path / "mailbox").mkdir()
    return str(tmp_path / "mailbox")


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["mailbox", "list", "--search", "\udcff"], "'--search': is not valid UTF-8 text"),
        (["mailbox", "list", "--to", "ada\udcff@example.org"], "'--to': is not valid UTF-8 text"),
        (["mailbox", "list", "--limit", "9" * 23], "is not in the range 1<=x<=1000000000"),
        (["mailbox", "export", "--gradebook", "/dev/full"], "No space left on device"),
        (["pop3", "--port", "99999"], "'--port': 99999 is not in the range 1<=x<=65535"),
        (["pop3", "--port", "-1"], "'--port': -1 is not in the range 1<=x<=65535"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(
    mailbox: str, arguments: list[str], says: str
) -> None:
    result = CliRunner().invoke(main, [*arguments, "--mailbox", mailbox])
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_an_outbox_path_through_a_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {"QUIZMAIL_OUTBOX_DIR": "/dev/null/outbox", "QUIZMAIL_VAR_DIR": str(tmp_path / "var")}
    result = CliRunner().invoke(main, ["deliver", "--once"], env=env)
    assert result.exit_code == 2, result.output
    assert "Not a directory: /dev/null/outbox" in result.output
    assert isinstance(result.exception, SystemExit)
