"""An SMTP dialogue explained: each reply paired with the command it answers, each word annotated.

The input is the dialogue as people read it, one line each: ``C: …`` for what the client sent,
``S: …`` for what the server said (as :mod:`app.smtp.transcript` writes it, or as a server
records what it read and wrote), and anything else as a note of the recorder's own. The output
is a list of :class:`Step`: a command (or the message data, or a login answer) and its reply.

Replies answer commands in the order they were sent (RFC 5321 §4.3, RFC 2920 §3.1), so pairing
is a queue: commands wait in it, and each complete reply takes the oldest. Commands written
before the reply to the one before them are a pipelined group, and their steps say so.
Nothing here raises on bad input: a line it cannot read is said to be unreadable.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from app.explain import annotations as a
from app.explain.references import Ref, rfc

Side = Literal["C", "S", "note"]
StepKind = Literal["exchange", "data", "login", "note"]

#: An annotation's term (a verb, a keyword, a parameter) is cut to this many characters.
MAX_TERM = 40
#: RFC 5321 §4.5.3.1.6: 1000 octets with CRLF, so 998 without.
MAX_TEXT_LINE = 998

_REPLY_LINE = re.compile(r"([0-9]{3})([ -]|$)(.*)", re.DOTALL)
_ENHANCED = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?= |$)")
_DATA_SUMMARY = re.compile(r"<[0-9,]+ bytes of message data>")
_PATH = re.compile(r"(?i)(FROM|TO):\s*(<[^>]*>|\S*)(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Note:
    """What one word of a line means. *known* is False for a word this module does not know;
    its meaning then says so, and *ref* is at most the rule that still applies (a reply code's
    class), never a guess."""

    term: str
    meaning: str
    ref: Ref | None
    known: bool = True


@dataclass(frozen=True, slots=True)
class Line:
    side: Side
    text: str
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    """One command (or the message data, or a login answer) and the reply that answers it.

    The greeting is a step with no command; a command the dialogue shows no reply to has none.
    *group* numbers the pipelined group the command went out in (1, 2, …), ``None`` when it
    waited for the reply before it.
    """

    kind: StepKind
    command: tuple[Line, ...]
    reply: tuple[Line, ...]
    group: int | None = None
    notes: tuple[Note, ...] = ()


def explain(lines: Iterable[str]) -> list[Step]:
    """The steps of the dialogue in *lines* (``C: …``, ``S: …``, other lines as notes)."""
    reader = _Reader()
    for line in lines:
        reader.take(str(line))
    return reader.finish()


def split_line(line: str) -> tuple[Side, str]:
    """``"C: EHLO x"`` → ``("C", "EHLO x")``; a line that is neither side is a note."""
    for side in ("C", "S"):
        if line.startswith(side + ":"):
            return side, line[2:].removeprefix(" ")  # type: ignore[return-value]
    return "note", line


# --- pairing --------------------------------------------------------------------------------------


@dataclass
class _Draft:
    kind: StepKind
    verb: str = ""  # "" for the greeting, "." for the message data
    command: list[Line] = field(default_factory=list)
    reply: list[str] = field(default_factory=list)
    group: int | None = None
    notes: list[Note] = field(default_factory=list)
    data: _Data | None = None


@dataclass
class _Data:
    lines: int = 0
    octets: int = 0
    stuffed: int = 0
    single_dot: int = 0
    too_long: int = 0
    ended: bool = False


class _Reader:
    def __init__(self) -> None:
        self.drafts: list[_Draft] = []
        self.waiting: deque[_Draft] = deque()
        self.reply: list[str] = []
        self.data: _Draft | None = None  # the message data being read, after 354
        self.login = False  # after 334 the client's next line answers the challenge
        self.groups = 0
        self.replies = 0

    def take(self, line: str) -> None:
        side, text = split_line(line)
        if side == "S":
            self.reply.append(text)
            if not _continues(text):
                self._finish_reply()
            return
        if self.reply:
            self._finish_reply()  # a multi-line reply cut short
        if side == "note":
            self.drafts.append(_Draft("note", command=[Line("note", text)]))
        elif self.data is not None and _DATA_SUMMARY.fullmatch(text):
            self.drafts.remove(self.data)  # the recorder summarised the data itself
            self.data = None
            self._command(text)
        elif self.data is not None:
            self._data_line(text)
        else:
            self._command(text)

    def _command(self, text: str) -> None:
        if _DATA_SUMMARY.fullmatch(text):
            draft = _Draft("data", ".", [Line("C", text, _summary_notes())])
        elif self.login:
            draft = _Draft("login", "AUTH", [Line("C", text, (_note(text, a.SASL_RESPONSE),))])
        else:
            verb = text.split(" ", 1)[0].upper()
            draft = _Draft("exchange", verb, [Line("C", text, command_notes(text))])
        self._send(draft)

    def _send(self, draft: _Draft, *, listed: bool = False) -> None:
        if self.waiting:
            group = self.waiting[0].group
            if group is None:
                self.groups += 1
                group = self.groups
                for waiting in self.waiting:
                    waiting.group = group
            draft.group = group
        if not listed:
            self.drafts.append(draft)
        self.waiting.append(draft)

    def _data_line(self, text: str) -> None:
        assert self.data is not None
        assert self.data.data is not None
        data = self.data.data
        if text == ".":
            data.ended = True
            self.data.command.append(Line("C", ".", (_note(".", a.END_OF_DATA),)))
            self._send(self.data, listed=True)  # listed after DATA, when its 354 came
            self.data = None
            return
        data.lines += 1
        data.octets += len(text.encode("utf-8", "surrogateescape")) + 2
        data.stuffed += text.startswith("..")
        data.single_dot += text.startswith(".") and not text.startswith("..")
        data.too_long += len(text) > MAX_TEXT_LINE

    def _finish_reply(self) -> None:
        lines, self.reply = self.reply, []
        draft = self.waiting.popleft() if self.waiting else None
        if draft is None:
            draft = _Draft("exchange", "" if self.replies == 0 else "?")
            self.drafts.append(draft)
        self.replies += 1
        draft.reply = lines
        code = _code(lines[0])
        self.login = code == 334
        if draft.verb == "DATA" and code == 354:
            self.data = _Draft("data", ".", data=_Data())
            self.drafts.append(self.data)
        if draft.verb == "STARTTLS" and code == 220:
            self.drafts.append(_Draft("note", notes=[_note("TLS", a.TLS_STARTS)]))

    def finish(self) -> list[Step]:
        if self.reply:
            self._finish_reply()
        if self.data is not None and self.data.data is not None:
            self.data.notes.append(
                Note(
                    "end",
                    'The dialogue ends inside the message data: no line "." came.',
                    a.END_OF_DATA.ref,
                )
            )
        return [_step(draft) for draft in self.drafts]


def _continues(text: str) -> bool:
    """RFC 5321 §4.2.1: "250-…" says more lines follow; "250 …" or "250" is the last."""
    return len(text) > 3 and text[3] == "-" and text[:3].isascii() and text[:3].isdigit()


def _code(text: str) -> int | None:
    match = _REPLY_LINE.match(text)
    return int(match.group(1)) if match else None


def _step(draft: _Draft) -> Step:
    command = draft.command
    if draft.data is not None:
        command = [Line("C", _data_summary(draft.data), _data_notes(draft.data)), *command]
    notes = list(draft.notes)
    if draft.group is not None:
        notes.insert(0, _note(f"group {draft.group}", a.PIPELINED_GROUP))
    reply = tuple(reply_lines(draft.reply, draft.verb))
    return Step(draft.kind, tuple(command), reply, draft.group, tuple(notes))


# --- commands -------------------------------------------------------------------------------------


def command_notes(text: str) -> tuple[Note, ...]:
    """The notes of one command line: its verb, then its arguments and parameters."""
    verb, _, argument = text.partition(" ")
    verb = verb.upper()
    if not verb:
        return (Note("(empty)", "An empty line: no command at all.", rfc(5321, "4.1.1"), True),)
    known = a.COMMANDS.get(verb)
    if known is None:
        return (_unknown(verb, "command"),)
    notes = [_note(verb, known)]
    if verb in ("MAIL", "RCPT"):
        notes.extend(_path_notes(verb, argument))
    elif verb in ("EHLO", "HELO") and argument.startswith("["):
        notes.append(
            Note(
                _term(argument),
                "An address literal: the client's IP address in brackets,"
                " for a client without a domain name.",
                rfc(5321, "4.1.3"),
            )
        )
    elif verb == "AUTH":
        notes.extend(_auth_notes(argument))
    return tuple(notes)


def _path_notes(verb: str, argument: str) -> list[Note]:
    match = _PATH.match(argument)
    if match is None:
        path_rule = a.COMMANDS[verb].ref
        return [
            Note(
                _term(argument) or "(none)",
                f"Not the {verb} syntax this explainer reads:"
                f' "{"FROM" if verb == "MAIL" else "TO"}:<address>" and parameters.',
                path_rule,
                False,
            )
        ]
    notes = []
    if verb == "MAIL" and match.group(2) == "<>":
        notes.append(_note("<>", a.NULL_REVERSE_PATH))
    table = a.MAIL_PARAMETERS if verb == "MAIL" else a.RCPT_PARAMETERS
    for parameter in match.group(3).split():
        keyword = parameter.partition("=")[0].upper()
        known = table.get(keyword)
        notes.append(_note(parameter, known) if known else _unknown(parameter, f"{verb} parameter"))
    return notes


def _auth_notes(argument: str) -> list[Note]:
    mechanism, _, initial = argument.partition(" ")
    notes = [_mechanism_note(mechanism)] if mechanism else []
    if initial:
        notes.append(
            Note(
                _term(initial),
                "The initial response, sent with the command; hidden"
                " here as it may hold a password.",
                rfc(4954, "4"),
            )
        )
    return notes


def _mechanism_note(mechanism: str) -> Note:
    known = a.AUTH_MECHANISMS.get(mechanism.upper())
    if known is None:
        return _unknown(mechanism, "SASL mechanism")
    return Note(
        _term(mechanism), f"SASL mechanism {mechanism.upper()}: {known.meaning}.", known.ref
    )


# --- replies --------------------------------------------------------------------------------------


def reply_lines(lines: list[str], verb: str = "") -> list[Line]:
    """The reply's lines with their notes: the code and enhanced code on the first line, and for
    the reply to EHLO each extension on its own line. *verb* is the command answered ("" for the
    greeting, "." for the message data)."""
    if not lines:
        return []
    first = Line("S", lines[0], reply_notes(lines[0], verb))
    rest = lines[1:]
    ehlo = verb == "EHLO" and _code(lines[0]) == 250
    return [first, *(Line("S", line, keyword_notes(line) if ehlo else ()) for line in rest)]


def reply_notes(text: str, verb: str = "") -> tuple[Note, ...]:
    match = _REPLY_LINE.match(text)
    if match is None:
        return (
            Note(
                _term(text) or "(empty)",
                "Not a reply: every reply line starts with a three-digit code.",
                rfc(5321, "4.2"),
                False,
            ),
        )
    code = int(match.group(1))
    notes = [_code_note(code, verb)]
    enhanced = _ENHANCED.match(match.group(3))
    if enhanced is not None:
        notes.append(enhanced_note(enhanced.group(0), code))
    return tuple(notes)


def _code_note(code: int, verb: str) -> Note:
    known = a.REPLIES_AFTER.get((verb, code)) or a.REPLY_CODES.get(code)
    if known is not None:
        return _note(str(code), known)
    kind = a.REPLY_CLASSES.get(str(code)[0])
    if kind is None:
        return Note(
            str(code),
            f"Not a reply code: the first digit of a code is 2, 3, 4 or 5, not {str(code)[0]}.",
            rfc(5321, "4.2.1"),
            False,
        )
    about = a.REPLY_SUBJECTS.get(str(code)[1], "nothing defined")
    return Note(
        str(code),
        f"A code this explainer does not know. Its first digit says"
        f" {kind.meaning}; its second that it concerns {about}.",
        kind.ref,
        False,
    )


def enhanced_note(status: str, code: int | None = None) -> Note:
    """An enhanced status code (RFC 3463) in plain words; *code* the reply's own, to compare."""
    klass, subject, detail = status.split(".")
    meaning = f"{a.ENHANCED_CLASSES[klass].capitalize()}"
    subject_name = a.ENHANCED_SUBJECTS.get(subject)
    known = a.ENHANCED_DETAILS.get(f"{subject}.{detail}")
    if known is not None:
        meaning += f"; {subject_name}: {known.meaning}."
    elif subject_name is not None:
        meaning += f"; {subject_name}; the detail .{detail} is not one this explainer knows."
    else:
        meaning += f"; the subject .{subject}. is not one this explainer knows."
    if code is not None and str(code)[0] != klass:
        meaning += f" Its class {klass} does not agree with the reply code {code} (RFC 2034 §4)."
    ref = known.ref if known else a.ENHANCED_STRUCTURE
    return Note(status, meaning, ref, known is not None)


