"""The student's side: quiz list, taking a quiz, results.

URLs: ``/`` (the list), ``/quiz/<id>`` (a new attempt on one page), ``POST /quiz/<id>/submit``
(grades and shows the results), ``/quiz/<id>/results?token=…`` (the same results again, e.g. after
"Email my results").
"""

from __future__ import annotations

import random

from flask import Blueprint, abort, render_template, request
from werkzeug.datastructures import MultiDict

from app.quiz import Attempt, Option, Question, Quiz, Result, grade, new_attempt, render_markdown
from app.web import submissions
from app.web.submissions import SubmissionRefused, current_catalog

bp = Blueprint("quiz", __name__)
bp.add_app_template_filter(render_markdown, "markdown")

ANSWER_FIELD = "answer-{}"  # one form field per question id; values are option ids
_system_random = random.SystemRandom()


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
    attempt = new_attempt(quiz, _system_random, submissions.utcnow())
    return render_template(
        "quiz/take.html",
        quiz=quiz,
        attempt=attempt,
        attempt_token=submissions.sign_attempt(quiz, attempt),
        questions=shown_questions(quiz, attempt),
        deadline=attempt.deadline(quiz),
    )


def shown_questions(quiz: Quiz, attempt: Attempt) -> list[tuple[Question, list[Option]]]:
    """Each question shown with its options, both in the order of the attempt."""
    pairs = zip(attempt.question_ids, attempt.option_ids, strict=True)
    return [
        (question := quiz.question(qid), [question.option(oid) for oid in option_ids])
        for qid, option_ids in pairs
    ]


@bp.post("/quiz/<quiz_id>/submit")
def submit(quiz_id: str) -> str:
    get_quiz_or_404(quiz_id)
    quiz, attempt = submissions.load_attempt(request.form.get("attempt", ""))
    if quiz.id != quiz_id:
        raise SubmissionRefused("This submission is not valid", "It belongs to another quiz.")
    submitted_at = submissions.utcnow()
    submissions.check_deadline(quiz, attempt, submitted_at)
    answers = answers_from_form(attempt, request.form)
    token = submissions.sign_submission(quiz, attempt, answers, submitted_at)
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


def show_results(result: Result, token: str) -> str:
    return render_template("quiz/results.html", result=result, quiz=result.quiz, token=token)
