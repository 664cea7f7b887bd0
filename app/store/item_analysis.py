"""Item analysis: Moodle's quiz statistics report, computed from the gradebook's rows.

The definitions are Moodle's ("Quiz statistics calculations", docs.moodle.org/dev, and its
``quiz_statistics`` and ``core_question\\statistics`` calculators), so an instructor who knows
that report reads the same numbers here:

- **Test statistics** on each attempt's total: count, mean, median, standard deviation (sample),
  skewness and kurtosis (Moodle's k-statistics), the coefficient of internal consistency
  (Cronbach's α, ``CIC = 100·p/(p−1)·(1 − Σ var(question) / var(total))``), the error ratio
  ``ER = 100·√(1 − CIC/100)`` and the standard error ``SE = ER·SD/100``. Shown as percentages of
  the maximum score.
- **Per question**, over the attempts that were shown it: facility (mean mark / max mark),
  standard deviation (as a share of the max mark), random guess score, intended weight (its max
  mark's share of the total), effective weight (``√cov(mark, total)`` over the sum of those of
  every question; blank, with a warning, when that covariance is negative), discrimination index
  (the correlation of the mark with the rest of the test, total minus this question) and
  discriminative efficiency (that covariance over the largest it could be for these marks).
- **Distractor analysis**: for every option, the share of attempts that chose it, overall and in
  the top and bottom third of total scores, with three flags: nobody chose it, a distractor the
  top third chose more than the bottom third, a right answer the bottom third chose more.
  Options are told apart by their text, which names the same option however it was shuffled.

Which attempts: by default each student's first attempt at the quiz (as Moodle's default), or
every attempt. An attempt counts once however many emails carry it. Attempts are analysed per
quiz **version**, never mixed: an edited question is another question. Results whose signature
does not match (results.json edited after the server sent it) are left out and counted;
results without a signature (mailed by another QuizMail, or an older one) are counted in, and
how many there are is said.

Statistics that need two attempts (or three, four: skewness, kurtosis) or some spread in the
scores are ``None`` and the analysis says why in :attr:`VersionAnalysis.notes`. Everything here
is pure: no Flask, no I/O.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import Literal

from app.quiz.models import Question, Quiz
from app.results_signature import Verdict
from app.store.answers import Answer
from app.store.distractors import OptionAnalysis, Thirds, option_analyses, tally, thirds_of
from app.store.explanations import EXPLANATIONS
from app.store.gradebook import Entry
from app.store.score_statistics import EPSILON, TestStatistics, test_statistics

__all__ = [
    "EXPLANATIONS",
    "AttemptChoice",
    "OptionAnalysis",
    "QuestionAnalysis",
    "TestStatistics",
    "VersionAnalysis",
    "analyse",
    "histogram",
]

AttemptChoice = Literal["first", "all"]
QuizLookup = Callable[[str, str], Quiz | None]  # (quiz id, version) → that version, if known
HISTOGRAM_BINS = 10  # 0–10 %, 10–20 %, … 90–100 %, as Moodle's "overview" chart

QUESTION_ID, POINTS, CHOSEN = (
    operator.attrgetter(name) for name in ("question_id", "points", "chosen")
)


@dataclass(frozen=True)
class QuestionAnalysis:
    question_id: str
    type: str
    attempts: int
    facility: float | None
    sd: float | None
    random_guess: float | None
    intended_weight: float | None
    effective_weight: float | None
    negative_covariance: bool
    discrimination: float | None
    efficiency: float | None
    options: tuple[OptionAnalysis, ...]


@dataclass(frozen=True)
class VersionAnalysis:
    """The statistics of one version of one quiz."""

    quiz_id: str
    quiz_title: str
    version: str  # "" for results that do not say (emailed by an older QuizMail)
    which: AttemptChoice
    test: TestStatistics
    questions: tuple[QuestionAnalysis, ...]
    scores: tuple[float, ...]  # every attempt's percentage, ascending: the histogram's data
    notes: tuple[str, ...] = ()  # why some statistics are blank
    forged_left_out: int = 0  # results whose signature does not match
    unsigned: int = 0  # attempts counted whose results carry no signature


def analyse(
    entries: Iterable[Entry],
    *,
    which: AttemptChoice = "first",
    quizzes: QuizLookup | None = None,
) -> list[VersionAnalysis]:
    """The item analysis of every quiz version in *entries* (the gradebook's rows), sorted by
    quiz and then by when the version was first attempted."""
    rows = list(entries)
    forged = Counter(_version_key(e) for e in rows if e.verdict is Verdict.FORGED)
    by_version: dict[tuple[str, str], list[Entry]] = {}
    for attempt in _attempts((e for e in rows if e.verdict is not Verdict.FORGED), which):
        by_version.setdefault(_version_key(attempt), []).append(attempt)
    lookup = quizzes or (lambda quiz_id, version: None)
    return [
        _analyse_version(group, which, lookup(*key), forged[key])
        for key, group in sorted(
            by_version.items(), key=lambda kv: (kv[0][0], _canonical(kv[1][0]))
        )
    ]


def _version_key(entry: Entry) -> tuple[str, str]:
    return entry.quiz_id, entry.quiz_version


def _canonical(entry: Entry) -> tuple[datetime, str]:
    """One order for attempts whatever order the emails came in: results never depend on it."""
    return entry.submitted_at, entry.attempt_id


def _attempts(entries: Iterable[Entry], which: AttemptChoice) -> list[Entry]:
    """The attempts to analyse, in the order they were made (ties: by id), each once: the
    earliest email of it, whose student is the one it was sent to. With ``first``, each
    student's first attempt at each quiz (over all its versions, as Moodle counts them)."""
    distinct: dict[tuple[str, str], Entry] = {}
    for entry in sorted(entries, key=_email_order):
        distinct.setdefault(entry.attempt_key, entry)
    if which == "all":
        return list(distinct.values())
    first: dict[tuple[str, str], Entry] = {}
    for attempt in distinct.values():
        first.setdefault(attempt.student_key, attempt)
    return list(first.values())


def _email_order(entry: Entry) -> tuple[datetime, str, datetime, str, str]:
    return (
        entry.submitted_at,
        entry.attempt_id,
        entry.sent_at,
        entry.message_id,
        entry.student_email,
    )


# --- one version ---------------------------------------------------------------------------------


@dataclass
class _Column:
    """One question's marks, over the attempts (by index) that were shown it."""

    attempts: list[int] = field(default_factory=list)
    marks: list[float] = field(default_factory=list)
    chosen: list[tuple[str, ...]] = field(default_factory=list)
    max_points: float = 0.0
    type: str = ""
    correct: set[str] = field(default_factory=set)
    answers_known: bool = False


def _analyse_version(
    attempts: list[Entry], which: AttemptChoice, quiz: Quiz | None, forged: int
) -> VersionAnalysis:
    columns, totals, maxima = _columns(attempts)
    scores = [100 * t / m if m else 0.0 for t, m in zip(totals, maxima, strict=True)]
    notes: list[str] = []
    same_questions = all(len(c.attempts) == len(attempts) for c in columns.values())
    covariances = {qid: _covariances(c, totals) for qid, c in columns.items()}
    mark_variances = [c[0].mark_variance for c in covariances.values() if c is not None]
    test = test_statistics(scores, totals, mark_variances, same_questions, notes)
    thirds = thirds_of(scores)
    questions = _question_statistics(columns, covariances, maxima, quiz, thirds)
    return VersionAnalysis(
        quiz_id=attempts[0].quiz_id,
        quiz_title=attempts[-1].quiz_title,
        version=attempts[0].quiz_version,
        which=which,
        test=test,
        questions=questions,
        scores=tuple(sorted(scores)),
        notes=tuple(notes),
        forged_left_out=forged,
        unsigned=sum(1 for attempt in attempts if attempt.verdict is Verdict.UNSIGNED),
    )


def _columns(attempts: list[Entry]) -> tuple[dict[str, _Column], list[float], list[float]]:
    """Per question its marks; per attempt its total and maximum (of the questions shown)."""
    aligned = _aligned(attempts)
    if aligned is None:  # questions picked at random: each attempt has its own
        return _columns_one_by_one(attempts)
    everyone = list(range(len(attempts)))
    columns = {
        answers[0].question_id: _column(answers, everyone) for answers in zip(*aligned, strict=True)
    }
    totals = [sum(marks) for marks in zip(*(c.marks for c in columns.values()), strict=True)]
    maximum = math.fsum(c.max_points for c in columns.values())
    return columns, totals, [maximum] * len(attempts)


def _aligned(attempts: list[Entry]) -> list[tuple[Answer, ...]] | None:
    """Every attempt's answers in one order of questions, when every attempt was shown the same
    questions (shuffled or not); else None. (One version gives a question one maximum.)"""
    order = tuple(map(QUESTION_ID, attempts[0].answers))
    rows = []
    for attempt in attempts:
        answers = attempt.answers
        if tuple(map(QUESTION_ID, answers)) != order:
            by_id = {a.question_id: a for a in answers}
            if len(by_id) != len(order) or not by_id.keys() >= set(order):
                return None
            answers = tuple(by_id[question_id] for question_id in order)
        rows.append(answers)
    return rows if order else None


def _column(answers: Sequence[Answer], attempts: list[int]) -> _Column:
    known = next((a.correct for a in answers if a.correct is not None), None)
    return _Column(
        attempts=attempts,
        marks=list(map(POINTS, answers)),
        chosen=list(map(CHOSEN, answers)),
        max_points=answers[0].max_points,
        type=answers[0].type,
        correct=set(known or ()),
        answers_known=known is not None,
    )


def _columns_one_by_one(
    attempts: list[Entry],
) -> tuple[dict[str, _Column], list[float], list[float]]:
    shown: dict[str, tuple[list[Answer], list[int]]] = {}
    for index, attempt in enumerate(attempts):
        for answer in attempt.answers:
            answers, indexes = shown.setdefault(answer.question_id, ([], []))
            answers.append(answer)
            indexes.append(index)
    columns = {qid: _column(answers, indexes) for qid, (answers, indexes) in shown.items()}
    totals = [math.fsum(a.points for a in attempt.answers) for attempt in attempts]
    maxima = [math.fsum(a.max_points for a in attempt.answers) for attempt in attempts]
    return columns, totals, maxima


# --- per question --------------------------------------------------------------------------------


def _question_statistics(
    columns: dict[str, _Column],
    covariances: dict[str, tuple[_Covariance, float] | None],
    maxima: list[float],
    quiz: Quiz | None,
    thirds: Thirds | None,
) -> tuple[QuestionAnalysis, ...]:
    context = _Context(
        weights=math.fsum(math.sqrt(c[1]) for c in covariances.values() if c and c[1] >= 0),
        mean_maximum=math.fsum(maxima) / len(maxima),
        quiz=quiz,
        thirds=thirds,
    )
    return tuple(
        _question(qid, column, covariances[qid], context) for qid, column in columns.items()
    )


@dataclass(frozen=True)
class _Context:
    """What every question's statistics share."""

    weights: float  # the sum of √cov(mark, total) over questions where it is not negative
    mean_maximum: float  # an attempt's maximum total
    quiz: Quiz | None
    thirds: Thirds | None


@dataclass(frozen=True)
class _Covariance:
    mark_variance: float
    rest_variance: float
    with_rest: float
    with_rest_max: float  # the same marks and rests paired in sorted order


def _covariances(column: _Column, totals: list[float]) -> tuple[_Covariance, float] | None:
    """Moodle's sums for one question; None with fewer than two attempts."""
    n = len(column.marks)
    if n < 2:
        return None
    marks = column.marks
    own_totals = totals if n == len(totals) else [totals[i] for i in column.attempts]
    rests = list(map(operator.sub, own_totals, marks))
    mark_mean, rest_mean = sum(marks) / n, sum(rests) / n
    dm = list(map(operator.sub, marks, repeat(mark_mean, n)))
    dr = list(map(operator.sub, rests, repeat(rest_mean, n)))
    sorted_dm = sorted(dm)
    sorted_dr = sorted(dr)
    sums = _Covariance(
        sum(map(operator.mul, dm, dm)) / (n - 1),
        sum(map(operator.mul, dr, dr)) / (n - 1),
        sum(map(operator.mul, dm, dr)) / (n - 1),
        sum(map(operator.mul, sorted_dm, sorted_dr)) / (n - 1),
    )
    with_total = sums.with_rest + sums.mark_variance  # cov(m, rest + m)
    return sums, with_total


def _question(
    question_id: str,
    column: _Column,
    covariance: tuple[_Covariance, float] | None,
    context: _Context,
) -> QuestionAnalysis:
    n, top = len(column.marks), column.max_points
    facility = 100 * math.fsum(column.marks) / n / top if top else None
    sd = discrimination = efficiency = effective = None
    negative = False
    if covariance is not None:
        sums, with_total = covariance
        sd = 100 * math.sqrt(sums.mark_variance) / top if top else None
        spread = sums.mark_variance * sums.rest_variance
        if spread > EPSILON:
            discrimination = 100 * sums.with_rest / math.sqrt(spread)
        if sums.with_rest_max > EPSILON:
            efficiency = 100 * sums.with_rest / sums.with_rest_max
        negative = with_total < 0
        if not negative and context.weights > EPSILON:
            effective = 100 * math.sqrt(with_total) / context.weights
    return QuestionAnalysis(
        question_id=question_id,
        type=column.type,
        attempts=n,
        facility=facility,
        sd=sd,
        random_guess=_random_guess(question_id, column, context.quiz),
        intended_weight=100 * top / context.mean_maximum if context.mean_maximum else None,
        effective_weight=effective,
        negative_covariance=negative,
        discrimination=discrimination,
        efficiency=efficiency,
        options=_options(question_id, column, context.quiz, context.thirds),
    )


def _random_guess(question_id: str, column: _Column, quiz: Quiz | None) -> float | None:
    """Moodle's random guess score: true/false 50 %, single answer the average of its options'
    marks (one right of *k*: 100/k); undefined for multiple answer, as in Moodle."""
    if column.type == "true_false":
        return 50.0
    if column.type != "single":
        return None
    question = _question_in(quiz, question_id)
    return 100 / len(question.options) if question is not None else None


def _question_in(quiz: Quiz | None, question_id: str) -> Question | None:
    if quiz is None:
        return None
    try:
        return quiz.question(question_id)
    except KeyError:
        return None


# --- distractor analysis -------------------------------------------------------------------------


def _options(
    question_id: str, column: _Column, quiz: Quiz | None, thirds: Thirds | None
) -> tuple[OptionAnalysis, ...]:
    """Every option of the question, by text; from the quiz file of this version when known,
    else every option anyone chose or that results name as right (sorted by text)."""
    question = _question_in(quiz, question_id)
    counts = tally(column.chosen)  # who chose what: everyone
    options: list[tuple[str, bool | None]]
    if question is not None:
        options = [(o.text, o.correct) for o in question.options]
    else:
        known = column.answers_known
        texts = sorted(set(counts) | column.correct)
        options = [(text, (text in column.correct) if known else None) for text in texts]
    return option_analyses(options, counts, column.attempts, column.chosen, thirds)


# --- pictures ------------------------------------------------------------------------------------


def histogram(scores: Iterable[float], bins: int = HISTOGRAM_BINS) -> list[int]:
    """How many scores fall in each of *bins* equal bands of 0–100 % (100 % in the last)."""
    counts = [0] * bins
    for score in scores:
        counts[min(max(int(score * bins // 100), 0), bins - 1)] += 1
    return counts
