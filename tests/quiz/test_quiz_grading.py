"""Grading: all-or-nothing and partial credit, bounds and order independence (hypothesis)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from app.quiz import Attempt, Option, Question, Quiz, grade, new_attempt, question_points
from app.quiz.grading import shuffled

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
GOLDEN_DRAW = (
    ("q5", "q3", "q1"),
    (("o0", "o1", "o3", "o2"), ("o0", "o1", "o3", "o2"), ("o3", "o1", "o0", "o2")),
)


def make_question(
    qid: str, correct: list[bool], kind: str = "multiple", points: float = 1.0
) -> Question:
    options = tuple(Option(f"o{i}", f"Option {i}", flag) for i, flag in enumerate(correct))
    return Question(qid, kind, f"Question {qid}", options, points)  # type: ignore[arg-type]


def make_quiz(*questions: Question, **settings: object) -> Quiz:
    return Quiz("q", "Quiz", "", "v1", tuple(questions), **settings)  # type: ignore[arg-type]


def attempt_in_file_order(quiz: Quiz) -> Attempt:
    return Attempt(
        "a1",
        quiz.id,
        quiz.version,
        NOW,
        tuple(q.id for q in quiz.questions),
        tuple(tuple(o.id for o in q.options) for q in quiz.questions),
    )


@st.composite
def questions(draw: st.DrawFn, index: int = 0) -> Question:
    kind = draw(st.sampled_from(["single", "multiple", "true_false"]))
    size = 2 if kind == "true_false" else draw(st.integers(2, 6))
    if kind == "multiple":
        correct = draw(st.lists(st.booleans(), min_size=size, max_size=size).filter(any))
    else:
        correct = [i == draw(st.integers(0, size - 1)) for i in range(size)]
        correct = correct if any(correct) else [True] + [False] * (size - 1)
    points = draw(st.sampled_from([0.5, 1.0, 2.0, 3.0]))
    return make_question(f"q{index}", correct, kind, points)


@st.composite
def quizzes(draw: st.DrawFn) -> Quiz:
    count = draw(st.integers(1, 5))
    scoring = draw(st.sampled_from(["partial", "all-or-nothing"]))
    bank = tuple(draw(questions(index=i)) for i in range(count))
    return make_quiz(*bank, scoring=scoring, pass_mark=draw(st.floats(0, 1)))


def random_answers(draw: st.DrawFn, quiz: Quiz) -> dict[str, list[str]]:
    return {
        q.id: draw(st.lists(st.sampled_from([o.id for o in q.options]), unique=True))
        for q in quiz.questions
    }


@given(st.data())
def test_scores_stay_between_zero_and_the_maximum(data: st.DataObject) -> None:
    quiz = data.draw(quizzes())
    result = grade(quiz, attempt_in_file_order(quiz), random_answers(data.draw, quiz), NOW)
    assert 0 <= result.points <= result.max_points == sum(q.points for q in quiz.questions)
    assert 0 <= result.percentage <= 100
    assert all(0 <= r.points <= r.max_points for r in result.questions)


@given(quizzes())
def test_a_perfect_attempt_scores_the_maximum(quiz: Quiz) -> None:
    answers = {q.id: sorted(q.correct_ids) for q in quiz.questions}
    result = grade(quiz, attempt_in_file_order(quiz), answers, NOW)
    assert result.points == result.max_points
    assert result.percentage == 100
    assert result.passed
    assert all(r.is_correct for r in result.questions)


@given(st.data())
def test_the_order_of_choices_never_matters(data: st.DataObject) -> None:
    quiz = data.draw(quizzes())
    answers = random_answers(data.draw, quiz)
    shuffled = {qid: data.draw(st.permutations(ids)) for qid, ids in answers.items()}
    attempt = attempt_in_file_order(quiz)
    shown_differently = new_attempt(
        make_quiz(*quiz.questions, shuffle_questions=True, shuffle_options=True),
        random.Random(data.draw(st.integers(0, 2**32))),
        NOW,
    )
    first = grade(quiz, attempt, answers, NOW)
    assert grade(quiz, attempt, shuffled, NOW).points == first.points
    assert grade(quiz, shown_differently, answers, NOW).points == first.points


def test_the_total_does_not_depend_on_the_order_questions_were_shown_in() -> None:
    # Three halves and a sixth: summed as floats, one order gives 1.1666…67, another 1.1666…65.
    halves = [make_question(f"h{n}", [True, False], "true_false", 0.5) for n in range(3)]
    third = make_question("t", [True, True, True], points=0.5)
    quiz = make_quiz(*halves, third)
    answers = {"h0": ["o0"], "h1": ["o1"], "h2": ["o0"], "t": ["o0"]}
    in_file_order = attempt_in_file_order(quiz)
    reversed_order = Attempt(
        "a2",
        quiz.id,
        quiz.version,
        NOW,
        in_file_order.question_ids[::-1],
        in_file_order.option_ids[::-1],
    )
    totals = {grade(quiz, a, answers, NOW).points for a in (in_file_order, reversed_order)}
    assert len(totals) == 1


def test_single_answer_is_all_or_nothing() -> None:
    quiz = make_quiz()
    question = make_question("q", [False, True, False], kind="single", points=2)
    assert question_points(quiz, question, frozenset({"o1"})) == 2
    assert question_points(quiz, question, frozenset({"o0"})) == 0
    assert question_points(quiz, question, frozenset({"o0", "o1"})) == 0
    assert question_points(quiz, question, frozenset()) == 0


def test_partial_credit_earns_and_loses_shares_never_below_zero() -> None:
    quiz = make_quiz(scoring="partial")
    question = make_question("q", [True, True, False, False], points=2)
    assert question_points(quiz, question, frozenset({"o0"})) == 1
    assert question_points(quiz, question, frozenset({"o0", "o1", "o2"})) == 1
    assert question_points(quiz, question, frozenset({"o0", "o2"})) == 0
    assert question_points(quiz, question, frozenset({"o2", "o3"})) == 0


def test_all_or_nothing_scoring_for_multiple_answer() -> None:
    quiz = make_quiz(scoring="all-or-nothing")
    question = make_question("q", [True, True, False])
    assert question_points(quiz, question, frozenset({"o0"})) == 0
    assert question_points(quiz, question, frozenset({"o0", "o1"})) == 1


def test_pass_mark_is_inclusive_and_percentage_is_of_the_maximum() -> None:
    quiz = make_quiz(
        make_question("a", [True, False], "single", points=3),
        make_question("b", [True, False], "single", points=1),
        pass_mark=0.75,
    )
    result = grade(quiz, attempt_in_file_order(quiz), {"a": ["o0"]}, NOW)
    assert (result.points, result.max_points, result.percentage, result.passed) == (3, 4, 75, True)
    assert not grade(quiz, attempt_in_file_order(quiz), {"b": ["o0"]}, NOW).passed


def test_results_follow_the_order_shown_and_ignore_options_not_shown() -> None:
    quiz = make_quiz(make_question("a", [True, False], "single"), make_question("b", [True, False]))
    attempt = Attempt("x", "q", "v1", NOW, ("b", "a"), (("o1", "o0"), ("o0", "o1")))
    result = grade(quiz, attempt, {"a": ["o0", "nope"], "b": ["o1"]}, NOW)
    assert [r.question.id for r in result.questions] == ["b", "a"]
    assert [o.id for o in result.questions[0].options_shown] == ["o1", "o0"]
    assert result.questions[1].chosen == {"o0"}
    assert result.submitted_at == NOW


def test_new_attempt_picks_and_shuffles_but_keeps_true_false_in_order() -> None:
    bank = [make_question(f"q{i}", [True, False, False]) for i in range(8)]
    bank.append(make_question("tf", [False, True], "true_false"))
    quiz = make_quiz(*bank, pick=5, shuffle_questions=True, shuffle_options=True)
    attempts = [new_attempt(quiz, random.Random(seed), NOW) for seed in range(30)]
    assert all(len(a.question_ids) == 5 == len(set(a.question_ids)) for a in attempts)
    assert len({a.question_ids for a in attempts}) > 1
    assert len({a.option_ids[0] for a in attempts}) > 1
    assert all(
        options == ("o0", "o1")
        for a in attempts
        for qid, options in zip(a.question_ids, a.option_ids, strict=True)
        if qid == "tf"
    )
    assert all(a.quiz_version == "v1" and a.started_at == NOW for a in attempts)


def test_without_shuffling_the_file_order_is_kept() -> None:
    quiz = make_quiz(make_question("a", [True, False]), make_question("b", [True, False]))
    attempt = new_attempt(quiz, random.Random(1), NOW)
    assert attempt.question_ids == ("a", "b")
    assert attempt.option_ids == (("o0", "o1"), ("o0", "o1"))


class OnlyRandom(random.Random):
    """A generator that fails on anything but random(), whose sequence Python keeps stable."""

    def _refuse(self, *_: object, **__: object) -> None:
        raise AssertionError("only random() has a sequence Python promises to keep")

    getrandbits = randrange = randint = choice = sample = shuffle = _refuse  # type: ignore[assignment]


def test_an_attempt_is_drawn_with_random_alone() -> None:
    """An attempt is derived again from its seed for every results link: the draw must not
    depend on generator methods whose algorithm may change between Python versions."""
    bank = [make_question(f"q{i}", [True, False, False, False]) for i in range(12)]
    quiz = make_quiz(*bank, pick=5, shuffle_questions=True, shuffle_options=True)
    attempt = new_attempt(quiz, OnlyRandom(7), NOW, attempt_id="fixed")
    assert attempt == new_attempt(quiz, OnlyRandom(7), NOW, attempt_id="fixed")
    assert len(attempt.question_ids) == 5


def test_the_draw_of_a_seed_never_changes() -> None:
    """The same seed gives the same attempt as when this test was written: results links made
    before an upgrade name attempts by seed, so their draw is a stored format."""
    bank = [make_question(f"q{i}", [True, False, False, False]) for i in range(6)]
    quiz = make_quiz(*bank, pick=3, shuffle_questions=True, shuffle_options=True)
    attempt = new_attempt(quiz, random.Random(2026), NOW, attempt_id="fixed")
    assert (attempt.question_ids, attempt.option_ids) == GOLDEN_DRAW


@given(st.integers(min_value=0, max_value=8), st.integers())
def test_shuffled_is_a_permutation(length: int, seed: int) -> None:
    items = list(range(length))
    assert sorted(shuffled(items, random.Random(seed))) == items
