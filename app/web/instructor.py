"""The instructor's side: captured mailbox and gradebook, behind a login (see ``auth``)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from app import gradebook
from app.mailstore import MailStore
from app.message_view import attachment_data, parse_message, utc_text
from app.web import auth

bp = Blueprint("instructor", __name__, url_prefix="/instructor")
auth.register(bp)
bp.add_app_template_filter(utc_text, "mail_time")

PAGE_SIZE = 25  # messages per mailbox page
POLL_SECONDS = 5  # how often static/js/mailbox.js asks whether new mail has arrived
#: Instructor pages load only their own scripts, styles and frames; nothing may frame them.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
#: A captured HTML part: inline styles and inline images only — no scripts, no remote anything.
FRAME_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
DOWNLOAD_CSP = "default-src 'none'; sandbox"
GRADEBOOK_DEFAULT_SORT = "submitted"


@dataclass(frozen=True)
class MailboxQuery:
    """The mailbox page's filter, search and page, read from the query string."""

    to: str | None
    text: str | None
    page: int

    @classmethod
    def from_args(cls, args: MultiDict[str, str]) -> MailboxQuery:
        page = args.get("page", 1, type=int) or 1
        return cls(to=args.get("to") or None, text=args.get("q") or None, page=max(page, 1))


@dataclass(frozen=True)
class GradebookQuery:
    """The gradebook's sort column, direction and quiz filter, read from the query string."""

    sort: str
    descending: bool
    quiz: str | None

    @classmethod
    def from_args(cls, args: MultiDict[str, str]) -> GradebookQuery:
        sort = args.get("sort", GRADEBOOK_DEFAULT_SORT)
        if sort not in gradebook.SORT_KEYS:
            sort = GRADEBOOK_DEFAULT_SORT
        default_order = "desc" if sort == GRADEBOOK_DEFAULT_SORT else "asc"
        descending = args.get("order", default_order) == "desc"
        return cls(sort=sort, descending=descending, quiz=args.get("quiz") or None)

    @property
    def order(self) -> str:
        return "desc" if self.descending else "asc"

    def order_after_click(self, key: str) -> str:
        """A column heading's link flips the order of the sorted column, else sorts ascending."""
        if key != self.sort:
            return "asc"
        return "asc" if self.descending else "desc"

    def apply(self, entries: list[gradebook.Entry]) -> list[gradebook.Entry]:
        chosen = [e for e in entries if self.quiz is None or e.quiz_id == self.quiz]
        return gradebook.sort_entries(chosen, self.sort, descending=self.descending)


@bp.after_request
def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"  # captured mail is private
    return response


@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for(".mailbox"))


