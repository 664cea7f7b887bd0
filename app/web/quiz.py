"""The student's side: quiz list, taking a quiz, results.

URLs: ``/`` (the list), ``/quiz/<id>`` (a new attempt on one page), ``POST /quiz/<id>/submit``
(first a summary of what is unanswered, then, with ``confirm``, grades and shows the results),
``POST /quiz/<id>/resume`` (back from the summary to the questions, answers kept),
``POST /quiz/<id>/save`` (the page saving its answers as the student works),
``/quiz/<id>?attempt=…`` (the page of one attempt, where ``/quiz/<id>`` leads; again on Back),
``/quiz/<id>/results?token=…`` (the same results again, e.g. after "Email my results").

An attempt is graded once (:mod:`app.ledger`): a second submission of it shows the first result.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from jinja2 import Environment
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import Forbidden

from app.ledger import AttemptLedger
from app.quiz import (
    Attempt,
    Question,
    QuestionResult,
    Quiz,
    Result,
    format_duration,
    grade,
    render_markdown,
)
from app.quiz.attempts import late_grading
from app.web import submissions
from app.web.extensions import per_app
from app.web.submissions import BoundedCache, SubmissionRefused, current_catalog

bp = Blueprint("quiz", __name__)
bp.add_app_template_filter(render_markdown, "markdown")
bp.add_app_template_filter(format_duration, "duration")


@bp.app_template_filter("points")
def format_points(value: float) -> str:
    """Points as people write them: 2, 0.5, 0.67."""
    return f"{round(value, 2):g}"


FRAGMENTS_KEY = "quizmail.fragments"
TAKE, REVIEW = "quiz/_question.html", "quiz/_review.html"
FRAGMENT_CACHE_SIZE = 10_000  # texts and options (two review variants each) of many quizzes
# Joined questions (per question, its option orders: 24 for four options) and, on the results
# page, the choices students make; a few quizzes' worth before the cache starts over.
JOINED_CACHE_SIZE = 20_000
ANSWER_FIELD = "answer-{}"  # one form field per question id; values are the attempt's option keys
LEDGER_KEY = "quizmail.ledger"

#: What the results page says when it shows something other than a fresh grade of the form.
ALREADY_SUBMITTED = (
    "This attempt was already submitted, so these are the results it got then; answers changed"
    " afterwards are not counted. To try again, start a new attempt."
)


def get_quiz_or_404(quiz_id: str) -> Quiz:
    quiz = current_catalog().get(quiz_id)
    if quiz is None:
        abort(404, description=f"There is no quiz called {quiz_id!r}. Pick one from the list.")
    return quiz


@bp.get("/")
def index() -> str:
    quizzes = sorted(current_catalog().quizzes().values(), key=lambda quiz: quiz.title)
    return render_template("quiz/index.html", quizzes=quizzes, now=submissions.utcnow())


@bp.get("/quiz/<quiz_id>")
def take(quiz_id: str) -> ResponseReturnValue:
    """A new attempt, then (303) its own address ``?attempt=<token>``: the page of that attempt,
    its saved answers ticked.

    Opening a quiz creates an attempt, so the page that shows one must have an address of its
    own: Back, a reload or a browser that fetches the page again shows the attempt it left (and,
    once graded, submitting it shows the first result), never a new one with the old ticks
    restored onto other options. Without JavaScript as with it.
    """
    if "attempt" in request.args:
        return reopen(quiz_id, request.args["attempt"])
    quiz = get_quiz_or_404(quiz_id)
    now = submissions.utcnow()
    if quiz.is_closed(now):
        assert quiz.closes is not None
        raise QuizClosed(quiz.closes)
    _, token = submissions.start_attempt(quiz, now)
    return redirect(url_for(".take", quiz_id=quiz.id, attempt=token), code=303)


class QuizClosed(Forbidden):
    """A 403 whose page says when the quiz closed."""

    def __init__(self, closed_at: datetime) -> None:
        super().__init__(
            f"This quiz closed at {closed_at:%Y-%m-%d %H:%M} UTC, so no new attempts can begin."
            " Links to results already given keep working."
        )

    @property
    def name(self) -> str:  # type: ignore[override]
        return "This quiz is closed"


def show_questions(
    quiz: Quiz, attempt: Attempt, token: str, answers: Mapping[str, Collection[str]]
) -> str:
    """The quiz page of *attempt*, with *answers* (question id → option ids) already ticked."""
    return render_template(
        "quiz/take.html",
        quiz=quiz,
        attempt=attempt,
        attempt_token=token,
        heading=page_fragments().heading(quiz),
        fieldsets=page_fragments().questions(quiz, attempt, answers),
        count=len(attempt.question_ids),
        deadline=attempt.deadline(quiz),
    )


def page_fragments() -> PageFragments:
    fragments: PageFragments = current_app.extensions.setdefault(
        FRAGMENTS_KEY, PageFragments(current_app.jinja_env)
    )
    return fragments


class PageFragments:
    """The take and results pages' pieces, each rendered once per app and quiz version.

    Rendering was most of a page's cost (bench/web.py); with the pieces cached, a page is a few
    dict look-ups and one join. Keys carry the quiz version: an edited quiz is never shown stale.
    A question's pieces in one order (and, on the results page, with one set of choices) are
    joined once and kept apart from the pieces, so that their churn never evicts a render.
    """

    def __init__(self, env: Environment) -> None:
        self._env = env
        self._cache: BoundedCache[tuple[object, ...], str] = BoundedCache(FRAGMENT_CACHE_SIZE)
        self._joined: BoundedCache[tuple[object, ...], str] = BoundedCache(JOINED_CACHE_SIZE)
        self._parts: BoundedCache[tuple[object, ...], tuple[str, str, tuple[str, ...], str]] = (
            BoundedCache(JOINED_CACHE_SIZE)
        )

    def piece(self, key: tuple[object, ...], template: str, macro: str, *args: object) -> str:
        def render() -> str:
            return str(getattr(self._env.get_template(template).module, macro)(*args))

        return self._cache.get(key, render)

    def heading(self, quiz: Quiz) -> Markup:
        """Title, description and facts: the same for every attempt."""
        html = self.piece((quiz.id, quiz.version, "heading"), TAKE, "heading", quiz)
        return Markup(html)  # rendered by autoescaping Jinja

    def questions(
        self, quiz: Quiz, attempt: Attempt, answers: Mapping[str, Collection[str]]
    ) -> Markup:
        """Every question shown, in the order of the attempt, its options valued by the
        attempt's keys; the options in *answers* ticked."""
        count = len(attempt.question_ids)
        shown = zip(
            attempt.question_ids, attempt.option_ids, submissions.option_keys(attempt), strict=True
        )
        parts: list[str] = []
        for number, (qid, option_ids, keys) in enumerate(shown, start=1):
            head, start, ends, tail = self._question_parts(quiz, qid, number, count, option_ids)
            chosen = answers.get(qid, ())
            parts.append(head)
            for oid, value, end in zip(option_ids, keys, ends, strict=True):
                ticked = '" checked' if oid in chosen else '"'
                parts.append(f"{start}{value}{ticked}{end}")
            parts.append(tail)
        return Markup("\n".join(parts))  # every part was rendered by autoescaping Jinja

    def _question_parts(
        self, quiz: Quiz, qid: str, number: int, count: int, option_ids: tuple[str, ...]
    ) -> tuple[str, str, tuple[str, ...], str]:
        """A question's pieces around its option values, in one order: one look-up per question
        once every order was seen."""
        key = (quiz.id, quiz.version, qid)
        question = quiz.question(qid)

        def parts() -> tuple[str, str, tuple[str, ...], str]:
            start = self.piece(
                (*key, number, count), TAKE, "fieldset_start", question, number, count
            )
            text = self.piece((*key, "text"), TAKE, "question_text", quiz, question)
            ends = tuple(
                self.piece((*key, oid), TAKE, "option_end", question.option(oid))
                for oid in option_ids
            )
            option = self.piece((*key, "input"), TAKE, "option_start", question)
            return (
                f"{start}\n{text}",
                option,
                ends,
                self.piece(("fieldset_end",), TAKE, "fieldset_end"),
            )

        return self._parts.get((*key, number, count, option_ids), parts)

    def reviews(self, result: Result, *, show_answers: bool) -> Markup:
        """Each question as shown, with the student's answer and, if *show_answers*, the marks,
        the correct answer and the notes."""
        parts: list[str] = []
        quiz = result.quiz
        pairs = zip(result.questions, result.attempt.option_ids, strict=True)
        for number, (answer, option_ids) in enumerate(pairs, start=1):
            key = ("review", quiz.id, quiz.version, answer.question.id)
            if not show_answers:
                only = (*key, "answers only", number, option_ids, answer.chosen)
                parts.append(self.piece(only, REVIEW, "answers_only", answer, number))
                continue
            head = (*key, number, answer.points, answer.outcome)
            parts.append(self.piece(head, REVIEW, "review_head", answer, number))
            parts.append(self._review_body(quiz, key, answer, option_ids))
        return Markup("\n".join(parts))  # every part was rendered by autoescaping Jinja

    def _review_body(
        self,
        quiz: Quiz,
        key: tuple[str, ...],
        answer: QuestionResult,
        option_ids: tuple[str, ...],
    ) -> str:
        """Text, options marked and notes: one look-up per question for a seen order and choice."""
        question, chosen = answer.question, answer.chosen

        def pieces() -> list[str]:
            options = [
                self.piece((*key, o.id, o.id in chosen), REVIEW, "review_option", o, o.id in chosen)
                for o in answer.options_shown
            ]
            text = self.piece((*key, "text"), REVIEW, "review_text", quiz, question)
            end = self.piece((*key, bool(chosen)), REVIEW, "review_end", question, bool(chosen))
            return [text, *options, end]

        return self._joined.get((*key, option_ids, chosen), lambda: "\n".join(pieces()))


