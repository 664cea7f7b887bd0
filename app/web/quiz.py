"""The student's side: quiz list, taking a quiz, results.

URLs: ``/`` (the list), ``/quiz/<id>`` (a new attempt on one page), ``POST /quiz/<id>/submit``
(grades and shows the results), ``/quiz/<id>/results?token=…`` (the same results again, e.g. after
"Email my results").
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping

from flask import Blueprint, abort, current_app, render_template, request
from jinja2 import Environment
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from app.quiz import (
    Attempt,
    Question,
    QuestionResult,
    Quiz,
    Result,
    format_duration,
    grade,
    new_attempt,
    render_markdown,
)
from app.web import submissions
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
# Joined questions: per question, its option orders (24 for four options) times, on the results
# page, the choices students make; a few quizzes' worth before the cache starts over.
JOINED_CACHE_SIZE = 20_000
ANSWER_FIELD = "answer-{}"  # one form field per question id; values are option ids
ATTEMPT_SEED_BITS = 128


def get_quiz_or_404(quiz_id: str) -> Quiz:
    quiz = current_catalog().get(quiz_id)
    if quiz is None:
        abort(404, description=f"There is no quiz called {quiz_id!r}. Pick one from the list.")
    return quiz


@bp.get("/")
def index() -> str:
    quizzes = sorted(current_catalog().quizzes().values(), key=lambda quiz: quiz.title)
    return render_template("quiz/index.html", quizzes=quizzes)


@bp.get("/quiz/<quiz_id>")
def take(quiz_id: str) -> str:
    quiz = get_quiz_or_404(quiz_id)
    # Orders need no secrecy (the token is signed), so one urandom read seeds a fast generator.
    rng = random.Random(secrets.randbits(ATTEMPT_SEED_BITS))
    attempt = new_attempt(quiz, rng, submissions.utcnow())
    return render_template(
        "quiz/take.html",
        quiz=quiz,
        attempt=attempt,
        attempt_token=submissions.sign_attempt(quiz, attempt),
        heading=page_fragments().heading(quiz),
        fieldsets=page_fragments().questions(quiz, attempt),
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

    def piece(self, key: tuple[object, ...], template: str, macro: str, *args: object) -> str:
        def render() -> str:
            return str(getattr(self._env.get_template(template).module, macro)(*args))

        return self._cache.get(key, render)

    def heading(self, quiz: Quiz) -> Markup:
        """Title, description and facts: the same for every attempt."""
        html = self.piece((quiz.id, quiz.version, "heading"), TAKE, "heading", quiz)
        return Markup(html)  # rendered by autoescaping Jinja

    def questions(self, quiz: Quiz, attempt: Attempt) -> Markup:
        """Every question shown, with its options, in the order of the attempt."""
        count = len(attempt.question_ids)
        pairs = zip(attempt.question_ids, attempt.option_ids, strict=True)
        parts: list[str] = []
        for number, (qid, option_ids) in enumerate(pairs, start=1):
            question, key = quiz.question(qid), (quiz.id, quiz.version, qid)
            parts.append(
                self.piece((*key, number, count), TAKE, "fieldset_start", question, number, count)
            )
            parts.append(self._question_body(key, question, option_ids))
        return Markup("\n".join(parts))  # every part was rendered by autoescaping Jinja

    def _question_body(
        self, key: tuple[str, ...], question: Question, option_ids: tuple[str, ...]
    ) -> str:
        """Text and options in one order: one look-up per question once every order was seen."""

        def pieces() -> list[str]:
            options = [
                self.piece((*key, oid), TAKE, "option_item", question, question.option(oid))
                for oid in option_ids
            ]
            text = self.piece((*key, "text"), TAKE, "question_text", question)
            return [text, *options, self.piece(("fieldset_end",), TAKE, "fieldset_end")]

        return self._joined.get((*key, option_ids), lambda: "\n".join(pieces()))

    def reviews(self, result: Result) -> Markup:
        """Each question as shown, with the student's answer, the correct one and the notes."""
        parts: list[str] = []
        quiz = result.quiz
        pairs = zip(result.questions, result.attempt.option_ids, strict=True)
        for number, (answer, option_ids) in enumerate(pairs, start=1):
            key = ("review", quiz.id, quiz.version, answer.question.id)
            parts.append(
                self.piece((*key, number, answer.points), REVIEW, "review_head", answer, number)
            )
            parts.append(self._review_body(key, answer, option_ids))
        return Markup("\n".join(parts))  # every part was rendered by autoescaping Jinja

    def _review_body(
        self, key: tuple[str, ...], answer: QuestionResult, option_ids: tuple[str, ...]
    ) -> str:
        """Text, options marked and notes: one look-up per question for a seen order and choice."""
        question, chosen = answer.question, answer.chosen

        def pieces() -> list[str]:
            options = [
                self.piece((*key, o.id, o.id in chosen), REVIEW, "review_option", o, o.id in chosen)
                for o in answer.options_shown
            ]
            text = self.piece((*key, "text"), REVIEW, "review_text", question)
            end = self.piece((*key, bool(chosen)), REVIEW, "review_end", question, bool(chosen))
            return [text, *options, end]

        return self._joined.get((*key, option_ids, chosen), lambda: "\n".join(pieces()))


@bp.post("/quiz/<quiz_id>/submit")
def submit(quiz_id: str) -> str:
    get_quiz_or_404(quiz_id)
    attempt_token = request.form.get("attempt", "")
    quiz, attempt = submissions.load_attempt(attempt_token)
    if quiz.id != quiz_id:
        raise SubmissionRefused("This submission is not valid", "It belongs to another quiz.")
    submitted_at = submissions.utcnow()
    submissions.check_deadline(quiz, attempt, submitted_at)
    answers = answers_from_form(attempt, request.form)
    token = submissions.sign_submission(quiz, attempt, answers, submitted_at, attempt_token)
    return show_results(grade(quiz, attempt, answers, submitted_at), token)


def answers_from_form(attempt: Attempt, form: MultiDict[str, str]) -> dict[str, list[str]]:
    return {qid: form.getlist(ANSWER_FIELD.format(qid)) for qid in attempt.question_ids}


@bp.get("/quiz/<quiz_id>/results")
def results(quiz_id: str) -> str:
    get_quiz_or_404(quiz_id)
    submission = submissions.load_submission(request.args.get("token", ""))
    if submission.quiz.id != quiz_id:
        abort(404)
    return show_results(submission.result, request.args["token"])


def show_results(
    result: Result, token: str, *, email_form: Mapping[str, object] | None = None
) -> str:
    reviews = page_fragments().reviews(result)
    return render_template(
        "quiz/results.html",
        result=result,
        quiz=result.quiz,
        token=token,
        reviews=reviews,
        email_form=email_form,
    )
