"""Email my results: the form's POST, and the page that says what became of the message.

URLs: ``POST /results/email`` (fields ``token``, ``email``, ``name``; CSRF-protected) answers
``303 See Other`` to ``GET /results/email/<delivery_id>``, the status page. Reloading the status
page only reads the outbox record, so it never sends again (POST-redirect-GET).

Only the address and the name come from the form. The result is re-derived from the submission
token the server signed, so nobody can mail a score the server did not compute, and the subject and
body come from our templates.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from email_validator import EmailNotValidError, validate_email
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from app.notify import Notifier, explain
from app.ratelimit import Limit, RateLimiter
from app.report import Student
from app.web import submissions

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


class FormProblem(ValueError):
    """What is wrong with the form, in words for the student."""


@bp.post("/results/email")
def send() -> ResponseReturnValue:
    token = request.form.get("token", "")
    submission = submissions.load_submission(token)
    try:
        student = student_from_form(request.form)
    except FormProblem as problem:
        return _refusal(400, "Check the address and name", f"{problem} Go back and correct it.")
    wait = _rate_limited(submission.attempt.id)
    if wait is not None:
        return wait
    results_url = url_for("quiz.results", quiz_id=submission.quiz.id, token=token)
    record = notifier().email_results(submission.result, student, info={"results": results_url})
    return redirect(url_for(".status", delivery_id=record.id), code=303)


@bp.get("/results/email/<delivery_id>")
def status(delivery_id: str) -> str:
    record = notifier().outbox.lookup(delivery_id)
    if record is None:
        abort(404, description="There is no email with this link. It may have been sent long ago.")
    due_now = record.next_try <= time.time()
    next_try = "now" if due_now else time.strftime("%H:%M:%S UTC", time.gmtime(record.next_try))
    return render_template(
        "quiz/email_sent.html", record=record, explanation=explain(record), next_try=next_try
    )


def student_from_form(form: MultiDict[str, str]) -> Student:
    """The checked address (ASCII, normalised) and optional name, or :class:`FormProblem`."""
    raw_email, raw_name = form.get("email", ""), form.get("name", "")
    _refuse_controls("The email address", raw_email)
    _refuse_controls("The name", raw_name)
    name = " ".join(raw_name.split()) or None
    if name is not None and len(name) > MAX_NAME_LENGTH:
        raise FormProblem(f"The name is longer than {MAX_NAME_LENGTH} characters.")
    return Student(email=_checked_address(raw_email.strip()), name=name)


def _refuse_controls(what: str, value: str) -> None:
    if any(unicodedata.category(char) in REFUSED_CATEGORIES for char in value):
        raise FormProblem(f"{what} contains a line break or another control character.")
    if not REFUSED_FORMAT_CHARACTERS.isdisjoint(value):
        raise FormProblem(f"{what} contains a character that reverses the direction of text.")


def _checked_address(address: str) -> str:
    if not address:
        raise FormProblem("Please enter an email address.")
    try:
        # SMTPUTF8 is off: a non-ASCII *local part* would need SMTPUTF8 from every relay on the
        # way. A non-ASCII domain is fine: it is sent in its ASCII (IDNA) form.
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise FormProblem(f"{address!r} is not a usable email address: {exc}") from exc
    return checked.ascii_email or checked.normalized


def _rate_limited(attempt_id: str) -> ResponseReturnValue | None:
    """A 429 page when this client or this attempt has sent enough email, else ``None``.

    Both limits count a request only when both allow it: a refusal for one attempt must not
    use up the client's hourly allowance (a classroom behind one NAT address shares it).
    """
    config = current_app.config
    client = request.remote_addr or "unknown"
    per_client, per_attempt = config["EMAILS_PER_CLIENT_PER_HOUR"], config["EMAILS_PER_ATTEMPT"]
    refusal = rate_limiter().hit_all(
        [
            Limit(f"email-client:{client}", per_client, CLIENT_WINDOW_SECONDS),
            Limit(f"email-attempt:{attempt_id}", per_attempt, ATTEMPT_WINDOW_SECONDS),
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
    return _per_app(NOTIFIER_KEY, lambda: Notifier.from_config(current_app.config))


def rate_limiter() -> RateLimiter:
    """The app's rate limiter, one SQLite file in ``VAR_DIR`` shared by every worker."""
    path = Path(current_app.config["VAR_DIR"]) / "ratelimit.sqlite3"
    return _per_app(LIMITER_KEY, lambda: RateLimiter(path))


_T = TypeVar("_T")
_creating = threading.Lock()


def _per_app(key: str, create: Callable[[], _T]) -> _T:
    """One *create()* per app, made on first use; the lock keeps two threads from making two."""
    extensions = current_app.extensions
    if key not in extensions:
        with _creating:
            if key not in extensions:
                extensions[key] = create()
    made: _T = extensions[key]
    return made
