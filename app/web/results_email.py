"""Email my results: the form's POST, and the page that says what became of the message.

URLs: ``POST /results/email`` (fields ``token``, ``email``, ``name``; CSRF-protected) answers
``303 See Other`` to ``GET /results/email/<delivery_id>``, the status page. Reloading the status
page only reads the outbox record, so it never sends again (POST-redirect-GET); its twin
``GET /results/email/<delivery_id>.json`` is what the page's script polls while the message waits.

An address or name that cannot be used, or an address whose domain looks mistyped
(:mod:`app.address_typos`), shows the results page again with the form as typed and the problem
(or a "Did you mean …?") beside the field; nothing is sent. The student may still send to a
mistyped-looking address: the form then carries ``confirm_typo``, the address confirmed.

Only the address and the name come from the form. The result is re-derived from the submission
token the server signed, so nobody can mail a score the server did not compute, and the subject and
body come from our templates. The checks, the limits and the words of the outcome are not the
web's own: every front end shares them (:mod:`app.results_mail`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.address_typos import suggest_address
from app.explain import explain as explain_dialogue
from app.notify import Notifier, explain
from app.outbox import OutboxRecord
from app.quiz import Result
from app.ratelimit import RateLimiter
from app.report import Student
from app.results_mail import (
    HEADINGS,
    NEXT_STEPS,
    Fact,
    FormProblem,
    email_or_give_back,
    facts,
    rate_limiter_for,
    student_from_form,
    summary,
    take_a_send,
)
from app.web import quiz, submissions
from app.web.extensions import per_app

bp = Blueprint("results_email", __name__)

NOTIFIER_KEY = "quizmail.notifier"
LIMITER_KEY = "quizmail.ratelimit"


@bp.post("/results/email")
def send() -> ResponseReturnValue:
    token = request.form.get("token", "")
    submission = submissions.load_submission(token)
    try:
        student = student_from_form(request.form)
    except FormProblem as problem:
        return _form_again(submission.result, token, problem=problem), 400
    suggestion = _typo_suggestion(student.email)
    if suggestion is not None:
        return _form_again(submission.result, token, suggestion=suggestion, checked=student.email)
    refusal = _take_a_send(submission.attempt.id)
    if refusal is not None:
        return refusal
    record = _email_or_give_back(submission, student, token)
    return redirect(url_for(".status", delivery_id=record.id), code=303)


def _email_or_give_back(
    submission: submissions.Submission, student: Student, token: str
) -> OutboxRecord:
    """Email the results; a send the relay refused (or that failed here) is given back to the
    attempt's allowance, so the student may try another address."""
    results_url = url_for("quiz.results", quiz_id=submission.quiz.id, token=token)
    return email_or_give_back(
        notifier(), rate_limiter(), submission.result, student, info={"results": results_url}
    )


@bp.get("/results/email/<delivery_id>")
def status(delivery_id: str) -> str:
    """``?dialogue=explained`` shows the SMTP dialogue annotated, ``?dialogue=bare`` as sent."""
    outcome = describe(_record_or_404(delivery_id))
    view = request.args.get("dialogue")
    steps = explain_dialogue(outcome.transcript) if view == "explained" else None
    return render_template("quiz/email_sent.html", outcome=outcome, dialogue_view=view, steps=steps)


@bp.get("/results/email/<delivery_id>.json")
def status_json(delivery_id: str) -> ResponseReturnValue:
    """The status page's content as JSON, for its script to poll while the message waits."""
    outcome = describe(_record_or_404(delivery_id))
    return outcome.as_json(), 200, {"Cache-Control": "no-store"}


def _record_or_404(delivery_id: str) -> OutboxRecord:
    record = notifier().outbox.lookup(delivery_id)
    if record is None:
        abort(404, description="There is no email with this link. It may have been sent long ago.")
    return record


def _form_again(
    result: Result,
    token: str,
    *,
    problem: FormProblem | None = None,
    suggestion: str | None = None,
    checked: str | None = None,
) -> str:
    """The results page again, its form filled in as sent, with the problem or the suggestion."""
    email_form = {
        "address": request.form.get("email", "").strip(),
        "name": request.form.get("name", ""),
        "error": str(problem) if problem else None,
        "field": problem.field if problem else None,
        "suggestion": suggestion,
        "checked": checked,  # the address as understood, which "send as typed" confirms
    }
    return quiz.show_results(result, token, email_form=email_form)


def _typo_suggestion(address: str) -> str | None:
    """The address probably meant, unless the student has confirmed this one as typed."""
    if request.form.get("confirm_typo") == address:
        return None
    return suggest_address(address)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one results email, as the status page and its JSON twin tell it: for the
    student first (heading, summary, the next step), then the technical facts."""

    id: str  # the delivery's, as in its status page's address
    state: str
    heading: str
    summary: str
    next_step: str
    next_url: str | None  # the next step is a link when there is somewhere to go
    results_url: str | None
    facts: list[Fact]
    explanation: str | None  # what the server's reply means, when the summary did not say it
    transcript: list[str]

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # a Fact becomes a JSON array: [term, value, code]


def describe(record: OutboxRecord) -> Outcome:
    """*record* as the student is told it; see :class:`Outcome`."""
    explanation = explain(record)
    next_urls = {"queued": url_for(".status", delivery_id=record.id), "failed": _retry_url(record)}
    return Outcome(
        id=record.id,
        state=record.state,
        heading=HEADINGS[record.state],
        summary=summary(record),
        next_step=NEXT_STEPS[record.state],
        next_url=next_urls.get(record.state),
        results_url=record.info.get("results"),
        facts=facts(record),
        explanation=explanation if record.state != "failed" else None,
        transcript=list(record.transcript),
    )


def _retry_url(record: OutboxRecord) -> str:
    """The results page's email form, where another address can be tried."""
    results = record.info.get("results")
    return f"{results}#email-results-title" if results else url_for("quiz.index")


def _take_a_send(attempt_id: str) -> ResponseReturnValue | None:
    """Take one send from this client's and this attempt's allowance (:func:`take_a_send`); a
    429 page if either has none left, else ``None``."""
    client = request.remote_addr or "unknown"
    refused = take_a_send(rate_limiter(), current_app.config, client, attempt_id)
    if refused is None:
        return None
    return _refusal(429, refused.title, refused.message, retry_after=refused.wait)


def _refusal(
    code: int, title: str, message: str, *, retry_after: float | None = None
) -> ResponseReturnValue:
    headers = {"Retry-After": str(int(retry_after) + 1)} if retry_after is not None else {}
    page = render_template("error.html", code=code, title=title, message=message)
    return page, code, headers


def notifier() -> Notifier:
    """The app's notifier. A web request waits ``SMTP_TIMEOUT`` at most for each reply of the
    relay before the message is left to the deliverer (the reply to the final dot excepted)."""
    return per_app(NOTIFIER_KEY, lambda: Notifier.from_config(current_app.config))


def rate_limiter() -> RateLimiter:
    """The app's rate limiter, one SQLite file in ``VAR_DIR`` shared by every worker."""
    return per_app(LIMITER_KEY, lambda: rate_limiter_for(current_app.config["VAR_DIR"]))
