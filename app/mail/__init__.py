"""Hand-rolled MIME builder: RFC 5322 messages with RFC 2045-2047 and RFC 2231 encodings.

`build_message` returns the bytes to send after DATA. Bodies are always 7bit, quoted-printable
or base64, so 8BITMIME is never needed; an address that is not ASCII stays UTF-8 in the header
(RFC 6532) and `needs_smtputf8` tells the SMTP client to ask for SMTPUTF8 (RFC 6531).
"""

from __future__ import annotations

from app.mail.addresses import (
    Address,
    address_is_ascii,
    message_needs_smtputf8,
    needs_smtputf8,
)
from app.mail.dates import format_date, make_message_id
from app.mail.message import Attachment, build_message

__all__ = [
    "Address",
    "Attachment",
    "address_is_ascii",
    "build_message",
    "format_date",
    "make_message_id",
    "message_needs_smtputf8",
    "needs_smtputf8",
]