@bp.post("/quiz/<quiz_id>/submit")
def submit(quiz_id: str) -> str:
    """The summary step first (unless time is up), then, with ``confirm``, the one grading."""
    quiz, attempt, token = attempt_from_form(quiz_id)
    if (first := first_result_page(attempt)) is not None:
        return first
    now = submissions.utcnow()
    answers = answers_from_form(attempt, request.form)
    if submissions.is_late(quiz, attempt, now):
        return grade_saved_answers(quiz, attempt, token)
    if not request.form.get("confirm"):
        save_answers(attempt, answers)
        return show_summary(quiz, attempt, token, answers)
    return record_and_show(quiz, attempt, token, answers, now)


@bp.post("/quiz/<quiz_id>/resume")
def resume(quiz_id: str) -> str:
    """Back from the summary: the same attempt, the answers as they were."""
    quiz, attempt, token = attempt_from_form(quiz_id)
    if (first := first_result_page(attempt)) is not None:
        return first
    return show_questions(quiz, attempt, token, answers_from_form(attempt, request.form))


@bp.post("/quiz/<quiz_id>/save")
def save(quiz_id: str) -> ResponseReturnValue:
    """The page's answers as they stand, kept against a lost page or a late submission."""
    quiz, attempt, _ = attempt_from_form(quiz_id)
    now = submissions.utcnow()
    if submissions.is_late(quiz, attempt, now):
        return jsonify(saved=False, reason="late"), 409
    if not save_answers(attempt, answers_from_form(attempt, request.form)):
        return jsonify(saved=False, reason="submitted"), 409
    return jsonify(saved=True, at=now.isoformat())


