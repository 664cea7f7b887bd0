"""`quizmail check`: file:line problems, exit status 1, never a traceback; shipped quizzes pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.config import PROJECT_ROOT

GOOD = """\
title: T
questions:
  - id: q
    text: Why?
    options: [{text: a, correct: true}, {text: b}]
"""


def run_check(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check", *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_shipped_quizzes_pass() -> None:
    code, out, err = run_check(str(PROJECT_ROOT / "questions"))
    assert (code, err) == (0, "")
    assert "smtp.yaml: ok" in out
    assert "dns.yaml: ok" in out


def test_the_default_is_the_configured_questions_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "only.yaml").write_text(GOOD)
    monkeypatch.setenv("QUIZMAIL_QUESTIONS_DIR", str(tmp_path))
    code, out, _ = run_check()
    assert code == 0
    assert "only.yaml: ok (1 question," in out


def test_problems_are_file_line_message_with_exit_status_1(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(GOOD.replace("title: T", "title: T\npik: 2").replace("correct: true", "x: 1"))
    code, out, err = run_check(str(good), str(bad))
    assert code == 1
    assert err.splitlines() == [
        f"{bad}:2: unknown key 'pik' in the quiz; did you mean 'pick'?",
        f"{bad}:6: unknown key 'x' in an option of question 'q'",
        f"{bad}:6: question 'q' has no correct option",
    ]
    assert "1 of 2 quiz files are valid." in out
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    "content", [b"\xff\xfe\x00bad", b"title: 'unclosed\n", b"- 1\n- 2\n", b"title: \x80\x81\n"]
)
def test_garbage_is_a_problem_not_a_traceback(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(content)
    code, _, err = run_check(str(path))
    assert code == 1
    assert err.startswith(f"{path}:")
    assert len(err.splitlines()) == 1  # file:line: message, one line
    assert "Traceback" not in err


def test_a_directory_without_quizzes_says_so(tmp_path: Path) -> None:
    code, out, err = run_check(str(tmp_path))
    assert code == 1
    assert err == f"{tmp_path}: no quiz files here (they end in .yaml or .yml)\n"
    assert "0 of 0 quiz files are valid." in out


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    code, _, err = run_check(str(tmp_path / "absent.yaml"))
    assert code == 1
    assert err.startswith(f"{tmp_path / 'absent.yaml'}:1: cannot read")


def test_the_example_in_the_format_reference_passes(tmp_path: Path) -> None:
    reference = (PROJECT_ROOT / "docs" / "quiz-format.md").read_text()
    example = reference.split("````yaml\n", 1)[1].split("````", 1)[0]
    (tmp_path / "example.yaml").write_text(example)
    code, out, err = run_check(str(tmp_path / "example.yaml"))
    assert (code, err) == (0, "")
    assert "ok (4 questions" in out
