"""What the index keeps of a stored message: decoded header fields, its date and its words.

Reading uses the stdlib ``email`` parser (only *building* mail is done by hand, in ``app.mail``),
with a header registry that parses only the MIME fields the body walk needs: the full registry
parses every address list and costs more than the rest of a delivery.
"""

from __future__ import annotations

import contextlib
import email.errors
import email.header
import email.headerregistry
import email.policy
import email.utils
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any

from app.store.message_view import attachment_parts, parse_bounded

__all__ = ["IndexedFields", "has_surrogates", "parse_for_index", "utc_datetime"]

#: Text kept per message for search; enough for any quiz report, bounded for huge mails.
MAX_INDEXED_TEXT = 64 * 1024


def _unstructured(name: str, value: str) -> str:
    """A header field's text for the index: RFC 2047 words decoded, 8-bit read as UTF-8."""
    if has_surrogates(value):  # raw UTF-8 (RFC 6532) reaches us surrogate-escaped
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if "=?" in value:
        with contextlib.suppress(email.errors.HeaderParseError, LookupError, UnicodeError):
            value = str(email.header.make_header(email.header.decode_header(value)))
    return " ".join(value.split())


def has_surrogates(value: str) -> bool:
    """Whether *value* holds bytes that were not UTF-8 (surrogate-escaped)."""
    return any("\udc80" <= c <= "\udcff" for c in value)


class _IndexHeaders(email.headerregistry.HeaderRegistry):
    """Parses only the MIME fields the body walk needs; the others stay plain decoded text."""

    def __call__(self, name: str, value: str) -> Any:
        if name.lower().startswith("content-"):
            return super().__call__(name, value)
        return _unstructured(name, value)


_parser = BytesParser(policy=email.policy.default.clone(header_factory=_IndexHeaders()))


@dataclass(frozen=True, slots=True)
class IndexedFields:
    """One message as the index stores it."""

    sender: str
    to: str
    cc: str
    subject: str
    date: float | None
    has_attachments: bool
    text: str


class _TextOfHTML(HTMLParser):
    """The words of an HTML body, for search: inline markup vanishes, blocks become spaces."""

    BLOCKS = frozenset({"p", "br", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "table"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.parts)).strip()


def _header(message: EmailMessage, name: str) -> str:
    return str(message.get(name, "") or "")


def _date_of(message: EmailMessage) -> float | None:
    """The Date field as a timestamp; ``None`` when it is no date or none a datetime can hold
    (``31 Dec 9999 23:59:59 -2359`` is in the year 10000 in UTC): such mail sorts by arrival."""
    try:
        when = email.utils.parsedate_to_datetime(_header(message, "Date"))
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def utc_datetime(timestamp: float | None) -> datetime | None:
    """A stored timestamp back as a datetime; ``None`` for one out of its range (older index)."""
    try:
        return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _text_of(message: EmailMessage) -> str:
    try:
        body = message.get_body(preferencelist=("plain", "html"))
        content = body.get_content() if body is not None else ""
    except (LookupError, ValueError, TypeError, AttributeError):
        return ""
    if not isinstance(content, str):
        return ""
    if body is not None and body.get_content_type() == "text/html":
        stripper = _TextOfHTML()
        stripper.feed(content)
        content = stripper.text()
    return content[:MAX_INDEXED_TEXT]


def parse_for_index(raw: bytes) -> IndexedFields:
    """The fields of the stored message *raw* that the index keeps (never raises on bad mail)."""
    message = parse_bounded(_parser, raw)
    sender = _header(message, "From") or _header(message, "Return-Path").strip("<>")
    return IndexedFields(
        sender=sender,
        to=_header(message, "To"),
        cc=_header(message, "Cc"),
        subject=_header(message, "Subject"),
        date=_date_of(message),
        has_attachments=bool(attachment_parts(message)),
        text=_text_of(message),
    )