def reopen(quiz_id: str, token: str) -> str:
    """An attempt's page again, as last saved; submitting a graded one shows its first result."""
    quiz, attempt, token = attempt_from_form(quiz_id, token)
    saved = ledger().saved_answers(attempt.id)
    answers = submissions.decode_answers(attempt, saved.answers) if saved else {}
    return show_questions(quiz, attempt, token, answers)


def attempt_from_form(quiz_id: str, token: str | None = None) -> tuple[Quiz, Attempt, str]:
    """The attempt named by the form's token (or *token*), if it is one of *quiz_id*'s."""
    token = request.form.get("attempt", "") if token is None else token
    quiz, attempt = submissions.load_attempt(token)
    if quiz.id != quiz_id:
        raise SubmissionRefused("This submission is not valid", "It belongs to another quiz.")
    return quiz, attempt, token


def save_answers(attempt: Attempt, answers: Mapping[str, Collection[str]]) -> bool:
    code = submissions.encode_answers(attempt, answers)
    return ledger().save_answers(attempt.id, code, submissions.attempt_expiry(attempt))


def grade_saved_answers(quiz: Quiz, attempt: Attempt, token: str) -> str:
    """A late submission: what was saved in time is graded, as of when it was saved."""
    saved = ledger().saved_answers(attempt.id)
    late = late_grading(
        quiz, attempt, saved.answers if saved else None, saved.saved_at if saved else None
    )
    return record_and_show(quiz, attempt, token, late.answers, late.graded_at, note=late.note)


