"""build_message: the whole RFC 5322 message, as the bytes to send after DATA."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from app.mail.addresses import (
    Address,
    AddressLike,
    address_field,
    address_list,
    parse_address,
)
from app.mail.base64wrap import encode_base64
from app.mail.body import encode_text
from app.mail.checks import refuse_controls, refuse_surrogates, require_str
from app.mail.dates import check_message_id, format_date, make_message_id
from app.mail.extra import ExtraHeaders, extra_headers
from app.mail.headers import simple, unstructured, with_parameters
from app.mail.multipart import Part, multipart

Attachment = tuple[str, str, bytes]  # (file name, MIME type, data)

# RFC 2045 §5.1: type "/" subtype, both tokens.
_MIME_TYPE = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+/[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
# RFC 2046 §5.2.1 and §5.1: message/* and multipart/* may not be base64-encoded.
_COMPOSITE = ("multipart/", "message/")


def _transfer_encoding(cte: str) -> str:
    return f"Content-Transfer-Encoding: {cte}\r\n"


def text_part(subtype: str, text: object, *, ends_message: bool) -> Part:
    """A text/plain or text/html part in UTF-8."""
    field = "text" if subtype == "plain" else subtype
    checked = refuse_surrogates(field, require_str(field, text))
    cte, body = encode_text(checked, ends_message=ends_message)
    content_type = with_parameters("Content-Type", f"text/{subtype}", [("charset", "utf-8")])
    return Part(content_type + _transfer_encoding(cte), body)


def _check_attachment(index: int, attachment: object) -> Attachment:
    field = f"attachments[{index}]"
    if not isinstance(attachment, tuple | list) or len(attachment) != 3:
        raise TypeError(f"{field} must be a (filename, mime_type, data) tuple")
    filename, mime_type, data = attachment
    filename = refuse_controls(f"{field} filename", require_str(f"{field} filename", filename))
    mime_type = refuse_controls(f"{field} mime_type", require_str(f"{field} mime_type", mime_type))
    filename = filename.strip()  # readers strip them (RFC 2183 §2.3 leaves the name to them)
    if not filename:
        raise ValueError(f"{field} filename must not be empty")
    if not _MIME_TYPE.fullmatch(mime_type) or mime_type.lower().startswith(_COMPOSITE):
        raise ValueError(f"{field} mime_type must be a type/subtype such as text/csv")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{field} data must be bytes")
    return filename, mime_type.lower(), bytes(data)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def attachment_part(index: int, attachment: object) -> Part:
    """An attachment in base64, which keeps every byte exact, named by RFC 2231 parameters."""
    filename, mime_type, data = _check_attachment(index, attachment)
    params = [("name", filename)]
    if mime_type.startswith("text/") and _is_utf8(data):
        params.insert(0, ("charset", "utf-8"))
    content_type = with_parameters("Content-Type", mime_type, params)
    disposition = with_parameters("Content-Disposition", "attachment", [("filename", filename)])
    return Part(content_type + disposition + _transfer_encoding("base64"), encode_base64(data))


def body_part(text: object, html: object, attachments: Sequence[object]) -> Part:
    """The root part: text; or multipart/alternative (RFC 2046 §5.1.4) of text then HTML;
    inside multipart/mixed (RFC 2046 §5.1.3) when there are attachments."""
    alone = html is None and not attachments
    body = text_part("plain", text, ends_message=alone)
    if html is not None:
        body = multipart("alternative", [body, text_part("html", html, ends_message=False)])
    if not attachments:
        return body
    files = [attachment_part(index, item) for index, item in enumerate(attachments)]
    return multipart("mixed", [body, *files])


def _header_block(
    sender: Address,
    to: list[Address],
    cc: list[Address],
    subject: str,
    *,
    date: datetime | None,
    message_id: str | None,
) -> list[str]:
    fields = [
        simple("Date", format_date(date)),
        address_field("From", [sender]),
        address_field("To", to),
    ]
    if cc:
        fields.append(address_field("Cc", cc))
    fields.append(unstructured("Subject", subject))
    chosen_id = check_message_id(message_id) if message_id else make_message_id(sender.domain)
    fields.append(simple("Message-ID", chosen_id))
    return fields


def build_message(
    *,
    sender: AddressLike,
    to: AddressLike | Sequence[AddressLike],
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Iterable[Attachment] = (),
    headers: ExtraHeaders | None = None,
    cc: AddressLike | Sequence[AddressLike] = (),
    date: datetime | None = None,
    message_id: str | None = None,
) -> bytes:
    """The message as bytes with CRLF line endings, ending in CRLF, ready for DATA.

    Addresses are "addr@domain" or (display name, "addr@domain"); `to` and `cc` take one or a
    list (a 2-tuple of str is always one named address). An attachment is (filename,
    mime_type, data). `headers` adds fields (a mapping or (name, value) pairs): text, or
    addresses for Reply-To and its kin; the fields set here cannot be overridden. `date` must
    be timezone-aware (default: now, UTC); `message_id` defaults to a new one at the sender's
    domain.

    Refused with ValueError naming the field: CR, LF or NUL anywhere in a header value, address,
    file name or header name; other C0 controls and DEL in header text (RFC 5322 §3.2.5 allows
    them only as obsolete syntax); lone surrogates anywhere. Display names send each run of
    blanks as one space, and file names drop blanks at the ends, as readers see them anyway.
    """
    from_ = parse_address("sender", sender)
    recipients = address_list("to", to)
    if not recipients:
        raise ValueError("to needs at least one address")
    subject = refuse_controls("subject", require_str("subject", subject))
    if message_id is not None:
        refuse_controls("message_id", require_str("message_id", message_id))
    copies = address_list("cc", cc)
    fields = _header_block(from_, recipients, copies, subject, date=date, message_id=message_id)
    fields.append("MIME-Version: 1.0\r\n")
    fields.extend(extra_headers(headers))
    message = "".join(fields).encode("utf-8") + body_part(text, html, list(attachments)).render()
    return message if message.endswith(b"\r\n") else message + b"\r\n"
