"""The instructor's side: captured mailbox and gradebook, behind a login (see ``auth``)."""

from __future__ import annotations

import io
import math
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

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

from app.addresses import mailbox_key
from app.quiz import Quiz, render_markdown
from app.store import MailStore, gradebook
from app.store.message_view import attachment_data, human_size, parse_message, utc_text
from app.web import auth, operations
from app.web.submissions import current_catalog
from app.words import counted

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
#: Of the raw source, the message page's Raw tab shows this much; the source page shows it all.
RAW_TAB_BYTES = 200 * 1024
#: Characters no file name may hold on common systems (Windows' list; "/" everywhere), controls.
UNSAFE_IN_FILE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
FILE_NAME_STEM_LENGTH = 80  # characters of the subject kept in a download's name
UNSAFE_IN_QUIZ_ID = re.compile(r"[^A-Za-z0-9_-]+")
RFC8187_ATTR_CHARS = "!#$&+-.^_`|~"  # besides letters and digits, kept as they are in filename*


bp.add_app_template_filter(human_size, "size")


bp.add_app_template_filter(counted, "plural")


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


@bp.context_processor
def navigation() -> dict[str, Callable[[], operations.Attention]]:
    """The Status link's count, worked out only on pages that show the navigation."""
    return {"nav_attention": operations.current_attention}


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
        results={m.id: gradebook_entry(m.id) for m in messages if m.has_attachments},
        mailboxes=sorted(
            {*store.mailboxes(with_mail=True), *([mailbox_key(query.to)] if query.to else [])}
        ),
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
        source=_source_text(raw[:RAW_TAB_BYTES]),
        source_cut_at=RAW_TAB_BYTES if len(raw) > RAW_TAB_BYTES else None,
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
    source = _source_text(get_message_or_404(message_id))
    return render_template("instructor/source.html", message_id=message_id, source=source)


@bp.get("/messages/<message_id>/message.eml")
def message_eml(message_id: str) -> ResponseReturnValue:
    raw = get_message_or_404(message_id)
    subject = get_store().summary(message_id).subject
    return _download(raw, "message/rfc822", file_name(subject, "message", ".eml"))


@bp.get("/messages/<message_id>/attachments/<int:index>")
def attachment(message_id: str, index: int) -> ResponseReturnValue:
    found = attachment_data(get_message_or_404(message_id), index)
    if found is None:
        abort(404, "This message has no such attachment.")
    described, data = found
    return _download(data, described.content_type, described.filename)


@bp.route("/messages/<message_id>/delete", methods=["GET", "POST"])
def delete_message(message_id: str) -> ResponseReturnValue:
    """GET asks for confirmation (works without JavaScript); POST deletes the message."""
    get_message_or_404(message_id)
    if request.method == "GET":
        return render_template(
            "instructor/delete.html",
            message_id=message_id,
            summary=get_store().summary(message_id),
            entry=gradebook_entry(message_id),
            other_copies=gradebook_reader().other_copies(get_store(), message_id),
        )
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
        unreadable=gradebook_reader().unreadable(get_store()),
        statistics=gradebook.quiz_statistics(rows),
        question_text=question_texts(current_catalog().quizzes()),
    )


@bp.get("/gradebook.csv")
def gradebook_csv() -> ResponseReturnValue:
    query = GradebookQuery.from_args(request.args)
    rows = query.apply(load_gradebook())
    name = gradebook_file_name(query.quiz, datetime.now(UTC))
    return _download(gradebook.to_csv(rows).encode(), "text/csv", name)  # + charset


@bp.get("/status")
def status_page() -> ResponseReturnValue:
    """The outbox's undelivered mail and the quiz files that failed to load."""
    items = operations.undelivered(operations.get_outbox())
    problems = operations.quiz_problems()
    return render_template(
        "instructor/status.html",
        items=items,
        problems=problems,
        attention=operations.attention(items, problems),
    )


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


def gradebook_reader() -> gradebook.GradebookReader:
    """This app's reader: it parses each message only once, for the gradebook and the mailbox."""
    reader: gradebook.GradebookReader = current_app.extensions.setdefault(
        "quizmail.gradebook", gradebook.GradebookReader(current_app.config["SECRET_KEY"])
    )
    return reader


def load_gradebook() -> list[gradebook.Entry]:
    """Every results email in the store."""
    return gradebook_reader().read(get_store())


def gradebook_entry(message_id: str) -> gradebook.Entry | None:
    """The results one message carries, or ``None`` when it is not a results email."""
    return gradebook_reader().row(get_store(), message_id)


def question_texts(quizzes: Mapping[str, Quiz]) -> Callable[[str, str], str]:
    """Look-up of a question's text (rendered Markdown) by quiz and question id; the id when the
    quiz or question is gone from the catalog (results outlive the files they came from)."""

    def text(quiz_id: str, question_id: str) -> str:
        quiz = quizzes.get(quiz_id)
        try:
            return render_markdown(quiz.question(question_id).text) if quiz else question_id
        except KeyError:
            return question_id

    return text


def gradebook_file_name(quiz_id: str | None, today: datetime) -> str:
    """``gradebook-<quiz id or all>-<YYYY-MM-DD>.csv``: what the file holds, and from when."""
    quiz = UNSAFE_IN_QUIZ_ID.sub("-", quiz_id).strip("-") if quiz_id else "all"
    return f"gradebook-{quiz or 'quiz'}-{today:%Y-%m-%d}.csv"


def file_name(title: str, fallback: str, suffix: str) -> str:
    """A download's name from a title (a subject): no path separators, controls or characters
    a file system refuses, whitespace collapsed, shortened; *fallback* when nothing is left."""
    stem = " ".join(UNSAFE_IN_FILE_NAME.sub(" ", title).split())[:FILE_NAME_STEM_LENGTH]
    return (stem.strip(" .") or fallback) + suffix


def _newest_id(store: MailStore, query: MailboxQuery) -> str | None:
    newest = store.search(to=query.to, text=query.text, limit=1)
    return newest[0].id if newest else None


def _source_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _html_document(body: str) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>HTML part</title></head>'
        f"<body>{body}</body></html>"
    )


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    """A file to save, never to render: even if a browser did, it could run and load nothing."""
    response = send_file(io.BytesIO(data), mimetype=mimetype)
    response.headers.set("Content-Disposition", "attachment", **_disposition_names(filename))
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return response


def _disposition_names(filename: str) -> dict[str, Any]:
    """RFC 6266: an ASCII ``filename`` for every client, ``filename*`` (RFC 8187) with the full
    UTF-8 name when it is not ASCII. Werkzeug's send_file does the same, but leaves an empty
    ASCII name (".eml") when no letter of the name has an ASCII form; this keeps a stem."""
    if filename.isascii():
        return {"filename": filename}
    stem, suffix = os.path.splitext(filename)
    simple = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    simple = " ".join(simple.split()).strip(" .") or "download"
    full = quote(filename, safe=RFC8187_ATTR_CHARS)
    return {
        "filename": simple + suffix.encode("ascii", "ignore").decode(),
        "filename*": f"UTF-8''{full}",
    }
