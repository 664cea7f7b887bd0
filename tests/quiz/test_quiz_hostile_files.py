"""Quiz files no author writes but a loader meets: every one is a file:line problem, never a
traceback, and the catalog leaves out that file alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.quiz import QuizCatalog, QuizFileError, loader

GOOD = """\
title: Good
questions:
  - id: q
    text: Pick A.
    options: [{text: A, correct: true}, {text: B}]
"""


def with_line(line: str) -> bytes:
    return GOOD.replace("title: Good\n", f"title: Good\n{line}\n").encode()


HOSTILE = {
    "a timestamp that is no date": GOOD.replace("text: Pick A.", "text: 2001-02-30").encode(),
    "a 5,000-digit number": with_line("pick: " + "9" * 5000),
    "a time limit no timedelta holds": with_line("time_limit: 99999999999999999999"),
    "a close that is no date": with_line("closes: 2026-02-30 10:00:00Z"),
    "lists 500 deep": b"title: T\nquestions: " + b"[" * 500 + b"]" * 500 + b"\n",
    "lists 5,000 deep": b"title: T\nquestions: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "mappings 500 deep": b"title: T\nquestions:\n" + b"{a: " * 500 + b"1" + b"}" * 500 + b"\n",
}


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_file_is_a_problem_on_a_line(data: bytes) -> None:
    with pytest.raises(QuizFileError) as raised:
        loader.parse_quiz(data, Path("hostile.yaml"))
    problems = raised.value.problems
    assert problems
    assert all(p.path == "hostile.yaml" and p.line >= 1 and p.message for p in problems)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_quiz_or_problems(text: str) -> None:
    """Whatever the bytes, a quiz or a list of problems: no other exception gets out."""
    try:
        loader.parse_quiz(text.encode("utf-8", "surrogatepass"), Path("any.yaml"))
    except QuizFileError as error:
        problems = error.problems
    else:
        problems = []  # a valid quiz
    assert all(problem.line >= 1 for problem in problems)


def test_the_catalog_leaves_out_a_file_that_finds_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "odd.yaml").write_text(GOOD.replace("Good", "Odd"))
    parse = loader.parse_quiz

    def parse_with_a_bug(data: bytes, path: Path) -> object:
        if path.name == "odd.yaml":
            raise KeyError("a bug in the loader")
        return parse(data, path)

    monkeypatch.setattr(loader, "parse_quiz", parse_with_a_bug)
    catalog = QuizCatalog(tmp_path)
    assert list(catalog.quizzes()) == ["good"]
    assert [str(p) for p in catalog.problems] == [
        f"{tmp_path / 'odd.yaml'}:1: could not be read (KeyError)"
    ]
