"""The instructor's Sessions pages: every SMTP session the capture server took, with its dialogue
and what the client did wrong (``app.conformance``), behind the instructor login.

The pages only render: the session log is ``app.store.sessions``, the findings are pure data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, jsonify, render_template, request, session
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from app.conformance import Report, check
from app.explain import Step, explain
from app.store.session_record import OUTCOMES, SessionRecord
from app.store.sessions import SessionLog, SessionSummary
from app.web import auth, instructor

bp = Blueprint("sessions", __name__, url_prefix="/instructor/sessions")
bp.before_request(auth.require_login)
bp.context_processor(instructor.navigation)
bp.context_processor(lambda: {"instructor_logged_in": auth.SESSION_KEY in session})
bp.after_request(instructor.security_headers)

PAGE_SIZE = 25  # sessions per page


@dataclass(frozen=True)
class SessionsQuery:
    """The list's filters and page, read from the query string."""

    peer: str | None
    outcome: str | None
    page: int

    @classmethod
    def from_args(cls, args: MultiDict[str, str]) -> SessionsQuery:
        outcome = args.get("outcome") or None
        page = args.get("page", 1, type=int) or 1
        return cls(
            peer=args.get("peer") or None,
            outcome=outcome if outcome in OUTCOMES else None,
            page=max(page, 1),
        )


@dataclass(frozen=True)
class Row:
    """One session in the list, with its findings counted (None: the record is unreadable)."""

    summary: SessionSummary
    report: Report | None


@bp.app_template_global()
def session_of_message(message_id: str) -> str | None:
    """The session that delivered a captured message, for the message page's link."""
    try:
        return get_session_log().session_of(message_id)
    except Exception:  # the log is a convenience beside the message: never break its page
        current_app.logger.exception("session log look-up failed")
        return None


@bp.get("/")
def index() -> ResponseReturnValue:
    query = SessionsQuery.from_args(request.args)
    sessions = get_session_log()
    total = sessions.count(query.peer, query.outcome)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(query.page, pages)
    summaries = sessions.search(query.peer, query.outcome, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    return render_template(
        "instructor/sessions.html",
        query=query,
        rows=[Row(s, _report(sessions, s.id)) for s in summaries],
        peers=sorted({*sessions.peers(), *([query.peer] if query.peer else [])}),
        outcomes=OUTCOMES,
        total=total,
        page=page,
        pages=pages,
    )


@bp.get("/<session_id>")
def show(session_id: str) -> ResponseReturnValue:
    """``?dialogue=bare`` shows the lines as recorded, numbered (the findings link to them);
    otherwise each line is explained with the RFC behind it."""
    record = get_record_or_404(session_id)
    bare = request.args.get("dialogue") == "bare"
    return render_template(
        "instructor/session.html",
        record=record,
        report=check(record),
        bare=bare,
        steps=None if bare else dialogue(record),
        messages=_messages(record),
    )


@bp.get("/<session_id>/session.json")
def export(session_id: str) -> ResponseReturnValue:
    """The session and its findings, for a student's own tools."""
    record = get_record_or_404(session_id)
    response = jsonify(session=record.to_json(), conformance=check(record).to_json())
    response.headers["Content-Disposition"] = f'attachment; filename="session-{record.id}.json"'
    return response


def dialogue(record: SessionRecord) -> list[Step]:
    """The dialogue explained: each command with its reply, each word with its RFC section."""
    return explain(record.transcript)


def get_session_log() -> SessionLog:
    """The session log beside this instance's captured mail (one object per app)."""
    log = current_app.extensions.get("quizmail.sessions")
    if log is None:
        log = SessionLog(current_app.config["MAILBOX_DIR"])
        current_app.extensions["quizmail.sessions"] = log
    return log


def get_record_or_404(session_id: str) -> SessionRecord:
    try:
        return get_session_log().get(session_id)
    except KeyError:
        abort(404, "No such session: the session log keeps only the newest ones.")
    except ValueError:
        abort(404, "This session's record cannot be read.")


def _report(sessions: SessionLog, session_id: str) -> Report | None:
    try:
        return check(sessions.get(session_id))
    except (KeyError, ValueError):
        return None


def _messages(record: SessionRecord) -> list[tuple[str, bool]]:
    """Each message id the session produced, and whether the mailbox still has it."""
    store = instructor.get_store()
    present = set()
    for message_id in record.message_ids:
        try:
            store.summary(message_id)
        except KeyError:
            continue
        present.add(message_id)
    return [(message_id, message_id in present) for message_id in record.message_ids]