def keyword_notes(text: str) -> tuple[Note, ...]:
    """One line of an EHLO reply after the first: a keyword and its parameters."""
    match = _REPLY_LINE.match(text)
    words = (match.group(3) if match else text).split()
    if not words:
        return (
            Note(
                "(empty)",
                "An empty line in the EHLO reply: it names no extension.",
                rfc(5321, "4.1.1.1"),
            ),
        )
    keyword, parameters = words[0].upper(), words[1:]
    known = a.KEYWORDS.get(keyword)
    if known is None:
        kind = "a local extension (a keyword starting with X)" if keyword.startswith("X") else None
        return (_unknown(words[0], "EHLO keyword" + (f", {kind}" if kind else "")),)
    notes = [_note(keyword, known)]
    if keyword == "SIZE" and parameters:
        notes.append(_size_note(parameters[0]))
    elif keyword == "AUTH":
        notes.extend(_mechanism_note(mechanism) for mechanism in parameters)
    return tuple(notes)


def _size_note(value: str) -> Note:
    ref = a.KEYWORDS["SIZE"].ref
    if not (value.isascii() and value.isdigit()):
        return Note(
            _term(value), "Not a number of octets: the SIZE parameter is digits only.", ref, False
        )
    limit = int(value)
    meaning = (
        "No fixed limit on the message size."
        if limit == 0
        else (f"Messages up to {limit:,} octets ({_human(limit)}).")
    )
    return Note(_term(value), meaning, ref)


