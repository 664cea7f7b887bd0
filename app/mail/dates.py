"""Date fields (RFC 5322 §3.3) and Message-IDs (RFC 5322 §3.6.4)."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime, timedelta

# RFC 5322 §3.3: day-name and month-name are these English abbreviations, whatever the locale.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MIN_YEAR = 1900  # RFC 5322 §3.3: year is at least four digits and 1900 or later
_MINUTE = timedelta(minutes=1)
# RFC 5322 §3.2.3: dot-atom-text := 1*atext *("." 1*atext), atext the printable ASCII
# characters other than the specials; so no dot at either end and never two in a row.
_DOT_ATOM_TEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*"
_ID_RIGHT = re.compile(_DOT_ATOM_TEXT)
# RFC 5322 §3.6.4: no-fold-literal := "[" *dtext "]"; dtext := %d33-90 / %d94-126 (§3.4.1)
_NO_FOLD_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]*\]"
_LITERAL = re.compile(_NO_FOLD_LITERAL)
# RFC 5322 §3.6.4: msg-id := "<" id-left "@" id-right ">"; id-left := dot-atom-text;
# id-right := dot-atom-text / no-fold-literal (the obsolete forms are not generated).
_MSG_ID = re.compile(rf"<{_DOT_ATOM_TEXT}@(?:{_DOT_ATOM_TEXT}|{_NO_FOLD_LITERAL})>")
MAX_MESSAGE_ID = 998 - len("Message-ID: ")  # RFC 5322 §2.1.1: the field fits one line
FALLBACK_DOMAIN = "quizmail.invalid"  # RFC 2606 §2: a name that can never clash with a real one


def _aware(when: datetime | None) -> tuple[datetime, timedelta]:
    """when (now in UTC if None) and its offset from UTC in whole minutes."""
    if when is None:
        return datetime.now(UTC), timedelta(0)
    if not isinstance(when, datetime):
        raise TypeError(f"date must be a datetime, not {type(when).__name__}")
    offset = when.utcoffset()
    if offset is None:
        raise ValueError("date must be timezone-aware, e.g. datetime.now(UTC)")
    if offset % _MINUTE:  # RFC 5322 §3.3: the zone is hours and minutes only
        return when.astimezone(UTC), timedelta(0)
    return when, offset


def format_date(when: datetime | None = None) -> str:
    """RFC 5322 §3.3 date-time, e.g. "Mon, 23 Nov 2026 09:05:00 +0100"; now (UTC) by default.

    Built from tables, never strftime, whose names follow the locale.
    """
    when, offset = _aware(when)
    if when.year < MIN_YEAR:
        raise ValueError(f"date must be in {MIN_YEAR} or later (RFC 5322 §3.3)")
    minutes = offset // _MINUTE
    sign = "-" if minutes < 0 else "+"
    zone = "{}{:02d}{:02d}".format(sign, *divmod(abs(minutes), 60))
    return (
        f"{_DAYS[when.weekday()]}, {when.day:02d} {_MONTHS[when.month - 1]} {when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {zone}"
    )


def _id_domain(domain: str) -> str:
    """domain as an ASCII id-right: IDNA for non-ASCII names, a fallback when unusable."""
    if _LITERAL.fullmatch(domain) or _ID_RIGHT.fullmatch(domain):
        return domain
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return FALLBACK_DOMAIN
    return ascii_domain if _ID_RIGHT.fullmatch(ascii_domain) else FALLBACK_DOMAIN


def make_message_id(domain: str) -> str:
    """A new `<unique@domain>` (RFC 5322 §3.6.4): time, then 64 random bits, then domain."""
    return f"<{time.time_ns():x}.{secrets.token_hex(8)}@{_id_domain(domain)}>"


def check_message_id(value: str) -> str:
    """value as an RFC 5322 §3.6.4 msg-id `<id-left@id-right>`, adding the angle brackets
    when missing; ValueError naming the field otherwise.

    id-left is dot-atom-text (RFC 5322 §3.2.3: atext and single dots between them), id-right
    dot-atom-text or a no-fold-literal such as "[192.0.2.1]"; so no second "@", no quotes,
    parentheses, commas, colons, semicolons or backslashes, and no empty dot-separated part.
    """
    candidate = value if value.startswith("<") else f"<{value}>"
    if len(candidate) > MAX_MESSAGE_ID or not _MSG_ID.fullmatch(candidate):
        raise ValueError(
            "message_id must look like <unique@domain> (RFC 5322 §3.6.4): letters, digits and "
            "!#$%&'*+-/=?^_`{|}~ with single dots between them on each side of one @, or a "
            f"[literal] after it: {value!r}"
        )
    return candidate
