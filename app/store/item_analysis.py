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
from itertools import chain, repeat
from typing import Literal

from app.quiz.models import Question, Quiz
from app.results_signature import Verdict
from app.store.answers import Answer
from app.store.gradebook import Entry

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
#: Options chosen or not are told apart by this little above zero (marks are rounded to 0.01).
EPSILON = 1e-9
HISTOGRAM_BINS = 10  # 0–10 %, 10–20 %, … 90–100 %, as Moodle's "overview" chart

QUESTION_ID, POINTS, CHOSEN = (
    operator.attrgetter(name) for name in ("question_id", "points", "chosen")
)
NOT_ENOUGH_SPREAD = "not enough spread to compute"
NEEDS_TWO = "needs two or more attempts"

#: Each statistic in one line, and the rule of thumb Moodle's documentation gives for it.
EXPLANATIONS: dict[str, tuple[str, str]] = {
    "attempts": ("How many attempts the statistics are computed over.", ""),
    "mean": ("The average total score.", ""),
    "median": ("The middle total score: half the attempts scored less, half more.", ""),
    "sd": (
        "How far total scores spread around the mean.",
        "Roughly 12–18 % lets a test tell students apart.",
    ),
    "skewness": (
        "Whether scores lean to one side: negative when most score high with a tail of low scores.",
        "Between −1 and 1 is usual.",
    ),
    "kurtosis": (
        "How peaked the spread is: positive when most scores crowd around the mean.",
        "Near 0 is a bell-shaped spread.",
    ),
    "alpha": (
        "Coefficient of internal consistency (Cronbach's α): how far the questions measure one"
        " ability.",
        "Above 75 % satisfactory, below 64 % unsatisfactory.",
    ),
    "error_ratio": (
        "The share of the spread in scores that is random noise rather than ability.",
        "Below 50 % satisfactory.",
    ),
    "standard_error": (
        "How much a student's score may move by chance alone.",
        "Two students whose scores differ by less than about 2 SE are hard to tell apart.",
    ),
    "facility": (
        "The average mark as a share of the question's maximum: how easy it was.",
        "35–65 % about right for the average student; below 5 % or above 95 %, check the question.",
    ),
    "question_sd": ("How far marks on this question spread, as a share of its maximum.", ""),
    "random_guess": (
        "The mark a student would get on average by choosing at random.",
        "A facility close to it means students are guessing.",
    ),
    "intended_weight": ("The question's share of the maximum total score.", ""),
    "effective_weight": (
        "The question's share of the spread in total scores.",
        "Far from the intended weight, the question counts more or less than meant; blank when"
        " its marks go against the totals (negative covariance).",
    ),
    "discrimination": (
        "The correlation between marks on this question and on the rest of the test.",
        "50 % and above very good, 30–50 % adequate, 20–29 % weak, below 20 % very weak,"
        " negative: the question probably does not work.",
    ),
    "efficiency": (
        "The discrimination index as a share of the best that marks with this facility allow.",
        "The closer to 100 %, the better the question tells strong from weak students.",
    ),
}

FLAG_NEVER_CHOSEN = "nobody chose it"
FLAG_STRONG_DISTRACTOR = "a wrong option the top third chose more than the bottom third"
FLAG_WEAK_KEY = "a right option the bottom third chose more than the top third"


@dataclass(frozen=True)
class TestStatistics:
    attempts: int
    mean: float | None  # percentages of the maximum score
    median: float | None
    sd: float | None
    skewness: float | None
    kurtosis: float | None
    alpha: float | None  # percent, as Moodle shows the CIC
    error_ratio: float | None
    standard_error: float | None


@dataclass(frozen=True)
class OptionAnalysis:
    text: str  # Markdown source, as in the quiz file
    correct: bool | None  # None: the quiz holds its answers back and its file is gone
    chosen: int
    shown: int
    top_share: float | None  # percent of the top third shown the question that chose it
    bottom_share: float | None
    flags: tuple[str, ...]

    @property
    def share(self) -> float:
        return 100 * self.chosen / self.shown if self.shown else 0.0


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
    test = _test_statistics(scores, totals, mark_variances, same_questions, notes)
    thirds = _thirds(scores)
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


