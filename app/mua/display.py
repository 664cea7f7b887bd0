"""Mail as a terminal shows it: a list line per message, and a message's header, text and
attachments. Everything from the mail passes through :func:`app.words.visible`, so that no
Subject can move the cursor or retitle the terminal."""

from __future__ import annotations

import email.utils
import re
from datetime import datetime
from html.parser import HTMLParser

from app.store.message_view import human_size, parse, parse_message
from app.words import visible

SHOWN_FIELDS = ("From", "To", "Cc", "Date", "Subject")
SENDER_WIDTH = 30
LIST_TIME = "%Y-%m-%d %H:%M"  # the received date, to the hour and minute


class _HTMLText(HTMLParser):
    """The text of an HTML-only message, its blocks as lines and paragraphs: enough to read it."""

    BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "table", "hr"})
    SKIPPED = frozenset({"script", "style", "title", "head"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("* ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))

    def text(self) -> str:
        lines = (line.strip() for line in "".join(self.parts).split("\n"))
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def html_to_text(html: str) -> str:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    return parser.text()


def received_at(header_section: bytes) -> datetime | None:
    """When the message arrived: the date of its newest Received field (RFC 5321 §4.4), else
    its Date field; None when neither is a date."""
    message = parse(header_section)
    candidates = [str(v).rpartition(";")[2] for v in message.get_all("Received", [])[:1]]
    candidates.append(str(message.get("Date", "") or ""))
    for text in candidates:
        try:
            when = email.utils.parsedate_to_datetime(text.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
        return when.astimezone() if when.tzinfo else when
    return None


def list_line(number: int, header_section: bytes) -> str:
    """``No. <sender> <received date hour:minute> <subject>``, as the seed's client listed mail."""
    view = parse_message(header_section)
    when = received_at(header_section)
    name, address = email.utils.parseaddr(view.sender)
    sender = visible(address or name or view.sender) or "(no sender)"
    if len(sender) > SENDER_WIDTH:
        sender = sender[: SENDER_WIDTH - 1] + "…"
    date = when.strftime(LIST_TIME) if when else "(no date)".ljust(16)
    return (
        f"{number:>3}. {sender:<{SENDER_WIDTH}} {date}  {visible(view.subject) or '(no subject)'}"
    )


def message_lines(raw: bytes) -> list[str]:
    """The message as read: the usual header fields decoded (RFC 2047), the text part (or the
    HTML part as text), and the attachments by name and size."""
    view = parse_message(raw)
    fields = {name.lower(): value for name, value in reversed(view.headers)}
    lines = [
        visible(f"{name}: {fields[name.lower()]}")
        for name in SHOWN_FIELDS
        if name.lower() in fields
    ]
    lines.append("")
    if view.text is not None:
        body = view.text.replace("\r\n", "\n")
    elif view.html is not None:
        body = html_to_text(view.html.replace("\r\n", "\n"))
    else:
        body = "(this message has no text to show)\n"
    lines += visible(body, keep="\t\n").rstrip("\n").split("\n")
    if view.attachments:
        lines += ["", "Attachments:"]
        lines += [
            f"  {visible(a.filename)} ({a.content_type}, {human_size(a.size)})"
            for a in view.attachments
        ]
    return lines