def _human(octets: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if octets >= size:
            return f"{octets / size:.1f} {unit}"
    return f"{octets} octets"


# --- the message data -----------------------------------------------------------------------------

_CONTENT = a.Annotation(
    "The message itself: header fields, an empty line, then the body.", rfc(5322, "2.1")
)


def _summary_notes() -> tuple[Note, ...]:
    return (
        _note("message", _CONTENT),
        _note("dot-stuffing", a.DOT_STUFFING),
        Note("end", 'Then a line holding only "." (not shown) ends the data.', a.END_OF_DATA.ref),
    )


def _data_summary(data: _Data) -> str:
    return f"<{data.lines:,} lines, {data.octets:,} octets of message data>"


def _data_notes(data: _Data) -> tuple[Note, ...]:
    notes = [_note("message", _CONTENT)]
    if data.stuffed:
        notes.append(
            Note(
                "..",
                f'{data.stuffed:,} line(s) began with "..", dot-stuffed: {a.DOT_STUFFING.meaning}',
                a.DOT_STUFFING.ref,
            )
        )
    if data.single_dot:
        notes.append(
            Note(
                ".",
                f'{data.single_dot:,} line(s) began with a single "." and more'
                ' text: the server drops that ".", so such a line was not'
                " dot-stuffed.",
                a.DOT_STUFFING.ref,
            )
        )
    if data.too_long:
        notes.append(
            Note(
                "long lines",
                f"{data.too_long:,} line(s) longer than"
                f" {MAX_TEXT_LINE} characters. {a.LINE_LENGTH.meaning}",
                a.LINE_LENGTH.ref,
            )
        )
    return tuple(notes)


# --- notes ----------------------------------------------------------------------------------------


def _term(text: str) -> str:
    return text if len(text) <= MAX_TERM else text[: MAX_TERM - 1] + "…"


def _note(term: str, annotation: a.Annotation) -> Note:
    return Note(_term(term), annotation.meaning, annotation.ref)


def _unknown(term: str, what: str) -> Note:
    return Note(
        _term(term),
        f"Not a {what} this explainer knows; its meaning is not given here rather than guessed.",
        None,
        False,
    )
