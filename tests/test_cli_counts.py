"""Counts in the CLI's output take the noun in the right number: "1 message", "2 messages"."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import counted, main

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 messages"), (1, "1 message"), (2, "2 messages")]
)
def test_counted(count: int, text: str) -> None:
    assert counted(count, "message") == text


def test_check_of_one_file_says_it_in_the_singular() -> None:
    result = CliRunner().invoke(main, ["check", str(PROJECT_ROOT / "questions" / "smtp.yaml")])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("\n1 of 1 quiz file is valid.\n")
