"""``quizmail import`` and ``quizmail export`` as an instructor runs them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from app.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
SHIPPED = Path(__file__).parents[2] / "questions"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_import_writes_a_quiz_that_quizmail_check_accepts(tmp_path: Path) -> None:
    out = tmp_path / "questions" / "grants-tomb.yaml"
    code, _, err = run("import", str(FIXTURES / "moodle-docs.gift"), "-o", str(out))
    assert code == 1  # written, with the skipped questions listed
    assert "moodle-docs.gift:17: skipped: GIFT matching questions are not multiple choice" in err
    assert f"{out}: 16 questions imported (8 problems)." in err
    code, stdout, _ = run("check", str(out))
    assert code == 0
    assert "ok (16 questions" in stdout


def test_import_of_a_clean_file_exits_0_and_prints_yaml() -> None:
    code, stdout, err = run("import", str(FIXTURES / "moodle-docs-aiken.txt"))
    assert code == 0
    assert stdout.startswith("title: moodle-docs-aiken\nquestions:\n")
    assert err == "standard output: 2 questions imported (0 problems).\n"


def test_the_format_is_guessed_and_can_be_given(tmp_path: Path) -> None:
    aiken = tmp_path / "bank.txt"
    aiken.write_text("Q?\nA. a\nB. b\nANSWER: B\n")
    assert run("import", str(aiken))[0] == 0
    code, _, err = run("import", "--format", "gift", str(aiken))
    assert code == 2
    assert "skipped: a GIFT description is text without a question" in err


def test_several_files_make_one_quiz(tmp_path: Path) -> None:
    code, stdout, _ = run(
        "import", str(FIXTURES / "moodle-docs-aiken.txt"), str(FIXTURES / "moodle-docs.gift")
    )
    assert code == 1
    assert stdout.count("  - id: ") == 18


def test_an_existing_quiz_file_is_not_replaced_without_force(tmp_path: Path) -> None:
    out = tmp_path / "q.yaml"
    out.write_text("mine")
    code, _, err = run("import", str(FIXTURES / "moodle-docs-aiken.txt"), "-o", str(out))
    assert (code, out.read_text()) == (2, "mine")
    assert err == f"Error: {out}: exists already (--force replaces it)\n"
    assert run("import", str(FIXTURES / "moodle-docs-aiken.txt"), "-o", str(out), "--force")[0] == 0
    assert out.read_text().startswith("title: q\n")


def test_unreadable_and_oversized_files_are_one_line_each(tmp_path: Path) -> None:
    code, _, err = run("import", str(tmp_path / "missing.gift"))
    assert (code, err) == (
        2,
        f"Error: {tmp_path / 'missing.gift'}:1: cannot read: No such file or directory\n",
    )
    big = tmp_path / "big.gift"
    big.write_bytes(b"Q {=a ~b}\n\n" * 500_000)  # 5.5 MB
    code, _, err = run("import", str(big))
    assert code == 2
    assert err == (
        f"Error: {big}:1: 5.2 MiB is more than a quiz file holds (at most 4 MiB): split the"
        " questions into several files\n"
    )


def test_export_then_import_gives_the_same_questions(tmp_path: Path) -> None:
    gift = tmp_path / "smtp.gift"
    code, _, err = run("export", str(SHIPPED / "smtp.yaml"), "-o", str(gift))
    assert code == 0
    assert "shuffle has no GIFT equivalent and is left out" in err
    back = tmp_path / "smtp.yaml"
    assert run("import", str(gift), "-o", str(back))[0] == 0
    assert run("check", str(back))[0] == 0


def test_export_of_a_broken_quiz_lists_its_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("title: x\nquestions: []\n")
    code, stdout, err = run("export", str(broken))
    assert (code, stdout) == (2, "")
    assert err.splitlines() == [
        f"{broken}:2: the quiz has no questions",
        f"Error: {broken}: not a valid quiz file: nothing written",
    ]