# --- test statistics -----------------------------------------------------------------------------


def _test_statistics(
    scores: list[float],
    totals: list[float],
    mark_variances: list[float],
    same_questions: bool,
    notes: list[str],
) -> TestStatistics:
    n = len(scores)
    mean = math.fsum(scores) / n
    blank = dict.fromkeys(("sd", "skewness", "kurtosis", "alpha", "error_ratio", "standard_error"))
    if n < 2:
        notes.append(f"Standard deviation, skewness, kurtosis and the CIC {NEEDS_TWO}.")
        return TestStatistics(n, mean, _median(scores), **blank)
    moments = _moments(scores, mean)
    k2 = moments[0] * n / (n - 1)
    sd = math.sqrt(k2)
    if k2 <= EPSILON:
        notes.append(f"Every attempt has the same score: {NOT_ENOUGH_SPREAD} the rest.")
        return TestStatistics(n, mean, _median(scores), sd, None, None, None, None, None)
    skewness, kurtosis = _shape(n, moments, k2)
    alpha = _alpha(totals, mark_variances, same_questions, notes)
    error_ratio = 100 * math.sqrt(max(0.0, 1 - alpha / 100)) if alpha is not None else None
    standard_error = error_ratio * sd / 100 if error_ratio is not None else None
    if n < 4:
        notes.append("Skewness needs three attempts and kurtosis four.")
    return TestStatistics(
        n, mean, _median(scores), sd, skewness, kurtosis, alpha, error_ratio, standard_error
    )


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _moments(values: Sequence[float], mean: float) -> tuple[float, float, float]:
    """The second, third and fourth central moments (divided by n), as Moodle sums them."""
    deviations = [v - mean for v in values]
    squares = [d * d for d in deviations]
    n = len(values)
    return (
        math.fsum(squares) / n,
        sum(map(operator.mul, squares, deviations)) / n,
        sum(map(operator.mul, squares, squares)) / n,
    )


def _shape(n: int, moments: tuple[float, float, float], k2: float) -> tuple[float | None, ...]:
    """Moodle's skewness ``k3 / k2^1.5`` (three attempts or more) and kurtosis ``k4 / k2²``
    (four or more), from the k-statistics."""
    m2, m3, m4 = moments
    skewness = kurtosis = None
    if n > 2:
        k3 = n * n * m3 / ((n - 1) * (n - 2))
        skewness = k3 / k2**1.5
    if n > 3:
        k4 = n * n * ((n + 1) * m4 - 3 * (n - 1) * m2 * m2) / ((n - 1) * (n - 2) * (n - 3))
        kurtosis = k4 / (k2 * k2)
    return skewness, kurtosis


def _alpha(
    totals: list[float], mark_variances: list[float], same_questions: bool, notes: list[str]
) -> float | None:
    """Moodle's CIC, in percent, on raw marks (a variance per question)."""
    p = len(mark_variances)
    if not same_questions:
        notes.append(
            "The CIC, error ratio and standard error need every attempt to show the same"
            " questions; this quiz picks them at random."
        )
        return None
    if p < 2:
        notes.append("The CIC, error ratio and standard error need two or more questions.")
        return None
    total_variance = _variance(totals)
    if total_variance <= EPSILON:
        notes.append(f"Totals do not vary: {NOT_ENOUGH_SPREAD} the CIC.")
        return None
    return 100 * p / (p - 1) * (1 - math.fsum(mark_variances) / total_variance)


def _variance(values: Sequence[float]) -> float:
    mean = math.fsum(values) / len(values)
    deviations = [v - mean for v in values]
    return sum(map(operator.mul, deviations, deviations)) / (len(values) - 1)


# --- per question --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Thirds:
    attempts: int  # of the version
    top: frozenset[int]  # attempt indexes
    bottom: frozenset[int]


def _thirds(scores: list[float]) -> _Thirds | None:
    """The top and bottom third of attempts by score (ties in the order attempts were made)."""
    size = len(scores) // 3
    if size == 0:
        return None
    ranked = sorted(range(len(scores)), key=lambda i: scores[i])
    return _Thirds(len(scores), frozenset(ranked[-size:]), frozenset(ranked[:size]))


