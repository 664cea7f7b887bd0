"""A stored message taken apart for display: headers, text part, sanitised HTML, attachments.

Reading uses the stdlib ``email`` parser (only *building* mail is done by hand, in ``app.mail``).
Nothing here trusts the message: the HTML part goes through nh3 (no scripts, no event handlers,
no ``javascript:`` links, no remote images) and is still shown in a sandboxed iframe whose
Content-Security-Policy blocks anything the sanitiser might miss.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.parser import BytesParser

import nh3

__all__ = [
    "Attachment",
    "MessageView",
    "attachment_data",
    "attachment_named",
    "attachment_parts",
    "human_size",
    "parse",
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
#: Parts that hold a whole email, listed and downloaded as one ``.eml`` attachment.
ATTACHED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
MAX_FILENAME_LENGTH = 200  # well under the 255 bytes most file systems allow
_UNSAFE_FILENAME_CHARS = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]+')
#: Binary multiples (IEC 80000-13), as QuizMail writes sizes elsewhere ("25 MiB", "256 KiB").
SIZE_UNIT = 1024
SIZE_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


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
    message = parse(raw)
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
        attachments=[_describe(i, part) for i, part in enumerate(attachment_parts(message))],
    )


def attachment_data(raw: bytes, index: int) -> tuple[Attachment, bytes] | None:
    """The attachment numbered *index* (as listed by ``parse_message``) and its decoded bytes."""
    parts = attachment_parts(parse(raw))
    if not 0 <= index < len(parts):
        return None
    part = parts[index]
    return _describe(index, part), _payload_bytes(part)


def attachment_named(message: EmailMessage, filename: str) -> bytes | None:
    """The decoded bytes of the first attachment of *message* (see :func:`parse`) called
    *filename*, if there is one."""
    for part in attachment_parts(message):
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


def human_size(octets: int) -> str:
    """A size as a reader takes it in: ``532 B``, ``1.2 KiB``, ``3.4 MiB``.

    IEC binary units (1 KiB = 1024 B, 1 MiB = 1024 KiB), named so that they cannot be taken for
    the SI ones (1 kB = 1000 B); bytes as a whole number, larger units to one decimal, in the
    largest unit that keeps the number under 1024. A negative size raises ValueError.
    """
    if octets < 0:
        raise ValueError(f"a size cannot be negative: {octets}")
    if octets < SIZE_UNIT:
        return f"{octets} B"
    value = float(octets)
    for unit in SIZE_UNITS:
        value /= SIZE_UNIT
        if round(value, 1) < SIZE_UNIT or unit == SIZE_UNITS[-1]:
            break
    return f"{value:.1f} {unit}"


def _filter_url(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "src":
        return value if value.lower().startswith(INLINE_IMAGE_PREFIX) else None
    if attribute == "href":
        return value if value.strip().lower().startswith(LINK_SCHEMES) else None
    return value


def parse(raw: bytes) -> EmailMessage:
    """*raw* parsed, with the source's ``linesep``: parts written back end lines as they came."""
    end = raw.find(b"\n")
    linesep = "\n" if end >= 0 and raw[end - 1 : end] != b"\r" else "\r\n"
    return parse_bounded(BytesParser(policy=policy.default.clone(linesep=linesep)), raw)


def parse_bounded(parser: BytesParser[EmailMessage], raw: bytes) -> EmailMessage:
    """*raw* parsed by *parser*; a MIME tree nested too deep for the parser (it recurses once
    per level, and RFC 2046 sets no limit) is read as its header section over one plain-text
    body, the whole source, so that every reader still has a message to show."""
    try:
        message = parser.parsebytes(raw)
    except RecursionError:
        message = parser.parsebytes(raw, headersonly=True)
        for name in ("Content-Type", "Content-Transfer-Encoding"):
            del message[name]
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


def attachment_parts(message: EmailMessage) -> list[Message]:
    """The parts of *message* a reader would save: what the page lists and the index counts.

    A part is an attachment when it is not one of the text/HTML bodies shown and it is marked
    ``attachment`` or has a file name, or it is an attached message (message/rfc822): one
    attachment, whose own parts belong to it and are not listed apart. The parser makes an
    attached message a container (``is_multipart()`` is true), so it is singled out before
    containers are skipped. The store's index (``has_attachments``) calls this as well, so that
    the mailbox list and the message page never disagree.
    """
    body_parts = {id(p) for p in (message.get_body(("plain",)), message.get_body(("html",))) if p}
    return [
        part
        for part in _parts_outside_attached_messages(message)
        if id(part) not in body_parts
        and (
            (part is not message and _is_attached_message(part))
            or (
                not part.is_multipart()
                and (part.get_content_disposition() == "attachment" or bool(part.get_filename()))
            )
        )
    ]


def _parts_outside_attached_messages(part: Message) -> Iterator[Message]:
    """``walk()``, except that an attached message is one part: its contents are not entered."""
    yield part
    if part.is_multipart() and not _is_attached_message(part):
        for child in part.get_payload():
            if isinstance(child, Message):
                yield from _parts_outside_attached_messages(child)


def _is_attached_message(part: Message) -> bool:
    """A whole email inside this one (RFC 2046 §5.2.1; message/global is RFC 6532's UTF-8 kind)."""
    return part.get_content_type() in ATTACHED_MESSAGE_TYPES and part.is_multipart()


def _describe(index: int, part: Message) -> Attachment:
    return Attachment(
        index=index,
        filename=safe_filename(part.get_filename(), "") or _fallback_name(index, part),
        content_type=part.get_content_type(),
        size=len(_payload_bytes(part)),
    )


def _fallback_name(index: int, part: Message) -> str:
    """The name of an attachment that has none: an attached message is named by its Subject."""
    if not _is_attached_message(part):
        return f"attachment-{index + 1}"
    inner = _attached_message(part)
    fields = inner.raw_items() if inner is not None else []
    subject = next((_header_text(part, n, v) for n, v in fields if n.lower() == "subject"), "")
    # A subject is text, not a path: its slashes become "_" rather than cutting it short.
    stem = safe_filename(_UNSAFE_FILENAME_CHARS.sub("_", subject), "")
    return stem[: MAX_FILENAME_LENGTH - len(".eml")] + ".eml" if stem else "message.eml"


def _attached_message(part: Message) -> EmailMessage | None:
    """The message inside an attached-message part (``parse``'s policy makes EmailMessages)."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    return inner if isinstance(inner, EmailMessage) else None


def _payload_bytes(part: Message) -> bytes:
    """The decoded content of a leaf part; for an attached message, that message as a file."""
    if _is_attached_message(part):
        inner = _attached_message(part)
        return _serialized(inner) if inner is not None else b""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _serialized(message: EmailMessage) -> bytes:
    """*message* as it came, a valid .eml file.

    The parser keeps body lines with their endings and header values as written; a generator
    that never refolds (``refold_source="none"``) and ends lines as the source did (the
    policy's ``linesep``, set by :func:`parse`) gives back the attached message's bytes.
    """
    out = io.BytesIO()
    as_received = policy.default.clone(refold_source="none", linesep=message.policy.linesep)
    BytesGenerator(out, policy=as_received).flatten(message)
    return out.getvalue()
