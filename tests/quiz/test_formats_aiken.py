"""Aiken import: Moodle's documented example and what breaks an Aiken file."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.quiz.formats import quiz_file, read_aiken

DOCS = Path(__file__).parent / "fixtures" / "moodle-docs-aiken.txt"


def imported(source: bytes) -> tuple[list, list[str]]:
    result = quiz_file(read_aiken(source, "a.txt"), "a")
    return (list(result.quiz.questions) if result.quiz else []), [str(p) for p in result.problems]


def test_the_documented_example_imports_both_questions() -> None:
    questions, problems = imported(DOCS.read_bytes())
    assert problems == []
    first, second = questions
    assert first.text == "What is the correct answer to this question?"
    assert [o.text for o in first.options if o.correct] == ["Must be this one!"]
    assert len(second.options) == 6  # "A)" as well as "A."
    assert [o.text for o in second.options if o.correct] == ["Moodle"]
    assert {q.type for q in questions} == {"single"}


def test_plain_text_is_kept_as_text() -> None:
    (question,), _ = imported(b"Is 2 * 3 = 6 <b>?\nA. *yes*\nB. no\nANSWER: A\n")
    assert question.text == r"Is 2 \* 3 = 6 \<b\>?"
    assert question.options[0].text == r"\*yes\*"


def test_questions_need_no_blank_line_between_them_and_crlf_is_fine() -> None:
    questions, _ = imported(b"Q1\r\nA. a\r\nB. b\r\nANSWER: B\r\nQ2\r\nA. c\r\nB. d\r\nANSWER: A")
    assert [q.text for q in questions] == ["Q1", "Q2"]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            b"Q\nA. a\nB. b\nANSWER: E\n",
            "a.txt:1: skipped: ANSWER: E names none of the options A, B",
        ),
        (b"Q\nA. a\nB. b\n", "a.txt:1: skipped: the question has no ANSWER: line"),
        (b"Q\nA. a\nB. b\nAnswer: A\n", "a.txt:1: skipped: line 4: write ANSWER: in capitals"),
        (b"Q\nA. a\nA. b\nANSWER: A\n", "a.txt:1: skipped: line 3: a second option A"),
        (
            b"Q\nA. a\nmore text\nB. b\nANSWER: A\n",
            "a.txt:1: skipped: line 3 is neither an option ('B. …') nor the ANSWER: line",
        ),
        (b"Q\nA. a\nANSWER: A\n", "a.txt:1: skipped: the question needs at least two options"),
        (b"Q\nANSWER: A\n", "a.txt:1: skipped: a question without options (A. …, B. …)"),
        (b"\xff\xfeQ\x00\xd8", "a.txt:1: not UTF-16 text (byte 0xD8): save the file as UTF-8"),
    ],
)
def test_broken_questions_are_skipped_with_the_reason(source: bytes, problem: str) -> None:
    questions, problems = imported(source)
    assert questions == []
    assert problems[0] == problem


def test_a_broken_question_leaves_the_next_one_alone() -> None:
    questions, problems = imported(b"Q\nA. a\nB. b\nANSWER: Z\n\nFine\nA. c\nB. d\nANSWER: B\n")
    assert [q.text for q in questions] == ["Fine"]
    assert len(problems) == 1
