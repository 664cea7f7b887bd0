"""A message as the seed's client had it typed: ``From:``, ``To:`` and ``Subject:`` lines in that
order, then the body, ended by a line holding only "."; checked, then built with
:func:`app.mail.build_message`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.mail.addresses import is_addr_spec

END_OF_MESSAGE = "."
INCORRECT_FORMAT = "Incorrect format"
_FIELD = re.compile(r"(?i)(From|To|Subject):[ \t]*(.*)")
_LIST_SEPARATOR = re.compile(r"[ \t]*,[ \t]*")


@dataclass(frozen=True)
class Draft:
    sender: str
    to: list[str]
    subject: str
    text: str


class IncorrectFormat(ValueError):
    """The typed lines are not From:, To:, Subject: with X@Y addresses; ``str`` says which."""


def parse_draft(lines: list[str]) -> Draft:
    """The draft typed as *lines* (without the final "."); :class:`IncorrectFormat` if not."""
    if len(lines) < 3:
        raise IncorrectFormat("the From:, To: and Subject: lines come first, in that order")
    values = [
        _field(line, name) for line, name in zip(lines, ("From", "To", "Subject"), strict=False)
    ]
    sender, to_text, subject = values
    if not is_addr_spec(sender):
        raise IncorrectFormat(f"From: {sender!r} is not an address such as ada@example.org")
    to = [address for address in _LIST_SEPARATOR.split(to_text.strip()) if address]
    bad = [address for address in to if not is_addr_spec(address)]
    if not to or bad:
        shown = bad[0] if bad else to_text
        raise IncorrectFormat(f"To: {shown!r} is not an address such as bob@example.org")
    body = lines[3:]
    if body and not body[0].strip():
        body = body[1:]  # the blank line a person puts between the header and the text
    return Draft(sender, to, subject, "\n".join(body) + "\n" if body else "")


def _field(line: str, name: str) -> str:
    match = _FIELD.fullmatch(line.strip())
    if match is None or match.group(1).lower() != name.lower():
        raise IncorrectFormat(
            f"expected a {name}: line there (From:, To: and Subject: come in that order)"
        )
    return match.group(2).strip()
