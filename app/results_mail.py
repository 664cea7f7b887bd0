"""Email my results, whatever the front end: the address and name checked, the limits, the send,
and what became of it in plain words.

The web's "Email my results" form (:mod:`app.web.results_email`) and the telnet session's
``email`` command (:mod:`app.telnet`) both come here, so a student is held to the same limits and
told the same things either way. Only the address and the name come from the student; the result
is one the server graded, and the message is built and sent by :class:`app.notify.Notifier`.

- :func:`student_from_form` checks what was typed (:class:`FormProblem` says what is wrong);
- :func:`take_a_send` takes one send from the client's hourly and the attempt's allowance
  (:class:`SendRefused` when either has none left);
- :func:`email_or_give_back` sends, giving the attempt's send back when the relay refused it;
- :data:`HEADINGS`, :func:`summary` and :func:`facts` tell the outcome.
"""

from __future__ import annotations

import os
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from email_validator import EmailNotValidError, validate_email

from app.notify import Notifier, explain
from app.outbox import OutboxRecord
from app.quiz import Result
from app.quiz.attempts import RESULT_MAX_AGE
from app.ratelimit import Limit, RateLimiter
from app.report import Student

__all__ = [
    "ATTEMPT_WINDOW_SECONDS",
    "CLIENT_WINDOW_SECONDS",
    "HEADINGS",
    "MAX_NAME_LENGTH",
    "NEXT_STEPS",
    "Fact",
    "FormProblem",
    "SendRefused",
    "attempt_key",
    "email_or_give_back",
    "facts",
    "rate_limiter_for",
    "student_from_form",
    "summary",
    "take_a_send",
]

#: A display name, not an essay: keeps the To: header within a folded line or two.
MAX_NAME_LENGTH = 100
#: Per attempt, the limit holds as long as the results can be emailed at all.
ATTEMPT_WINDOW_SECONDS = RESULT_MAX_AGE.total_seconds()
CLIENT_WINDOW_SECONDS = 3600.0
#: Unicode categories refused in the address and the name: controls (CR, LF, NUL, TAB …) and the
#: line and paragraph separators, which some software also treats as line breaks.
REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
#: Bidirectional overrides and isolates (Unicode TR9), which can make a name display as something
#: else; other format characters (such as the zero-width non-joiner of Persian names) are fine.
REFUSED_FORMAT_CHARACTERS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

Field = Literal["email", "name"]


class FormProblem(ValueError):
    """What is wrong with the form, in words for the student, and which field it concerns."""

    def __init__(self, message: str, *, field: Field = "email") -> None:
        super().__init__(message)
        self.field = field


def student_from_form(form: Mapping[str, str]) -> Student:
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


# --- limits --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendRefused:
    """No send left: a title and a message for the student, and the seconds until one frees."""

    title: str
    message: str
    wait: float


def take_a_send(
    limiter: RateLimiter, config: Mapping[str, Any], client: str, attempt_id: str
) -> SendRefused | None:
    """Take one send from *client*'s and the attempt's allowance; :class:`SendRefused` if either
    has none left, else ``None``.

    Both limits count a request only when both allow it: a refusal for one attempt must not
    use up the client's hourly allowance (a classroom behind one NAT address shares it).

    The attempt's slot is taken before sending and given back when the relay refuses
    (:meth:`RateLimiter.take_back`), rather than recorded after a send that counts: taking it
    is one transaction that checks and records, so two workers sending for the same attempt at
    once cannot both have its last slot, and a refused send uses up none of the allowance. The
    client's hourly slot is kept whatever the outcome: each send is a transaction with the relay,
    and a client whose sends are refused may be probing which mailboxes exist there.
    """
    per_client, per_attempt = config["EMAILS_PER_CLIENT_PER_HOUR"], config["EMAILS_PER_ATTEMPT"]
    refusal = limiter.hit_all(
        [
            Limit(f"email-client:{client}", per_client, CLIENT_WINDOW_SECONDS),
            Limit(attempt_key(attempt_id), per_attempt, ATTEMPT_WINDOW_SECONDS),
        ]
    )
    if refusal is None:
        return None
    if refusal.which == 0:
        message = (
            f"This computer has sent {per_client} results emails in the"
            f" last hour, the most allowed. Try again in {_minutes(refusal.wait)}."
        )
        return SendRefused("Too many emails", message, refusal.wait)
    message = (
        f"These results have already been emailed {per_attempt} times, the most allowed for one"
        " attempt. Take the quiz again for a new attempt."
    )
    return SendRefused("Too many emails for these results", message, refusal.wait)


def rate_limiter_for(var_dir: str | os.PathLike[str]) -> RateLimiter:
    """The limits' one SQLite file in ``VAR_DIR``, shared by every worker and front end."""
    return RateLimiter(Path(var_dir) / "ratelimit.sqlite3")


def attempt_key(attempt_id: str) -> str:
    return f"email-attempt:{attempt_id}"


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def email_or_give_back(
    notifier: Notifier,
    limiter: RateLimiter,
    result: Result,
    student: Student,
    info: Mapping[str, str] | None = None,
) -> OutboxRecord:
    """Email *result*; a send the relay refused (or that failed here) is given back to the
    attempt's allowance, so the student may try another address."""
    counted = False
    try:
        record = notifier.email_results(result, student, info=info)
        counted = record.state != "failed"  # sent, or queued: the relay will have it
    finally:
        if not counted:
            limiter.take_back(attempt_key(result.attempt.id))
    return record


# --- the outcome in words ------------------------------------------------------------------------

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


def summary(record: OutboxRecord) -> str:
    """What became of the message, for the student, in a sentence or two."""
    if record.state == "sent":
        return SENT_SUMMARY.format(to=", ".join(record.recipients))
    if record.state == "queued":
        return QUEUED_SUMMARY
    return explain(record)


def facts(record: OutboxRecord) -> list[Fact]:
    """The technical details: where it went, its Message-ID, the server's reply (or, while it
    waits, the last problem and the next try)."""
    found = [
        Fact("To", ", ".join(record.recipients)),
        Fact("Subject", record.info.get("subject", "")),
        Fact("Message-ID", record.info.get("message_id", ""), code=True),
    ]
    if record.state != "queued":
        return [*found, Fact("Server's reply", record.reply or record.last_error or "", code=True)]
    due_now = record.next_try <= time.time()
    next_try = "now" if due_now else time.strftime("%H:%M:%S UTC", time.gmtime(record.next_try))
    return [
        *found,
        Fact("Last problem", record.last_error or "none yet", code=record.last_error is not None),
        Fact("Attempts", str(record.attempts)),
        Fact("Next try", next_try),
    ]
