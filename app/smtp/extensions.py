"""The service extensions a server offers in its EHLO reply, and what they mean for a message."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from app.smtp.errors import SMTPNotSupported
from app.smtp.replies import Reply

# RFC 1870 §4: size-param = 1*DIGIT, where DIGIT is ASCII 0-9 (RFC 5234 B.1).
_ASCII_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Extensions:
    """Keywords (upper case) → parameters, from the EHLO reply's lines after the first (§4.1.1.1).

    Empty after HELO, and again after STARTTLS until the next EHLO (RFC 3207 §4.2).
    """

    keywords: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_ehlo(cls, reply: Reply) -> Extensions:
        keywords = {}
        for line in reply.lines[1:]:
            keyword, _, parameters = line.strip().partition(" ")
            if keyword:
                keywords[keyword.upper()] = parameters.strip()
        return cls(keywords)

    def __contains__(self, keyword: str) -> bool:
        return keyword.upper() in self.keywords

    @cached_property
    def pipelining(self) -> bool:
        return "PIPELINING" in self.keywords

    @cached_property
    def size_limit(self) -> int | None:
        """RFC 1870 §4: ``SIZE n`` with n > 0 is the largest message accepted; 0 or none: no cap.

        The parameter is optional and only ASCII digits; anything else (``SIZE ²`` passes
        ``str.isdigit`` but not ``int``) is read as no declared limit rather than a crash.
        """
        value = self.keywords.get("SIZE", "")
        if not _ASCII_DIGITS.fullmatch(value):
            return None
        return int(value) or None

    @property
    def auth_mechanisms(self) -> frozenset[str]:
        return frozenset(self.keywords.get("AUTH", "").upper().split())


def mail_parameters(
    extensions: Extensions,
    *,
    size: int,
    eight_bit: bool,
    smtputf8: bool,
    utf8_header: bool = False,
) -> tuple[str, ...]:
    """The MAIL FROM parameters for a message, or :class:`SMTPNotSupported` saying what is missing.

    Each is sent only when the server offered its extension and the message needs it:
    ``smtputf8`` for an address that is not ASCII, ``utf8_header`` for UTF-8 in the header
    section, which only SMTPUTF8 allows (RFC 6531 §3.4, RFC 6532 §3); 8-bit bytes only in the
    body need no more than 8BITMIME (RFC 6152).
    """
    parameters: list[str] = []
    if "SIZE" in extensions:
        _check_size(extensions.size_limit, size)
        parameters.append(f"SIZE={size}")  # RFC 1870 §6
    if utf8_header and "SMTPUTF8" not in extensions:
        # Checked before 8BITMIME: encoding the body would not help a UTF-8 header.
        raise SMTPNotSupported(
            "the message header is not ASCII but the server does not offer SMTPUTF8 "
            "(RFC 6531 §3.4, RFC 6532 §3): encode the header fields (RFC 2047) or use a server "
            "that supports SMTPUTF8"
        )
    if eight_bit:
        if "8BITMIME" not in extensions:
            raise SMTPNotSupported(
                "the message has 8-bit bytes but the server does not offer 8BITMIME "
                "(RFC 6152 §3): encode the body as quoted-printable or base64"
            )
        parameters.append("BODY=8BITMIME")
    if smtputf8 or utf8_header:
        if "SMTPUTF8" not in extensions:
            raise SMTPNotSupported(
                "an address is not ASCII but the server does not offer SMTPUTF8 "
                "(RFC 6531 §3.2): use an ASCII address or a server that supports SMTPUTF8"
            )
        parameters.append("SMTPUTF8")
    return tuple(parameters)


def _check_size(limit: int | None, size: int) -> None:
    # RFC 1870 §6: a client should not send a message larger than the server's declared limit.
    if limit is not None and size > limit:
        raise SMTPNotSupported(
            f"the message is {size:,} bytes but the server accepts at most {limit:,} "
            "(its SIZE extension, RFC 1870): send a smaller message"
        )