def record_and_show(
    quiz: Quiz,
    attempt: Attempt,
    token: str,
    answers: Mapping[str, Collection[str]],
    submitted_at: datetime,
    *,
    note: str | None = None,
) -> str:
    """Grade once: the first submission recorded for the attempt is the one shown, always."""
    result_token = submissions.sign_submission(quiz, attempt, answers, submitted_at, token)
    expires = submissions.attempt_expiry(attempt)
    standing = ledger().record_submission(attempt.id, result_token, expires)
    if standing != result_token:  # another request of the same attempt was first
        return show_first_result(standing)
    return show_results(grade(quiz, attempt, answers, submitted_at), result_token, note=note)


def first_result_page(attempt: Attempt) -> str | None:
    """The page of the attempt's first result once it was graded, else ``None``."""
    graded = ledger().graded(attempt.id)
    return None if graded is None else show_first_result(graded)


def show_first_result(result_token: str) -> str:
    """The results of an attempt's first submission, saying that a later one changed nothing."""
    submission = submissions.load_submission(result_token)
    return show_results(submission.result, result_token, note=ALREADY_SUBMITTED)


def show_summary(
    quiz: Quiz, attempt: Attempt, token: str, answers: Mapping[str, Collection[str]]
) -> str:
    """ "Submit your answers?": what is unanswered, and the answers carried in hidden fields."""
    keys = submissions.option_keys(attempt)
    shown = zip(attempt.question_ids, attempt.option_ids, keys, strict=True)
    hidden: list[tuple[str, str]] = []
    unanswered: list[tuple[int, Question]] = []
    for number, (qid, option_ids, option_keys) in enumerate(shown, start=1):
        chosen = answers.get(qid, ())
        field = ANSWER_FIELD.format(qid)
        pairs = zip(option_ids, option_keys, strict=True)
        hidden += [(field, key) for oid, key in pairs if oid in chosen]
        if not chosen:
            unanswered.append((number, quiz.question(qid)))
    return render_template(
        "quiz/summary.html",
        quiz=quiz,
        attempt_token=token,
        hidden=hidden,
        unanswered=unanswered,
        count=len(attempt.question_ids),
        deadline=attempt.deadline(quiz),
    )


def answers_from_form(attempt: Attempt, form: MultiDict[str, str]) -> dict[str, list[str]]:
    return submissions.answers_from_keys(
        attempt, lambda qid: form.getlist(ANSWER_FIELD.format(qid))
    )


def ledger() -> AttemptLedger:
    """The app's attempt ledger, one SQLite file in ``VAR_DIR`` shared by every worker."""
    path = Path(current_app.config["VAR_DIR"]) / "attempts.sqlite3"
    return per_app(LEDGER_KEY, lambda: AttemptLedger(path))


@bp.get("/quiz/<quiz_id>/results")
def results(quiz_id: str) -> str:
    """Readable for as long as the token lives, even once the quiz was edited or removed."""
    submission = submissions.load_submission(request.args.get("token", ""))
    if submission.quiz.id != quiz_id:
        abort(404)
    return show_results(submission.result, request.args["token"])


def show_results(
    result: Result,
    token: str,
    *,
    note: str | None = None,
    email_form: Mapping[str, object] | None = None,
) -> str:
    """The results page; *note* says why it is not a fresh grade, *email_form* keeps what the
    "Email my results" form was given and what was wrong with it."""
    show_answers = result.quiz.shows_answers(submissions.utcnow())
    return render_template(
        "quiz/results.html",
        result=result,
        quiz=result.quiz,
        token=token,
        reviews=page_fragments().reviews(result, show_answers=show_answers),
        show_answers=show_answers,
        note=note,
        email_form=email_form,
    )