def _question_statistics(
    columns: dict[str, _Column],
    covariances: dict[str, tuple[_Covariance, float] | None],
    maxima: list[float],
    quiz: Quiz | None,
    thirds: _Thirds | None,
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
    thirds: _Thirds | None


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
    mark_mean, rest_mean = math.fsum(marks) / n, math.fsum(rests) / n
    dm = list(map(operator.sub, marks, repeat(mark_mean, n)))
    dr = list(map(operator.sub, rests, repeat(rest_mean, n)))
    sorted_dm = _ascending(dm)
    sorted_dr = _ascending(dr)
    sums = _Covariance(
        sum(map(operator.mul, dm, dm)) / (n - 1),
        sum(map(operator.mul, dr, dr)) / (n - 1),
        sum(map(operator.mul, dm, dr)) / (n - 1),
        sum(map(operator.mul, sorted_dm, sorted_dr)) / (n - 1),
    )
    with_total = sums.with_rest + sums.mark_variance  # cov(m, rest + m)
    return sums, with_total


def _ascending(values: list[float]) -> list[float]:
    """*values* sorted; by counting when they take few values, as marks do (several times faster
    than comparing 5,000 of them)."""
    counts = Counter(values)
    if len(counts) * 8 > len(values):
        return sorted(values)
    return list(chain.from_iterable(repeat(v, counts[v]) for v in sorted(counts)))


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
    question_id: str, column: _Column, quiz: Quiz | None, thirds: _Thirds | None
) -> tuple[OptionAnalysis, ...]:
    """Every option of the question, by text; from the quiz file of this version when known,
    else every option anyone chose or that results name as right (sorted by text)."""
    question = _question_in(quiz, question_id)
    counts = Counter(chain.from_iterable(column.chosen))
    options: list[tuple[str, bool | None]]
    if question is not None:
        options = [(o.text, o.correct) for o in question.options]
    else:
        known = column.answers_known
        texts = sorted(set(counts) | column.correct)
        options = [(text, (text in column.correct) if known else None) for text in texts]
    groups = _group_counts(column, thirds)
    return tuple(
        _option(text, correct, counts[text], len(column.marks), groups) for text, correct in options
    )


@dataclass(frozen=True)
class _Groups:
    top_shown: int
    bottom_shown: int
    top: Counter[str]
    bottom: Counter[str]


def _group_counts(column: _Column, thirds: _Thirds | None) -> _Groups | None:
    if thirds is None:
        return None
    if len(column.attempts) == thirds.attempts:  # shown to all: positions are attempt indexes
        top = [column.chosen[i] for i in thirds.top]
        bottom = [column.chosen[i] for i in thirds.bottom]
    else:
        shown = list(zip(column.attempts, column.chosen, strict=True))
        top = [chosen for index, chosen in shown if index in thirds.top]
        bottom = [chosen for index, chosen in shown if index in thirds.bottom]
    return _Groups(
        len(top),
        len(bottom),
        Counter(chain.from_iterable(top)),
        Counter(chain.from_iterable(bottom)),
    )


def _option(
    text: str, correct: bool | None, chosen: int, shown: int, groups: _Groups | None
) -> OptionAnalysis:
    top_share = bottom_share = None
    if groups is not None and groups.top_shown and groups.bottom_shown:
        top_share = 100 * groups.top[text] / groups.top_shown
        bottom_share = 100 * groups.bottom[text] / groups.bottom_shown
    flags = []
    if chosen == 0:
        flags.append(FLAG_NEVER_CHOSEN)
    if top_share is not None and bottom_share is not None:
        if correct is False and top_share > bottom_share:
            flags.append(FLAG_STRONG_DISTRACTOR)
        if correct is True and bottom_share > top_share:
            flags.append(FLAG_WEAK_KEY)
    return OptionAnalysis(text, correct, chosen, shown, top_share, bottom_share, tuple(flags))


# --- pictures ------------------------------------------------------------------------------------


def histogram(scores: Iterable[float], bins: int = HISTOGRAM_BINS) -> list[int]:
    """How many scores fall in each of *bins* equal bands of 0–100 % (100 % in the last)."""
    counts = [0] * bins
    for score in scores:
        counts[min(max(int(score * bins // 100), 0), bins - 1)] += 1
    return counts