@bp.get("/mailbox")
def mailbox() -> ResponseReturnValue:
    query = MailboxQuery.from_args(request.args)
    store = get_store()
    total = store.count(to=query.to, text=query.text)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(query.page, pages)
    messages = store.search(
        to=query.to, text=query.text, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render_template(
        "instructor/mailbox.html",
        query=query,
        messages=messages,
        mailboxes=sorted({*store.mailboxes(with_mail=True), *([query.to] if query.to else [])}),
        total=total,
        page=page,
        pages=pages,
        newest=messages[0].id if messages and page == 1 else _newest_id(store, query),
        poll_seconds=POLL_SECONDS,
    )


@bp.get("/mailbox/status.json")
def mailbox_status() -> ResponseReturnValue:
    """What the page polls: it reloads its list when either number changes."""
    query = MailboxQuery.from_args(request.args)
    store = get_store()
    total = store.count(to=query.to, text=query.text)
    return jsonify(total=total, newest=_newest_id(store, query))


@bp.route("/mailbox/clear", methods=["GET", "POST"])
def clear_mailbox() -> ResponseReturnValue:
    """GET asks for confirmation (works without JavaScript); POST clears every mailbox."""
    store = get_store()
    if request.method == "GET":
        return render_template("instructor/clear.html", total=store.count())
    store.clear()
    flash("Every captured message has been deleted.", "info")
    return redirect(url_for(".mailbox"))


@bp.get("/messages/<message_id>")
def message(message_id: str) -> ResponseReturnValue:
    raw = get_message_or_404(message_id)
    return render_template(
        "instructor/message.html",
        message_id=message_id,
        summary=get_store().summary(message_id),
        view=parse_message(raw),
    )


@bp.get("/messages/<message_id>/html")
def message_html(message_id: str) -> ResponseReturnValue:
    """The sanitised HTML part, for the sandboxed iframe on the message page."""
    html = parse_message(get_message_or_404(message_id)).html
    if html is None:
        abort(404, "This message has no HTML part.")
    response = Response(_html_document(html), mimetype="text/html")
    response.headers["Content-Security-Policy"] = FRAME_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/messages/<message_id>/source")
def message_source(message_id: str) -> ResponseReturnValue:
    raw = get_message_or_404(message_id)
    source = raw.decode("utf-8", errors="replace")
    return render_template("instructor/source.html", message_id=message_id, source=source)


@bp.get("/messages/<message_id>/message.eml")
def message_eml(message_id: str) -> ResponseReturnValue:
    raw = get_message_or_404(message_id)
    return _download(raw, "message/rfc822", f"message-{message_id}.eml")


@bp.get("/messages/<message_id>/attachments/<int:index>")
def attachment(message_id: str, index: int) -> ResponseReturnValue:
    found = attachment_data(get_message_or_404(message_id), index)
    if found is None:
        abort(404, "This message has no such attachment.")
    described, data = found
    return _download(data, described.content_type, described.filename)


@bp.post("/messages/<message_id>/delete")
def delete_message(message_id: str) -> ResponseReturnValue:
    get_message_or_404(message_id)
    get_store().remove(message_id)
    flash("The message has been deleted.", "info")
    return redirect(url_for(".mailbox"))


@bp.get("/gradebook")
def gradebook_page() -> ResponseReturnValue:
    query = GradebookQuery.from_args(request.args)
    everything = load_gradebook()
    rows = query.apply(everything)
    return render_template(
        "instructor/gradebook.html",
        rows=rows,
        query=query,
        quizzes=sorted({(e.quiz_id, e.quiz_title) for e in everything}),
        statistics=gradebook.quiz_statistics(rows),
    )


@bp.get("/gradebook.csv")
def gradebook_csv() -> ResponseReturnValue:
    rows = GradebookQuery.from_args(request.args).apply(load_gradebook())
    return _download(gradebook.to_csv(rows).encode(), "text/csv", "gradebook.csv")  # + charset


def get_store() -> MailStore:
    """The captured mailbox of this instance (one store object per app, shared by requests)."""
    store = current_app.extensions.get("quizmail.mailstore")
    if store is None:
        store = MailStore(current_app.config["MAILBOX_DIR"])
        current_app.extensions["quizmail.mailstore"] = store
    return store


def get_message_or_404(message_id: str) -> bytes:
    try:
        return get_store().get_bytes(message_id)
    except (KeyError, FileNotFoundError, ValueError):
        abort(404, "No such message: it may have been deleted.")


def load_gradebook() -> list[gradebook.Entry]:
    """Every results email in the store; this app's reader parses each message only once."""
    reader = current_app.extensions.setdefault("quizmail.gradebook", gradebook.GradebookReader())
    return reader.read(get_store())


def _newest_id(store: MailStore, query: MailboxQuery) -> str | None:
    newest = store.search(to=query.to, text=query.text, limit=1)
    return newest[0].id if newest else None


def _html_document(body: str) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>HTML part</title></head>'
        f"<body>{body}</body></html>"
    )


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    """A file to save, never to render: even if a browser did, it could run and load nothing."""
    response = send_file(
        io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=filename
    )
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return response
