"""The commands a POP3 client sends (RFC 1939 §4–§7, RFC 2449 §5 CAPA, RFC 2595 §4 STLS).

Each command is a small value; :func:`write` turns it into its line, checked first, and
:meth:`Command.describe` into its transcript line, with secrets left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from app.pop3client.errors import LocalProtocolError

CRLF = b"\r\n"
#: RFC 2449 §4: "command lines ... MUST NOT exceed 255 octets, including the terminating CRLF".
MAX_COMMAND_LINE = 255
#: RFC 1939 §3: arguments are printable; a CR, LF or NUL would end or break the line, and any
#: other control character has no business in a user name or a password.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Command:
    """One command line. ``multiline``: a positive response carries a body (RFC 1939 §3)."""

    keyword: ClassVar[str] = ""
    #: Nothing may follow this command before its response (STLS: RFC 2595 §4; login and QUIT
    #: change the state, so what could follow them is not known yet).
    barrier: ClassVar[bool] = False

    @property
    def arguments(self) -> tuple[str, ...]:
        return ()

    @property
    def multiline(self) -> bool:
        return False

    def describe(self) -> str:
        """The line as the transcript shows it."""
        return " ".join((self.keyword, *self.arguments))


class Greeting(Command):
    """What the server's first line answers: the connection itself (RFC 1939 §4)."""

    barrier = True

    def describe(self) -> str:
        return "the connection"


@dataclass(frozen=True, slots=True)
class Capa(Command):
    keyword = "CAPA"

    @property
    def multiline(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Stls(Command):
    keyword = "STLS"
    barrier = True


@dataclass(frozen=True, slots=True)
class User(Command):
    keyword = "USER"
    name: str = ""

    @property
    def arguments(self) -> tuple[str, ...]:
        return (self.name,)


@dataclass(frozen=True, slots=True)
class Pass(Command):
    keyword = "PASS"
    barrier = True
    password: str = ""

    @property
    def arguments(self) -> tuple[str, ...]:
        return (self.password,)

    def describe(self) -> str:
        return "PASS <password>"


@dataclass(frozen=True, slots=True)
class Apop(Command):
    keyword = "APOP"
    barrier = True
    name: str = ""
    digest: str = ""

    @property
    def arguments(self) -> tuple[str, ...]:
        return (self.name, self.digest)

    def describe(self) -> str:
        # The digest is the password's MD5 with a public timestamp: a guessing aid, left out.
        return f"APOP {self.name} <digest>"


@dataclass(frozen=True, slots=True)
class Stat(Command):
    keyword = "STAT"


@dataclass(frozen=True, slots=True)
class _Numbered(Command):
    """A command on one message, by its number in this session (RFC 1939 §5)."""

    number: int = 0

    @property
    def arguments(self) -> tuple[str, ...]:
        return (str(self.number),)


@dataclass(frozen=True, slots=True)
class _Listing(Command):
    """LIST and UIDL: every message (a multi-line listing), or one (a status line)."""

    number: int | None = None

    @property
    def arguments(self) -> tuple[str, ...]:
        return () if self.number is None else (str(self.number),)

    @property
    def multiline(self) -> bool:
        return self.number is None


@dataclass(frozen=True, slots=True)
class List(_Listing):
    """LIST: each message's size in octets."""

    keyword = "LIST"


@dataclass(frozen=True, slots=True)
class Uidl(_Listing):
    """UIDL (RFC 1939 §7): each message's unique id, the same in every session."""

    keyword = "UIDL"


@dataclass(frozen=True, slots=True)
class Top(Command):
    keyword = "TOP"
    number: int = 0
    lines: int = 0

    @property
    def arguments(self) -> tuple[str, ...]:
        return (str(self.number), str(self.lines))

    @property
    def multiline(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Retr(_Numbered):
    keyword = "RETR"

    @property
    def multiline(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Dele(_Numbered):
    keyword = "DELE"


@dataclass(frozen=True, slots=True)
class Rset(Command):
    keyword = "RSET"


@dataclass(frozen=True, slots=True)
class Noop(Command):
    keyword = "NOOP"


@dataclass(frozen=True, slots=True)
class Quit(Command):
    keyword = "QUIT"
    barrier = True


_NUMBERED = (_Listing, _Numbered, Top)


def write(command: Command) -> bytes:
    """The command's line, CRLF-terminated; a line the protocol forbids raises first."""
    _check(command)
    line = " ".join((command.keyword, *command.arguments)).encode("utf-8") + CRLF
    if len(line) > MAX_COMMAND_LINE:
        raise LocalProtocolError(
            f"the {command.keyword} line would be {len(line)} octets; "
            f"RFC 2449 §4 allows {MAX_COMMAND_LINE}"
        )
    return line


def _check(command: Command) -> None:
    if isinstance(command, Greeting) or not command.keyword:
        raise LocalProtocolError(f"{command!r} is not a command a client sends")
    for argument in command.arguments:
        if _CONTROL.search(argument):
            raise LocalProtocolError(
                f"{command.keyword}: an argument holds a control character (CR, LF, NUL …)"
            )
    if isinstance(command, (User, Apop)) and (not command.name or " " in command.name):
        # RFC 1939 §7: PASS may hold spaces (one argument to the end of the line); a name may not.
        raise LocalProtocolError(
            f"{command.keyword}: a user name is one word, not {command.name!r}"
        )
    if isinstance(command, _NUMBERED):
        numbers = [n for n in (getattr(command, "number", None),) if n is not None]
        if any(n < 1 for n in numbers) or (isinstance(command, Top) and command.lines < 0):
            raise LocalProtocolError(
                f"{command.keyword}: message numbers start at 1 (RFC 1939 §5), and TOP's line "
                "count is not negative"
            )
