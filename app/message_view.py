"""A stored message taken apart for display: headers, text part, sanitised HTML, attachments.

Reading uses the stdlib ``email`` parser (only *building* mail is done by hand, in ``app.mail``).
Nothing here trusts the message: the HTML part goes through nh3 (no scripts, no event handlers,
no ``javascript:`` links, no remote images) and is still shown in a sandboxed iframe whose
Content-Security-Policy blocks anything the sanitiser might miss.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

import nh3

__all__ = [
    "Attachment",
    "MessageView",
    "attachment_data",
    "attachment_named",
    "parse_message",
    "safe_filename",
    "sanitize_html",
    "utc_text",
]

#: Tags kept in a sanitised HTML part: nh3's defaults plus ``<style>`` blocks, which mail relies on
#: (the frame's CSP allows inline styles but no remote fetches, so ``@import`` and ``url()`` fail).
HTML_TAGS = nh3.ALLOWED_TAGS | {"style"}
#: Removed together with their content; ``<title>`` text would otherwise leak into the body.
HTML_DROPPED_WITH_CONTENT = {"script", "title"}
HTML_ATTRIBUTES = {
    **nh3.ALLOWED_ATTRIBUTES,
    "*": {"style", "title", "lang", "dir"},
    "td": nh3.ALLOWED_ATTRIBUTES["td"] | {"bgcolor", "valign", "width"},
    "table": nh3.ALLOWED_ATTRIBUTES["table"] | {"bgcolor", "border", "cellpadding", "width"},
}
#: Link targets a reader may follow; ``data:`` is accepted by nh3 only for inline images (below).
LINK_SCHEMES = ("http:", "https:", "mailto:")
INLINE_IMAGE_PREFIX = "data:image/"
MAX_FILENAME_LENGTH = 200  # well under the 255 bytes most file systems allow
_UNSAFE_FILENAME_CHARS = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]+')


@dataclass(frozen=True)
class Attachment:
    index: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MessageView:
    headers: list[tuple[str, str]]
    subject: str
    sender: str
    to: str
    date: str
    text: str | None
    html: str | None
    attachments: list[Attachment]


def parse_message(raw: bytes) -> MessageView:
    """Take *raw* apart for display; never raises on malformed input."""
    message = _parse(raw)
    headers = [(name, _header_text(message, name, raw)) for name, raw in message.raw_items()]
    first = {name.lower(): value for name, value in reversed(headers)}
    html = _body_text(message, "html")
    return MessageView(
        headers=headers,
        subject=first.get("subject", ""),
        sender=first.get("from", ""),
        to=first.get("to", ""),
        date=first.get("date", ""),
        text=_body_text(message, "plain"),
        html=sanitize_html(html) if html is not None else None,
        attachments=[_describe(i, part) for i, part in enumerate(_attachment_parts(message))],
    )


def attachment_data(raw: bytes, index: int) -> tuple[Attachment, bytes] | None:
    """The attachment numbered *index* (as listed by ``parse_message``) and its decoded bytes."""
    parts = _attachment_parts(_parse(raw))
    if not 0 <= index < len(parts):
        return None
    part = parts[index]
    return _describe(index, part), _payload_bytes(part)


def attachment_named(raw: bytes, filename: str) -> bytes | None:
    """The decoded bytes of the first attachment called *filename*, if there is one."""
    for part in _attachment_parts(_parse(raw)):
        if part.get_filename() == filename:
            return _payload_bytes(part)
    return None


def sanitize_html(html: str) -> str:
    """Remove everything active from *html*: scripts, handlers, ``javascript:``, remote images."""
    return nh3.clean(
        html,
        tags=HTML_TAGS,
        clean_content_tags=HTML_DROPPED_WITH_CONTENT,
        attributes=HTML_ATTRIBUTES,
        url_schemes=nh3.ALLOWED_URL_SCHEMES | {"data"},
        attribute_filter=_filter_url,
    )


def safe_filename(name: str | None, fallback: str) -> str:
    """A download name with no path, no control or shell-special characters, never empty."""
    base = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_FILENAME_CHARS.sub("_", base).strip(" .")
    return cleaned[:MAX_FILENAME_LENGTH] or fallback


def utc_text(moment: datetime) -> str:
    """A timestamp as the instructor reads it (web pages and CLI): UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _filter_url(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "src":
        return value if value.lower().startswith(INLINE_IMAGE_PREFIX) else None
    if attribute == "href":
        return value if value.strip().lower().startswith(LINK_SCHEMES) else None
    return value


def _parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # guaranteed by policy.default's message factory
    return message


def _header_text(message: Message, name: str, raw: str) -> str:
    """The decoded header value (RFC 2047); the unfolded raw text when too broken to decode."""
    try:
        return str(message.policy.header_fetch_parse(name, raw))
    except (ValueError, LookupError, IndexError, TypeError):  # the parser's known failure modes
        return re.sub(r"\r?\n[ \t]", " ", raw).strip()


def _body_text(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    return _part_text(part)


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, ValueError):  # unknown charset or broken transfer encoding
        content = None
    if isinstance(content, str):
        return content
    return _payload_bytes(part).decode("utf-8", errors="replace")


def _attachment_parts(message: EmailMessage) -> list[Message]:
    body_parts = {id(p) for p in (message.get_body(("plain",)), message.get_body(("html",))) if p}
    return [
        part
        for part in message.walk()
        if not part.is_multipart()
        and id(part) not in body_parts
        and (part.get_content_disposition() == "attachment" or part.get_filename())
    ]


def _describe(index: int, part: Message) -> Attachment:
    return Attachment(
        index=index,
        filename=safe_filename(part.get_filename(), f"attachment-{index + 1}"),
        content_type=part.get_content_type(),
        size=len(_payload_bytes(part)),
    )


def _payload_bytes(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""
