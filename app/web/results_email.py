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
body come from our templates.
"""

from __future__ import annotations

import dataclasses
import time
import unicodedata
from pathlib import Path
from typing import Any, Literal, NamedTuple

from email_validator import EmailNotValidError, validate_email
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from app.address_typos import suggest_address
from app.explain import explain as explain_dialogue
from app.notify import Notifier, explain
from app.outbox import OutboxRecord
from app.quiz import Result
from app.ratelimit import Limit, RateLimiter
from app.report import Student
from app.web import quiz, submissions
from app.web.extensions import per_app

bp = Blueprint("results_email", __name__)

#: A display name, not an essay: keeps the To: header within a folded line or two.
MAX_NAME_LENGTH = 100
#: Per attempt, the limit holds as long as the results can be emailed at all.
ATTEMPT_WINDOW_SECONDS = submissions.RESULT_MAX_AGE.total_seconds()
CLIENT_WINDOW_SECONDS = 3600.0
#: Unicode categories refused in the address and the name: controls (CR, LF, NUL, TAB …) and the
#: line and paragraph separators, which some software also treats as line breaks.
REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
#: Bidirectional overrides and isolates (Unicode TR9), which can make a name display as something
#: else; other format characters (such as the zero-width non-joiner of Persian names) are fine.
REFUSED_FORMAT_CHARACTERS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
NOTIFIER_KEY = "quizmail.notifier"
LIMITER_KEY = "quizmail.ratelimit"


Field = Literal["email", "name"]


class FormProblem(ValueError):
    """What is wrong with the form, in words for the student, and which field it concerns."""

    def __init__(self, message: str, *, field: Field = "email") -> None:
        super().__init__(message)
        self.field = field


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
    counted = False
    try:
        record = notifier().email_results(submission.result, student, info={"results": results_url})
        counted = record.state != "failed"  # sent, or queued: the relay will have it
    finally:
        if not counted:
            rate_limiter().take_back(_attempt_key(submission.attempt.id))
    return record


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


HEADINGS = {
    "sent": "Your results were handed to the mail server",
    "queued": "Your results are waiting to be sent",
    "failed": "The mail server refused your results",
}
SENT_SUMMARY = (
    "The mail server accepted the message for {to} and now delivers it; it usually arrives"
    " within a few minutes."
)
QUEUED_SUMMARY = (
    "The mail server cannot take the message just now. QuizMail has saved it and keeps"
    " trying, so nothing is lost if you close this page."
)
NEXT_STEPS = {
    "sent": "If it does not arrive, look in your spam folder.",
    "queued": "Check again",
    "failed": "Go back to your results to try another address",
}


class Fact(NamedTuple):
    """One line of the technical details; *code* when it is protocol text, shown as such."""

    term: str
    value: str
    code: bool = False


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
    to = ", ".join(record.recipients)
    summaries = {"sent": SENT_SUMMARY.format(to=to), "queued": QUEUED_SUMMARY}
    next_urls = {"queued": url_for(".status", delivery_id=record.id), "failed": _retry_url(record)}
    return Outcome(
        id=record.id,
        state=record.state,
        heading=HEADINGS[record.state],
        summary=summaries.get(record.state, explanation),
        next_step=NEXT_STEPS[record.state],
        next_url=next_urls.get(record.state),
        results_url=record.info.get("results"),
        facts=_facts(record, to),
        explanation=explanation if record.state != "failed" else None,
        transcript=list(record.transcript),
    )


def _facts(record: OutboxRecord, to: str) -> list[Fact]:
    facts = [
        Fact("To", to),
        Fact("Subject", record.info.get("subject", "")),
        Fact("Message-ID", record.info.get("message_id", ""), code=True),
    ]
    if record.state != "queued":
        return [*facts, Fact("Server's reply", record.reply or record.last_error or "", code=True)]
    due_now = record.next_try <= time.time()
    next_try = "now" if due_now else time.strftime("%H:%M:%S UTC", time.gmtime(record.next_try))
    return [
        *facts,
        Fact("Last problem", record.last_error or "none yet", code=record.last_error is not None),
        Fact("Attempts", str(record.attempts)),
        Fact("Next try", next_try),
    ]


def _retry_url(record: OutboxRecord) -> str:
    """The results page's email form, where another address can be tried."""
    results = record.info.get("results")
    return f"{results}#email-results-title" if results else url_for("quiz.index")


