"""The YAML loader: valid files become quizzes, every problem is reported with its file and line."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from app.quiz import Problem, QuizFileError, load_quiz, load_quizzes

VALID = """\
title: Ports
description: Which service listens where.
pass_mark: 75%
shuffle: {questions: true, options: false}
pick: 2
time_limit: 1h30m
scoring: all-or-nothing
questions:
  - id: smtp
    text: "SMTP relay port?"
    points: 2
    options:
      - {text: "25", correct: true}
      - {text: "110", feedback: POP3}
    explanation: RFC 5321.
  - id: secure
    type: multiple
    text: Which use TLS from the first byte?
    options:
      - {id: smtps, text: "465", correct: true}
      - {id: imaps, text: "993", correct: true}
      - {id: sub, text: "587"}
  - id: udp
    type: true_false
    text: DNS uses UDP.
    answer: true
    feedback: {false: "It does, on port 53."}
"""

QUESTION = """\
  - id: {id}
    text: Question {id}
    options:
      - {{text: "yes", correct: true}}
      - {{text: "no"}}
"""


def write(tmp_path: Path, text: str, name: str = "quiz.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(QuizFileError) as caught:
        load_quiz(path)
    return caught.value.problems


def only_problem(path: Path) -> Problem:
    problems = problems_of(path)
    assert len(problems) == 1, problems
    assert problems[0].path == str(path)
    return problems[0]


def quiz_with(questions: str, header: str = "title: T\n") -> str:
    return header + "questions:\n" + questions


def test_a_valid_file_becomes_a_quiz(tmp_path: Path) -> None:
    quiz = load_quiz(write(tmp_path, VALID, "ports.yaml"))
    assert (quiz.id, quiz.title, quiz.pass_mark, quiz.pick) == ("ports", "Ports", 0.75, 2)
    assert (quiz.shuffle_questions, quiz.shuffle_options) == (True, False)
    assert quiz.time_limit == timedelta(hours=1, minutes=30)
    assert quiz.scoring == "all-or-nothing"
    assert [q.type for q in quiz.questions] == ["single", "multiple", "true_false"]
    smtp, secure, udp = quiz.questions
    assert smtp.points == 2.0
    assert smtp.explanation == "RFC 5321."
    assert [(o.id, o.correct, o.feedback) for o in smtp.options] == [
        ("a", True, None),
        ("b", False, "POP3"),
    ]
    assert secure.correct_ids == {"smtps", "imaps"}
    assert [(o.id, o.text, o.correct) for o in udp.options] == [
        ("true", "True", True),
        ("false", "False", False),
    ]
    assert udp.option("false").feedback == "It does, on port 53."


def test_the_version_changes_with_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    before = load_quiz(path).version
    path.write_text(VALID.replace("Ports", "Ports!"))
    assert load_quiz(path).version != before


def test_defaults(tmp_path: Path) -> None:
    quiz = load_quiz(write(tmp_path, quiz_with(QUESTION.format(id="q"))))
    assert (quiz.description, quiz.pass_mark, quiz.pick, quiz.time_limit) == ("", 0.5, None, None)
    assert (quiz.shuffle_questions, quiz.shuffle_options, quiz.scoring) == (False, False, "partial")
    assert quiz.questions[0].points == 1.0


def test_missing_question_id(tmp_path: Path) -> None:
    text = quiz_with("  - text: Why?\n    options: [{text: a, correct: true}, {text: b}]\n")
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.message) == (3, "a question has no 'id'")


def test_duplicate_question_id_names_both_lines(tmp_path: Path) -> None:
    text = quiz_with(QUESTION.format(id="same") + QUESTION.format(id="same"))
    problem = only_problem(write(tmp_path, text))
    assert problem.line == 8
    assert "duplicate question id 'same'" in problem.message
    assert "line 3" in problem.message


def test_duplicate_option_id(tmp_path: Path) -> None:
    options = "    options: [{id: x, text: a, correct: true}, {id: x, text: b}]\n"
    problem = only_problem(write(tmp_path, quiz_with("  - id: q\n    text: Why?\n" + options)))
    assert (problem.line, "duplicate option id 'x'" in problem.message) == (5, True)


def test_no_correct_option(tmp_path: Path) -> None:
    text = quiz_with(
        "  - id: q\n    text: Why?\n    options:\n      - {text: a}\n      - {text: b}\n"
    )
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.message) == (6, "question 'q' has no correct option")


def test_two_correct_options_in_a_single_answer_question(tmp_path: Path) -> None:
    options = "    options:\n      - {text: a, correct: true}\n      - {text: b, correct: true}\n"
    problem = only_problem(write(tmp_path, quiz_with("  - id: q\n    text: Why?\n" + options)))
    assert problem.line == 6
    assert "single-answer but has 2 correct options" in problem.message


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "titel: T\n" + quiz_with(QUESTION.format(id="q"))))
    assert problem.line == 1
    assert problem.message == "unknown key 'titel' in the quiz; did you mean 'title'?"


def test_unknown_key_in_an_option(tmp_path: Path) -> None:
    options = "    options:\n      - {text: a, corect: true}\n      - {text: b, correct: true}\n"
    problem = only_problem(write(tmp_path, quiz_with("  - id: q\n    text: Why?\n" + options)))
    assert problem.line == 6
    assert "'corect'" in problem.message
    assert "did you mean 'correct'?" in problem.message


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("pass_mark: lots", "pass_mark must be a percentage like 60% or 0..1, not 'lots'"),
        ("pick: 1.5", "pick must be a whole number ≥ 1, not 1.5"),
        ("time_limit: soon", "time_limit must be a duration like 15m or 1h30m, not 'soon'"),
        ("shuffle: [questions]", "shuffle must be true, false or a mapping, not a list"),
        ("scoring: partiall", "scoring 'partiall' is not known; did you mean 'partial'?"),
        ("description: [a, b]", "description must be text, not a list"),
    ],
)
def test_wrong_types_of_settings(tmp_path: Path, setting: str, message: str) -> None:
    text = quiz_with(QUESTION.format(id="q"), header=f"title: T\n{setting}\n")
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.message) == (2, message)


def test_wrong_type_of_points(tmp_path: Path) -> None:
    text = quiz_with(QUESTION.format(id="q").replace("    text:", "    points: -1\n    text:"))
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.message) == (4, "points must be a number > 0, not -1")


def test_empty_options(tmp_path: Path) -> None:
    problem = only_problem(
        write(tmp_path, quiz_with("  - id: q\n    text: Why?\n    options: []\n"))
    )
    assert (problem.line, problem.message) == (5, "question 'q' needs at least two options")


def test_empty_option_text(tmp_path: Path) -> None:
    options = "    options:\n      - {text: '  ', correct: true}\n      - {text: b}\n"
    problem = only_problem(write(tmp_path, quiz_with("  - id: q\n    text: Why?\n" + options)))
    assert (problem.line, problem.message) == (6, "an option of question 'q' is empty")


def test_pick_larger_than_the_bank(tmp_path: Path) -> None:
    text = quiz_with(
        QUESTION.format(id="a") + QUESTION.format(id="b"), header="title: T\npick: 3\n"
    )
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.message) == (2, "pick 3 is larger than the bank of 2 questions")


def test_true_false_needs_an_answer(tmp_path: Path) -> None:
    text = quiz_with("  - id: q\n    type: true_false\n    text: Sky is blue.\n")
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.message) == (3, "question 'q' has no 'answer'")


def test_malformed_yaml(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "title: T\nquestions: [\n  - a\n"))
    assert problem.line == 3
    assert problem.message.startswith("malformed YAML: ")


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "- just\n- a list\n"))
    assert (problem.line, problem.message) == (1, "the quiz must be a mapping of keys to values")


def test_empty_file(tmp_path: Path) -> None:
    assert only_problem(write(tmp_path, "")).message == "the file is empty"


def test_every_problem_of_a_file_in_one_run_in_line_order(tmp_path: Path) -> None:
    text = """\
        title: T
        pick: 9
        questions:
          - id: q
            text: Why?
            options: [{text: a}, {text: b}]
          - id: q
            txt: Why?
            options: [{text: a, correct: true}, {text: b}]
        """
    problems = problems_of(write(tmp_path, text))
    assert [p.line for p in problems] == sorted(p.line for p in problems)
    assert [p.line for p in problems] == [2, 6, 7, 7, 8]
    assert (
        str(problems[0])
        == f"{tmp_path / 'quiz.yaml'}:2: pick 9 is larger than the bank of 2 questions"
    )


def test_load_quizzes_leaves_out_broken_files_only(tmp_path: Path) -> None:
    write(tmp_path, VALID, "good.yaml")
    write(tmp_path, "title: [\n", "broken.yml")
    (tmp_path / "notes.txt").write_text("not a quiz")
    quizzes, problems = load_quizzes(tmp_path)
    assert list(quizzes) == ["good"]
    assert [Path(p.path).name for p in problems] == ["broken.yml"]
