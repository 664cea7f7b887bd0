"""Item analysis: hand-computed values, numpy as an independent oracle, and properties."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.quiz.loader import parse_quiz
from app.results_signature import Verdict
from app.store.answers import Answer
from app.store.distractors import FLAG_NEVER_CHOSEN, FLAG_STRONG_DISTRACTOR, FLAG_WEAK_KEY
from app.store.explanations import EXPLANATIONS
from app.store.gradebook import Entry, read_results
from app.store.item_analysis import analyse, histogram

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def entry(
    student: str,
    marks: list[float],
    *,
    minute: int = 0,
    attempt: str | None = None,
    version: str = "v1",
    chosen: list[tuple[str, ...]] | None = None,
    correct: list[tuple[str, ...] | None] | None = None,
    verdict: Verdict | None = None,
) -> Entry:
    """One attempt at quiz "q": question i gets marks[i] of 1 point."""
    answers = tuple(
        Answer(
            f"q{i + 1}",
            "single",
            chosen[i] if chosen else (("right",) if mark else ("wrong",)),
            correct[i] if correct else ("right",),
            float(mark),
            1.0,
        )
        for i, mark in enumerate(marks)
    )
    points = sum(marks)
    when = START + timedelta(minutes=minute)
    return Entry(
        student_email=f"{student}@example.org",
        student_name=student,
        quiz_id="q",
        quiz_title="Quiz",
        attempt_id=attempt or f"{student}-{minute}",
        submitted_at=when,
        sent_at=when + timedelta(seconds=5),
        points=points,
        max_points=float(len(marks)),
        percentage=100 * points / len(marks),
        passed=True,
        questions=tuple((a.question_id, a.points == 1) for a in answers),
        quiz_version=version,
        answers=answers,
        verdict=verdict,
    )


def matrix(rows: list[list[float]]) -> list[Entry]:
    return [entry(f"s{n}", marks, minute=n) for n, marks in enumerate(rows)]


# --- hand-computed -------------------------------------------------------------------------------


def test_test_statistics_by_hand() -> None:
    # totals 2, 1, 1, 0 of 2: scores 100, 50, 50, 0 %
    (version,) = analyse(matrix([[1, 1], [1, 0], [0, 1], [0, 0]]))
    test = version.test
    assert (test.attempts, test.mean, test.median) == (4, 50, 50)
    assert test.sd == pytest.approx(math.sqrt(5000 / 3))  # Σd² = 5000, n − 1 = 3
    assert test.skewness == pytest.approx(0)
    assert test.kurtosis == pytest.approx(1.5)  # k4 = 16·1.5625e6/6, k2² = (5000/3)²
    assert test.alpha == pytest.approx(0)  # Σ var(question) = var(total) = 2/3
    assert test.error_ratio == pytest.approx(100)
    assert test.standard_error == pytest.approx(test.sd)


def test_question_statistics_by_hand() -> None:
    # q1: 1, 1, 0, 1; q2: 1, 1, 0, 0; totals 2, 2, 0, 1
    (version,) = analyse(matrix([[1, 1], [1, 1], [0, 0], [1, 0]]))
    q1, q2 = version.questions
    assert version.test.alpha == pytest.approx(800 / 11)  # 200·(1 − (1/4 + 1/3)/(11/12))
    assert (q1.facility, q2.facility) == (75, 50)
    assert q1.sd == pytest.approx(50)  # √(1/4) of a 1-point question
    assert q1.discrimination == pytest.approx(100 * (1 / 6) / math.sqrt(1 / 4 * 1 / 3))
    # marks and rests already pair in sorted order: the covariance is the largest it can be
    assert q1.efficiency == pytest.approx(100)
    assert (q1.intended_weight, q2.intended_weight) == (50, 50)
    cov1, cov2 = 1 / 6 + 1 / 4, 1 / 6 + 1 / 3  # cov(mark, rest) + var(mark)
    assert q1.effective_weight == pytest.approx(
        100 * math.sqrt(cov1) / (math.sqrt(cov1) + math.sqrt(cov2))
    )
    assert q1.random_guess is None  # single answer: needs the quiz file to count its options


def test_one_attempt_says_what_needs_two() -> None:
    (version,) = analyse(matrix([[1, 0]]))
    assert version.test.mean == 50
    assert version.test.sd is None
    assert version.notes == (
        "Standard deviation, skewness, kurtosis and the CIC needs two or more attempts.",
    )
    (q1, _) = version.questions
    assert (q1.facility, q1.sd, q1.discrimination) == (100, None, None)


def test_everyone_with_the_same_score_divides_by_nothing() -> None:
    (version,) = analyse(matrix([[1, 0], [0, 1], [1, 0]]))
    assert version.test.sd == 0
    assert version.test.alpha is None
    assert version.notes == (
        "Every attempt has the same score: not enough spread to compute the rest.",
    )
    assert all(q.effective_weight is None or q.effective_weight >= 0 for q in version.questions)


def test_a_question_everyone_got_right_has_no_discrimination() -> None:
    (version,) = analyse(matrix([[1, 1], [1, 0], [1, 1], [1, 0]]))
    always, _ = version.questions
    assert always.facility == 100
    assert always.sd == 0
    assert always.discrimination is None
    assert always.efficiency is None


def test_negative_covariance_blanks_the_effective_weight() -> None:
    # q3 is right exactly when the others are wrong
    rows = [[1, 1, 0], [1, 1, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 1]]
    (version,) = analyse(matrix(rows))
    q3 = version.questions[2]
    assert q3.negative_covariance
    assert q3.effective_weight is None
    assert q3.discrimination < 0
    assert sum(q.effective_weight or 0 for q in version.questions) == pytest.approx(100)


def test_random_guess_score_from_the_quiz_file() -> None:
    quiz = parse_quiz(
        b"title: Q\nquestions:\n"
        b"  - {id: q1, text: a, options: [{text: right, correct: true}, {text: wrong},"
        b" {text: other}, {text: more}]}\n"
        b"  - {id: q2, type: true_false, text: b, answer: true}\n",
        Path("q.yaml"),
    )
    rows = matrix([[1, 1], [0, 1]])
    rows = [
        e.__class__(**{**e.__dict__, "answers": (e.answers[0], _typed(e.answers[1]))}) for e in rows
    ]
    (version,) = analyse(rows, quizzes=lambda quiz_id, v: quiz if quiz_id == "q" else None)
    assert [q.random_guess for q in version.questions] == [25, 50]
    texts = [o.text for o in version.questions[0].options]
    assert texts == ["right", "wrong", "other", "more"]  # as in the file, chosen or not
    other = version.questions[0].options[2]
    assert (other.chosen, other.flags) == (0, (FLAG_NEVER_CHOSEN,))


def _typed(answer: Answer) -> Answer:
    return Answer(answer.question_id, "true_false", ("True",), ("True",), answer.points, 1.0)


def test_distractor_analysis_by_thirds() -> None:
    # six attempts, totals 3, 2, 2, 1, 0, 0: the top two and the bottom two by total
    chosen = [("a",), ("b",), ("a",), ("c",), ("b",), ("b",)]
    marks = [[1, 1, 1], [0, 1, 1], [1, 1, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]]
    rows = [
        entry(
            f"s{n}", m, minute=n, chosen=[chosen[n], ("x",), ("x",)], correct=[("a",), None, None]
        )
        for n, m in enumerate(marks)
    ]
    (version,) = analyse(rows)
    options = {o.text: o for o in version.questions[0].options}
    assert [o.text for o in version.questions[0].options] == ["a", "b", "c"]
    assert options["a"].share == pytest.approx(100 / 3)
    # s1 and s2 tie on 2: the later attempt ranks higher, so the top third is s0 and s2
    assert (options["a"].top_share, options["a"].bottom_share) == (100, 0)
    assert (options["b"].top_share, options["b"].bottom_share) == (0, 100)
    assert options["a"].flags == options["b"].flags == ()
    assert options["c"].flags == ()


def test_the_three_flags() -> None:
    # top third picks the distractor "d"; bottom third picks the key "k"
    rows = [
        entry("top1", [0, 1, 1, 1], minute=1, chosen=[("d",), (), (), ()], correct=[("k",)] * 4),
        entry("top2", [0, 1, 1, 1], minute=2, chosen=[("d",), (), (), ()], correct=[("k",)] * 4),
        entry("mid", [0, 1, 0, 1], minute=3, chosen=[("d",), (), (), ()], correct=[("k",)] * 4),
        entry("low1", [1, 0, 0, 0], minute=4, chosen=[("k",), (), (), ()], correct=[("k",)] * 4),
        entry("low2", [1, 0, 0, 0], minute=5, chosen=[("k",), (), (), ()], correct=[("k",)] * 4),
    ]
    (version,) = analyse(rows)
    options = {o.text: o for o in version.questions[0].options}
    assert options["d"].flags == (FLAG_STRONG_DISTRACTOR,)
    assert options["k"].flags == (FLAG_WEAK_KEY,)


def test_answers_held_back_leave_the_key_unknown() -> None:
    rows = [entry(f"s{n}", [n % 2], minute=n, correct=[None]) for n in range(3)]
    (version,) = analyse(rows)
    assert {o.correct for o in version.questions[0].options} == {None}


# --- which attempts, versions, unverified -------------------------------------------------------


def test_first_attempts_by_default_all_as_a_choice() -> None:
    rows = [entry("ada", [0, 0], minute=1), entry("ada", [1, 1], minute=2), entry("bob", [1, 0])]
    (first,) = analyse(rows)
    (every,) = analyse(rows, which="all")
    assert (first.test.attempts, first.test.mean) == (2, 25)
    assert (every.test.attempts, every.which) == (3, "all")


def test_an_attempt_emailed_twice_counts_once() -> None:
    one = entry("ada", [1, 0], attempt="A")
    again = Entry(**{**one.__dict__, "student_email": "bob@example.org", "message_id": "<2@x>"})
    (version,) = analyse([one, again], which="all")
    assert version.test.attempts == 1


def test_versions_are_never_mixed() -> None:
    rows = [entry("ada", [1], version="v1"), entry("bob", [0, 1], minute=1, version="v2")]
    v1, v2 = analyse(rows, which="all")
    assert (v1.version, v1.test.attempts, len(v1.questions)) == ("v1", 1, 1)
    assert (v2.version, v2.test.attempts, len(v2.questions)) == ("v2", 1, 2)


def test_edited_results_are_left_out_unsigned_ones_counted_in() -> None:
    rows = [
        entry("ada", [1, 1], verdict=Verdict.VERIFIED),
        entry("eve", [1, 1], minute=1, verdict=Verdict.FORGED),
        entry("old", [0, 1], minute=2, verdict=Verdict.UNSIGNED),
    ]
    (version,) = analyse(rows)
    assert (version.test.attempts, version.forged_left_out, version.unsigned) == (2, 1, 1)


def test_random_picks_leave_the_cic_out_and_say_why() -> None:
    rows = [entry("a", [1, 0]), entry("b", [1], minute=1), entry("c", [0, 1], minute=2)]
    (version,) = analyse(rows)
    assert version.test.alpha is None
    assert "this quiz picks them at random" in version.notes[0]
    assert [q.attempts for q in version.questions] == [3, 2]


def test_rows_read_from_results_json_carry_version_and_answers() -> None:
    payload = {
        "schema": "quizmail.results/1",
        "quiz": {"id": "smtp", "title": "SMTP", "version": "3f2a9c1e5b7d"},
        "student": {"email": "ada@example.org", "name": "Ada"},
        "attempt_id": "a1",
        "submitted_at": "2026-11-23T10:00:00Z",
        "sent_at": "2026-11-23T10:00:05Z",
        "score": {"points": 0.5, "max_points": 1.0, "percentage": 50.0, "passed": False},
        "questions": [
            {"id": "m", "type": "multiple", "chosen": ["a", "c"], "correct": ["a", "b"],
             "points": 0.5, "max_points": 1.0, "is_correct": False}
        ],
    }  # fmt: skip
    row = read_results(payload)
    assert row.quiz_version == "3f2a9c1e5b7d"
    assert row.answers == (Answer("m", "multiple", ("a", "c"), ("a", "b"), 0.5, 1.0),)


def test_histogram_bands() -> None:
    assert histogram([0, 9.99, 10, 55, 100, 100]) == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]


def test_every_statistic_is_explained() -> None:
    assert all(text.endswith(".") for text, _ in EXPLANATIONS.values())


# --- numpy as the oracle, and properties --------------------------------------------------------

MARKS = st.lists(
    st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=3, max_size=3), min_size=2, max_size=30
)


@given(MARKS)
def test_agrees_with_numpy(rows: list[list[float]]) -> None:
    (version,) = analyse(matrix(rows))
    marks = np.array(rows)
    totals = marks.sum(axis=1)
    scores = 100 * totals / 3
    test = version.test
    assert test.mean == pytest.approx(scores.mean())
    assert test.median == pytest.approx(np.median(scores))
    assert test.sd == pytest.approx(scores.std(ddof=1), abs=1e-9)
    if totals.var(ddof=1) > 1e-9:
        alpha = 3 / 2 * (1 - marks.var(axis=0, ddof=1).sum() / totals.var(ddof=1))
        assert test.alpha == pytest.approx(100 * alpha, abs=1e-6)
    for column, question in zip(marks.T, version.questions, strict=True):
        assert question.facility == pytest.approx(100 * column.mean())
        assert question.sd == pytest.approx(100 * column.std(ddof=1), abs=1e-9)
        rest = totals - column
        if column.var() > 1e-9 and rest.var() > 1e-9:
            assert question.discrimination == pytest.approx(
                100 * np.corrcoef(column, rest)[0, 1], abs=1e-6
            )


@given(MARKS)
def test_alpha_is_at_most_100_percent(rows: list[list[float]]) -> None:
    (version,) = analyse(matrix(rows))
    assert version.test.alpha is None or version.test.alpha <= 100 + 1e-9
    assert all(0 <= q.facility <= 100 for q in version.questions)


@given(MARKS, st.randoms(use_true_random=False))
def test_invariant_under_the_order_of_attempts_and_options(
    rows: list[list[float]], rng: random.Random
) -> None:
    options = ["right", "wrong", "other"]
    entries = [
        entry(
            f"s{n}",
            marks,
            minute=n,
            chosen=[tuple(rng.sample(options, 2)) for _ in marks],
            correct=[("right", "other")] * len(marks),
        )
        for n, marks in enumerate(rows)
    ]
    shuffled = rng.sample(entries, len(entries))
    reordered = [
        Entry(**{**e.__dict__, "answers": tuple(_reverse_chosen(a) for a in e.answers)})
        for e in shuffled
    ]
    assert analyse(reordered) == analyse(entries)


def _reverse_chosen(answer: Answer) -> Answer:
    return Answer(
        answer.question_id, answer.type, answer.chosen[::-1], answer.correct, answer.points, 1.0
    )