def student_from_form(form: MultiDict[str, str]) -> Student:
    """The checked address (ASCII, normalised) and optional name, or :class:`FormProblem`."""
    raw_email, raw_name = form.get("email", ""), form.get("name", "")
    _refuse_controls("The email address", raw_email, "email")
    _refuse_controls("The name", raw_name, "name")
    name = " ".join(raw_name.split()) or None
    if name is not None and len(name) > MAX_NAME_LENGTH:
        raise FormProblem(
            f"The name is longer than {MAX_NAME_LENGTH} characters. Shorten it.", field="name"
        )
    return Student(email=_checked_address(raw_email.strip()), name=name)


def _refuse_controls(what: str, value: str, field: Field) -> None:
    if any(unicodedata.category(char) in REFUSED_CATEGORIES for char in value):
        message = f"{what} contains a line break or another control character. Type it again."
        raise FormProblem(message, field=field)
    if not REFUSED_FORMAT_CHARACTERS.isdisjoint(value):
        message = f"{what} contains a character that reverses the direction of text."
        raise FormProblem(f"{message} Type it again.", field=field)


def _checked_address(address: str) -> str:
    if not address:
        raise FormProblem("Please enter an email address.")
    try:
        # SMTPUTF8 is off: a non-ASCII *local part* would need SMTPUTF8 from every relay on the
        # way. A non-ASCII domain is fine: it is sent in its ASCII (IDNA) form.
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise FormProblem(f"“{address}” is not a usable email address: {exc}") from exc
    return checked.ascii_email or checked.normalized


def _take_a_send(attempt_id: str) -> ResponseReturnValue | None:
    """Take one send from this client's and this attempt's allowance; a 429 page if either has
    none left, else ``None``.

    Both limits count a request only when both allow it: a refusal for one attempt must not
    use up the client's hourly allowance (a classroom behind one NAT address shares it).

    The attempt's slot is taken before sending and given back when the relay refuses
    (:meth:`RateLimiter.take_back`), rather than recorded after a send that counts: taking it
    is one transaction that checks and records, so two workers sending for the same attempt at
    once cannot both have its last slot, and a refused send uses up none of the allowance. The
    client's hourly slot is kept whatever the outcome: each send is a transaction with the relay,
    and a client whose sends are refused may be probing which mailboxes exist there.
    """
    config = current_app.config
    client = request.remote_addr or "unknown"
    per_client, per_attempt = config["EMAILS_PER_CLIENT_PER_HOUR"], config["EMAILS_PER_ATTEMPT"]
    refusal = rate_limiter().hit_all(
        [
            Limit(f"email-client:{client}", per_client, CLIENT_WINDOW_SECONDS),
            Limit(_attempt_key(attempt_id), per_attempt, ATTEMPT_WINDOW_SECONDS),
        ]
    )
    if refusal is None:
        return None
    if refusal.which == 0:
        message = (
            f"This computer has sent {per_client} results emails in the"
            f" last hour, the most allowed. Try again in {_minutes(refusal.wait)}."
        )
        return _refusal(429, "Too many emails", message, retry_after=refusal.wait)
    message = (
        f"These results have already been emailed {per_attempt} times, the most allowed for one"
        " attempt. Take the quiz again for a new attempt."
    )
    return _refusal(429, "Too many emails for these results", message, retry_after=refusal.wait)


def _attempt_key(attempt_id: str) -> str:
    return f"email-attempt:{attempt_id}"


def _refusal(
    code: int, title: str, message: str, *, retry_after: float | None = None
) -> ResponseReturnValue:
    headers = {"Retry-After": str(int(retry_after) + 1)} if retry_after is not None else {}
    page = render_template("error.html", code=code, title=title, message=message)
    return page, code, headers


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def notifier() -> Notifier:
    """The app's notifier. A web request waits ``SMTP_TIMEOUT`` at most for each reply of the
    relay before the message is left to the deliverer (the reply to the final dot excepted)."""
    return per_app(NOTIFIER_KEY, lambda: Notifier.from_config(current_app.config))


def rate_limiter() -> RateLimiter:
    """The app's rate limiter, one SQLite file in ``VAR_DIR`` shared by every worker."""
    path = Path(current_app.config["VAR_DIR"]) / "ratelimit.sqlite3"
    return per_app(LIMITER_KEY, lambda: RateLimiter(path))
