"""Checks of one message as it arrived: its data (line ends, lengths, 8-bit, dot-stuffing, SIZE)
and its header section (required fields, Date, Message-ID, MIME-Version, encoded-words).

The header is read from what the session log kept (app.store.session_record: shown text, so
an octet that is not UTF-8 reads as ``\\xNN``); the checks say so when it was cut short.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Callable
from datetime import date

from app.conformance.findings import Findings
from app.store.session_record import MessageData

__all__ = ["check_message", "date_problem"]

#: RFC 5322 §2.1.1: characters of a line without its CRLF.
MAX_LINE = 998
#: RFC 2047 §2.
MAX_ENCODED_WORD = 75
#: Reports one finding: its rule's code and what was wrong.
Add = Callable[[str, str], None]
ADDRESS_FIELDS = frozenset({"from", "sender", "reply-to", "to", "cc", "bcc"})

_FIELD_NAME = re.compile(r"[!-9;-~]+")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE = re.compile(
    r"\s*(?:(?P<dow>[A-Za-z]+)\s*,\s*)?(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]+)\s+"
    r"(?P<year>\d{2,4})\s+(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?\s+"
    r"(?P<zone>[+-]\d{4}|[A-Za-z]{1,5})\s*(?:\([^()]*\)\s*)?"
)
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_MESSAGE_ID = re.compile(
    rf"\s*<{_ATEXT}(?:\.{_ATEXT})*@(?:{_ATEXT}(?:\.{_ATEXT})*|\[[^\[\]\\]*\])>\s*"
)
_MIME_VERSION = re.compile(r"\s*1\s*\.\s*0\s*(?:\([^()]*\)\s*)?")
_CANDIDATE = re.compile(r"=\?[^\s]*?\?=")
_ENCODED_WORD = re.compile(
    r"=\?(?P<charset>[^\x00-\x20()<>@,;:\"/\[\]?.=*]+)(?:\*[A-Za-z0-9-]+)?\?"
    r"(?P<encoding>[^?]*)\?(?P<text>[!->@-~]*)\?="
)
_Q_TEXT = re.compile(r"(?:[!-<>@-~]|=[0-9A-Fa-f]{2})*")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_ANGLE = re.compile(r"<[^<>]*>")


def check_message(
    found: Findings, number: int, line: int, message: MessageData, parameters: dict[str, str]
) -> None:
    """Check message *number* (1-based), whose data is line *line* of the dialogue, sent under
    a MAIL FROM with *parameters*."""
    _data(found, number, line, message, parameters)
    _header(found, number, line, message, parameters)


def _data(
    found: Findings, number: int, line: int, message: MessageData, parameters: dict[str, str]
) -> None:
    def add(code: str, what: str) -> None:
        found.add(code, f"Message {number}: {what}", line, number)

    if message.bare_lf:
        add("bare-lf", f"{message.bare_lf:,} bare LF(s) in the message data.")
    if message.bare_cr:
        add("bare-cr", f"{message.bare_cr:,} bare CR(s) in the message data.")
    if message.nul:
        add("nul-in-data", f"{message.nul:,} NUL octet(s) in the message data.")
    if message.too_long:
        add("data-line-too-long", f"{message.too_long:,} line(s) over 1000 octets with CRLF"
            f" (the longest: {message.longest:,}).")  # fmt: skip
    body_eight_bit = message.eight_bit - message.header_eight_bit
    smtputf8 = "SMTPUTF8" in parameters
    if body_eight_bit > 0 and parameters.get("BODY", "").upper() != "8BITMIME" and not smtputf8:
        add("eight-bit-data", f"{body_eight_bit:,} octet(s) with the high bit set, without"
            " BODY=8BITMIME on MAIL FROM.")  # fmt: skip
    if message.header_eight_bit and not smtputf8:
        add("utf8-header", f"{message.header_eight_bit:,} non-ASCII octet(s) in the header"
            " section, without SMTPUTF8 on MAIL FROM.")  # fmt: skip
    _dot_stuffing(found, number, line, message)
    _size(found, number, line, message, parameters.get("SIZE"))


def _dot_stuffing(found: Findings, number: int, line: int, message: MessageData) -> None:
    if message.unstuffed:
        found.add(
            "dot-stuffing",
            f'Message {number}: {message.unstuffed:,} line(s) arrived as a single "." and more'
            ' text. A client that dot-stuffs never sends that: the line began with "." and'
            ' was not stuffed, and the server dropped that first ".".',
            line,
            number,
        )
    elif message.stuffed:
        found.cannot_know(
            f'Message {number}: {message.stuffed:,} line(s) arrived as "..": dot-stuffed'
            ' lines that began with ".", or lines that began with ".." and were not stuffed;'
            " the server cannot tell which."
        )
    elif message.ended:
        found.cannot_know(
            f'Message {number}: no line began with ".", so nothing shows whether the client'
            ' dot-stuffs. (A line holding only "." would have ended the data early: the rest'
            " would then show as commands.)"
        )


def _size(
    found: Findings, number: int, line: int, message: MessageData, declared: str | None
) -> None:
    if declared is None or not message.ended:
        return
    if not declared.isascii() or not declared.isdigit():
        what = f"SIZE={declared} is not a number of octets."
    elif int(declared) != message.size:
        sent = f"{message.size:,} octets were sent"
        what = f"SIZE={int(declared):,} was declared but {sent}."
    else:
        return
    found.add("size-declared", f"Message {number}: {what}", line, number)


# --- the header section --------------------------------------------------------------------------


def _header(
    found: Findings, number: int, line: int, message: MessageData, parameters: dict[str, str]
) -> None:
    def add(code: str, what: str) -> None:
        found.add(code, f"Message {number}: {what}", line, number)

    fields = _fields(message, add)
    names = [name for name, _ in fields]
    if not message.header_complete:
        found.cannot_know(
            f"Message {number}: its header section "
            + ("did not end (no empty line came)" if message.ended else "was cut short")
            + " within what was kept, so the header checks saw only part of it."
        )
    else:
        for name, code in (("from", "header-from"), ("date", "header-date")):
            if names.count(name) != 1:
                count = names.count(name)
                title = name.capitalize()
                add(code, f"{count} {title} fields." if count else f"no {title} field.")
        if "message-id" not in names:
            add("message-id-missing", "no Message-ID field.")
        if "mime-version" not in names and {"content-type", "content-transfer-encoding"} & set(
            names
        ):
            add("mime-version", "Content-Type or Content-Transfer-Encoding without MIME-Version.")
    if names.count("message-id") > 1:
        add("message-id-form", "more than one Message-ID field.")
    for name, value in fields:
        _field(name, value, add)


def _fields(message: MessageData, add: Add) -> list[tuple[str, str]]:
    """The header's fields as (lower-case name, unfolded value); reports lines that are none."""
    fields: list[tuple[str, str]] = []
    for index, (text, octets) in enumerate(message.header, 1):
        if octets > MAX_LINE:
            add("header-line-too-long", f"header line {index} is {octets:,} characters.")
        if text[:1] in (" ", "\t") or text.startswith("\\t"):
            if fields:
                name, value = fields[-1]
                fields[-1] = (name, value + " " + text.lstrip(" \t").removeprefix("\\t"))
                continue
            add("header-syntax", "the header section begins with a continuation line.")
            continue
        name, colon, value = text.partition(":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            shown = text if len(text) <= 60 else text[:59] + "…"
            add("header-syntax", f'header line {index}, "{shown}", is no field (name, colon,'
                " value): was the empty line before the body missing?")  # fmt: skip
            break  # what follows is most likely the body
        fields.append((name.lower(), value))
    return fields


def _field(name: str, value: str, add: Add) -> None:
    if name == "date":
        problem = date_problem(value)
        if problem:
            add("date-form", f'Date "{value.strip()}": {problem}.')
    elif name == "message-id" and not _MESSAGE_ID.fullmatch(value):
        add("message-id-form", f'Message-ID "{value.strip()}" is not <id-left@id-right>.')
    elif name == "mime-version" and not _MIME_VERSION.fullmatch(value):
        add("mime-version", f'MIME-Version is "{value.strip()}", not 1.0.')
    if "=?" in value:
        for code, what in encoded_word_problems(name, value):
            add(code, f"{name.capitalize()}: {what}.")


def date_problem(value: str) -> str | None:
    """What keeps *value* from being an RFC 5322 §3.3 date-time, or None."""
    match = _DATE.fullmatch(value)
    if match is None:
        return 'it is not "[Day,] DD Mon YYYY hh:mm[:ss] +zzzz"'
    return _date_words_problem(match) or _date_values_problem(match)


def _date_words_problem(match: re.Match[str]) -> str | None:
    dow, zone = match["dow"], match["zone"]
    if match["month"] not in _MONTHS or (dow is not None and dow not in _DAYS):
        return "day and month names are English, in this case: Mon, Jan"
    if not zone[1:].isdigit():
        return f"{zone} is an obsolete zone; write it as +hhmm/-hhmm (§4.3)"
    if len(match["year"]) != 4:
        return "a two- or three-digit year is obsolete syntax (§4.3)"
    return None


def _date_values_problem(match: re.Match[str]) -> str | None:
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"] or 0)
    if hour > 23 or minute > 59 or second > 60 or int(match["zone"][3:]) > 59:
        return "the time of day is out of range"
    try:
        day = date(int(match["year"]), _MONTHS.index(match["month"]) + 1, int(match["day"]))
    except ValueError:
        return "no such day"
    dow = match["dow"]
    if dow is not None and _DAYS[day.weekday()] != dow:
        return f"{day.isoformat()} is a {_DAYS[day.weekday()]}, not a {dow}"
    return None


def encoded_word_problems(name: str, value: str) -> list[tuple[str, str]]:
    """RFC 2047 problems of the encoded-words in a field's *value*."""
    problems: list[tuple[str, str]] = []
    spans = [m.span() for m in _CANDIDATE.finditer(value)]
    for start in (m.start() for m in re.finditer(r"=\?", value)):
        if not any(a <= start < b for a, b in spans):
            word = value[start:].split(None, 1)[0] if value[start:].strip() else "=?"
            problems.append(("encoded-word-syntax", f"{word} begins an encoded-word that does"
                             " not end in ?= before a space"))  # fmt: skip
            break
    for candidate in _CANDIDATE.finditer(value):
        word = candidate.group()
        problem = _word_problem(word)
        if problem:
            problems.append(problem)
            continue
        before = value[candidate.start() - 1] if candidate.start() else " "
        after = value[candidate.end()] if candidate.end() < len(value) else " "
        if not (before in ' \t("' and after in ' \t),"'):
            problems.append(("encoded-word-place", f"{word} touches the text next to it"))
    inside = [m.group() for m in _QUOTED.finditer(value)]
    if name in ADDRESS_FIELDS:
        inside += [m.group() for m in _ANGLE.finditer(value)]
    for part in inside:
        if _ENCODED_WORD.search(part):
            where = "a quoted string" if part.startswith('"') else "an address"
            problems.append(("encoded-word-place", f"an encoded-word inside {where}: {part}"))
    return problems


def _word_problem(word: str) -> tuple[str, str] | None:
    match = _ENCODED_WORD.fullmatch(word)
    if match is None:
        return "encoded-word-syntax", f"{word} is not =?charset?B-or-Q?text?="
    if len(word) > MAX_ENCODED_WORD:
        return "encoded-word-syntax", f"{word[:30]}… is {len(word)} characters (at most 75)"
    octets = _decoded(match["encoding"].upper(), match["text"])
    if isinstance(octets, str):
        return "encoded-word-encoding", f"{word}: {octets}"
    try:
        codec = codecs.lookup(match["charset"])
    except LookupError:
        return None  # a charset this check does not know: not said to be wrong
    try:
        octets.decode(codec.name)
    except UnicodeDecodeError:
        return (
            "encoded-word-place",
            f"{word} does not hold whole {match['charset']} characters (a character split"
            " across words?)",
        )
    return None


def _decoded(encoding: str, text: str) -> bytes | str:
    """The octets of an encoded-word's text, or what is wrong with it."""
    if encoding == "B":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return "not valid base64"
    if encoding == "Q":
        if not _Q_TEXT.fullmatch(text):
            return "not valid Q encoding"
        return binascii.a2b_qp(text.replace("_", " "), header=True)
    return f"encoding {encoding!r} is not B or Q"
