"""Checks of the client's commands: line ends, order, pipelining, MAIL and RCPT syntax, QUIT.

The walk replays the dialogue as the server lived it: replies answer the client's commands in
order (RFC 5321 §4.3), so a queue pairs them; each client line knows how many replies had been
sent when it arrived (app.capture.recorder), which shows what it was sent ahead of.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from app.conformance.findings import Findings
from app.conformance.message import check_message
from app.store.session_record import MessageData, SessionRecord, WireLine

__all__ = ["check_dialogue"]

#: RFC 5321 §4.5.3.1.4: a command line with its CRLF.
MAX_COMMAND_LINE = 512
#: RFC 2920 §3.1: these end a pipelined group.
LAST_IN_GROUP = frozenset({"EHLO", "HELO", "DATA", "VRFY", "EXPN", "TURN", "QUIT", "NOOP"})
#: Which EHLO keyword offers each MAIL/RCPT parameter (RFC 1870, 6152, 6531, 3461, 4954, 8689).
PARAMETER_EXTENSION = {
    "SIZE": "SIZE", "BODY": "8BITMIME", "SMTPUTF8": "SMTPUTF8", "RET": "DSN", "ENVID": "DSN",
    "NOTIFY": "DSN", "ORCPT": "DSN", "AUTH": "AUTH", "REQUIRETLS": "REQUIRETLS",
    "MT-PRIORITY": "MT-PRIORITY", "BY": "DELIVERBY", "HOLDFOR": "FUTURERELEASE",
    "HOLDUNTIL": "FUTURERELEASE", "MTRK": "MTRK",
}  # fmt: skip

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = rf'(?:{_ATOM}(?:\.{_ATOM})*|"(?:[^"\\]|\\\\.)*")'
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[^\[\]\\]+\])"  # noqa: E501
#: RFC 5321 §4.1.2 Path, with RFC 6531's UTF-8 letters allowed (their need is checked apart).
_MAILBOX = re.compile(rf"(?:@[^:,]+(?:,@[^:,]+)*:)?{_LOCAL}@{_DOMAIN}", re.UNICODE)
_PARAMETER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*(?:=[!-<>-~]+)?")
_ESCAPED_HIGH = re.compile(r"(?<!\\)(?:\\\\)*\\x[89A-F][0-9A-F]")


@dataclass
class _Transaction:
    mail_line: int
    parameters: dict[str, str]
    open: bool = False


@dataclass
class _Walk:
    record: SessionRecord
    found: Findings
    helo: str | None = None
    extensions: set[str] = field(default_factory=set)
    units: list[str] = field(default_factory=list)  # what the client sent, each owed a reply
    waiting: deque[tuple[str, int]] = field(default_factory=deque)
    reply: list[str] = field(default_factory=list)
    transaction: _Transaction | None = None
    pending_mail: _Transaction | None = None
    quit_sent: bool = False

    def line(self, number: int, line: WireLine) -> None:
        if line.side == "S":
            self.reply.append(line.text)
            if line.text[3:4] != "-":
                self._answered(line.text[:3])
        elif line.side == "note":
            if line.text.startswith("TLS started"):
                self.helo, self.extensions, self.transaction = None, set(), None
        else:
            self._client(number, line)

    # --- the client's lines ---

    def _client(self, number: int, line: WireLine) -> None:
        verb = line.text.split(" ", 1)[0].upper() if line.kind == "command" else line.kind
        self._timing(number, line, verb)
        self._line_form(number, line)
        self.units.append(verb)
        self.waiting.append((verb, number))
        if line.kind == "data" and line.message is not None:
            self._message(number, line.message, self.record.messages[line.message])
        elif line.kind == "command":
            self._command(number, line, verb)

    def _timing(self, number: int, line: WireLine, verb: str) -> None:
        owed = 1 + len(self.units) - line.replies  # the greeting is owed first
        if line.replies == 0:
            self.found.add("before-greeting", f"{_what(verb)} came before the 220 greeting.",
                           number)  # fmt: skip
            return
        if owed <= 0:
            return
        ahead = self.units[-owed:]
        if "PIPELINING" not in self.extensions:
            self.found.add(
                "unadvertised-pipelining",
                f"{_what(verb)} was sent before the reply to {_what(ahead[-1])}, and the server"
                " had not advertised PIPELINING.",
                number,
            )
            return
        blocking = [unit for unit in ahead if unit in LAST_IN_GROUP]
        if blocking:
            self.found.add(
                "pipelining-group-end",
                f"{_what(verb)} was sent before the reply to {blocking[-1]}, which must end"
                " its group.",
                number,
            )

    def _line_form(self, number: int, line: WireLine) -> None:
        if line.kind == "data":
            return  # counted per message
        where = "a command line" if line.kind == "command" else "an AUTH line"
        if line.ending == "LF":
            self.found.add("bare-lf", f"{where.capitalize()} ended in a bare LF.", number)
        if line.bare_cr:
            self.found.add("bare-cr", f"{where.capitalize()} held a bare CR.", number)
        if line.octets > MAX_COMMAND_LINE:
            self.found.add(
                "command-too-long",
                f"{where.capitalize()} of {line.octets:,} octets (at most {MAX_COMMAND_LINE}).",
                number,
            )

    def _command(self, number: int, line: WireLine, verb: str) -> None:
        argument = line.text[len(verb) :]
        if verb in ("MAIL", "RCPT"):
            self._path_command(number, verb, argument)
        elif verb == "QUIT":
            self.quit_sent = True
        elif verb == "HELO" and "EHLO" not in self.units[:-1]:
            self.found.add("helo-not-ehlo", "The client greeted with HELO, not EHLO.", number)
        elif line.text == ".":
            self.found.add(
                "dot-stuffing",
                'A line "." arrived as a command after the message data: most likely a line'
                ' "." inside the message was sent unstuffed, ended the data early, and the'
                " rest of the message was read as commands.",
                number,
            )

    def _path_command(self, number: int, verb: str, argument: str) -> None:
        if verb == "MAIL":
            if self.helo is None:
                self.found.add("mail-before-helo", "MAIL came before any EHLO or HELO.",
                               number)  # fmt: skip
            if self.transaction is not None and self.transaction.open:
                self.found.add(
                    "transaction-open",
                    "MAIL was sent while the transaction begun on line"
                    f" {self.transaction.mail_line} was still open (no RSET).",
                    number,
                )
        problem, path, parameters = parse_path_command(verb, argument)
        if problem:
            self.found.add("path-syntax", f"{verb}: {problem}.", number)
        self._parameters(number, verb, parameters)
        if path is not None and _has_eight_bit(path):
            mail = self.pending_mail or self.transaction
            declared = parameters if verb == "MAIL" else mail.parameters if mail else {}
            if "SMTPUTF8" not in declared:
                self.found.add(
                    "utf8-address",
                    f"{verb} named the non-ASCII address {path} without SMTPUTF8 on MAIL FROM.",
                    number,
                )
        if verb == "MAIL":
            self.pending_mail = _Transaction(number, parameters)

    def _parameters(self, number: int, verb: str, parameters: dict[str, str]) -> None:
        for keyword, value in parameters.items():
            needed = PARAMETER_EXTENSION.get(keyword, keyword)
            if keyword == "BODY" and value.upper() == "BINARYMIME":
                needed = "BINARYMIME"
            if needed not in self.extensions:
                offered = (
                    "after HELO, which offers none"
                    if self.helo == "HELO"
                    else ("not offered in the EHLO reply" if self.helo else "before any EHLO")
                )
                self.found.add("unoffered-parameter",
                               f"{verb} carried {keyword}, which needs {needed}: {offered}.",
                               number)  # fmt: skip

    def _message(self, number: int, index: int, message: MessageData) -> None:
        parameters = self.transaction.parameters if self.transaction else {}
        check_message(self.found, index + 1, number, message, parameters)

    # --- the server's replies ---

    def _answered(self, code: str) -> None:
        lines, self.reply = self.reply, []
        verb, _ = self.waiting.popleft() if self.waiting else ("", 0)
        ok = code.startswith("2")
        if verb in ("EHLO", "HELO") and ok:
            self.helo, self.transaction = verb, None
            self.extensions = set()
            if verb == "EHLO":
                self.extensions = {text[4:].split(" ", 1)[0].upper() for text in lines[1:]}
        elif verb == "MAIL":
            mail, self.pending_mail = self.pending_mail, None
            if ok and mail is not None:
                mail.open = True
                self.transaction = mail
        elif (verb == "RSET" and ok) or verb == "data":
            self.transaction = None

    def finish(self) -> None:
        if self.record.ended_by == "client" and not self.quit_sent:
            self.found.add("no-quit", "The client closed the connection without sending QUIT.")


def check_dialogue(record: SessionRecord, found: Findings) -> None:
    walk = _Walk(record, found)
    for number, line in enumerate(record.lines, 1):
        walk.line(number, line)
    walk.finish()
    if record.lines_dropped:
        found.cannot_know(
            f"{record.lines_dropped:,} lines past the first {len(record.lines):,} were not kept,"
            " so they were not checked."
        )


def parse_path_command(verb: str, argument: str) -> tuple[str | None, str | None, dict[str, str]]:
    """What is wrong with ``MAIL``/``RCPT`` *argument* (None if nothing), its path, parameters.

    Lenient in what it reads (as the server is), strict in what it reports: the reply the
    server gave does not matter, a tolerated mistake is still one.
    """
    keyword = "FROM" if verb == "MAIL" else "TO"
    match = re.match(rf"(?i)(\s*)({keyword})(\s*)(:?)(\s*)(.*)", argument, re.DOTALL)
    if match is None or not match.group(2):
        return f'the argument does not begin with "{keyword}:"', None, {}
    before, _, around, colon, after, rest = match.groups()
    if not colon:
        return f'no colon after "{keyword}"', None, {}
    problems = []
    if before != " ":
        problems.append(f'one space, not {len(before)}, goes between {verb} and "{keyword}:"')
    if around or after:
        problems.append("spaces are not permitted on either side of the colon")
    path, _, params_text = rest.partition(">") if rest.startswith("<") else ("", "", rest)
    if not rest.startswith("<") or not _:
        address = rest.split(" ", 1)[0]
        problems.append("the address is not in angle brackets")
        return "; ".join(problems), address, _parameters(rest.partition(" ")[2])[1]
    path = path[1:]
    if path == "" and verb == "RCPT":
        problems.append("RCPT TO:<> names no recipient (only MAIL FROM may be <>)")
    elif path and not _MAILBOX.fullmatch(path):
        problems.append(f"<{path}> is not an address of the form local-part@domain")
    if params_text and not params_text.startswith(" "):
        problems.append("parameters are separated from the address by one space")
    trouble, parameters = _parameters(params_text[1:] if params_text.startswith(" ") else "")
    if trouble or params_text.endswith(" "):
        problems.append(trouble or "the line ends in a space")
    return ("; ".join(problems) or None), path, parameters


def _parameters(text: str) -> tuple[str | None, dict[str, str]]:
    parameters: dict[str, str] = {}
    trouble = None
    for word in text.split(" ") if text else ():
        if not _PARAMETER.fullmatch(word):
            trouble = trouble or (
                "two spaces in a row" if not word else f"{word!r} is not keyword[=value]"
            )
            continue
        keyword, _, value = word.partition("=")
        parameters[keyword.upper()] = value
    return trouble, parameters


def _has_eight_bit(text: str) -> bool:
    return not text.isascii() or bool(_ESCAPED_HIGH.search(text))


def _what(unit: str) -> str:
    return {"data": "The message data", "secret": "An AUTH answer"}.get(unit, unit or "A line")
