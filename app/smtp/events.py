"""What the client can say: one small value per SMTP command.

An event checks its own arguments when it is made, so that an address with CR or LF in it
(command injection, bpo-43124) can never reach the writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.smtp.data import prepare
from app.smtp.errors import LocalProtocolError


def check_argument(what: str, value: str, *, allow_empty: bool = False) -> str:
    """Refuse CR, LF, NUL, other controls, spaces and angle brackets in an envelope argument.

    RFC 5321 §4.1.2 paths and §4.1.1.1 domains have no room for them; a CR or LF would end the
    command and start another one of the caller's choosing (bpo-43124, golang/go#21159).
    """
    if not value and not allow_empty:
        raise LocalProtocolError(f"{what} is empty")
    if value.isprintable() and " " not in value and "<" not in value and ">" not in value:
        return value
    bad = next((ch for ch in value if not ch.isprintable() or ch in " <>"), None)
    if bad is not None:
        raise LocalProtocolError(f"{what} {value!r} contains {bad!r}, which SMTP does not allow")
    return value


def needs_smtputf8(value: str) -> bool:
    """RFC 6531 §3.4: a non-ASCII address may only be sent with SMTPUTF8."""
    return not value.isascii()


class Event:
    """Base of the client's events."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Ehlo(Event):
    hostname: str

    def __post_init__(self) -> None:
        check_argument("EHLO name", self.hostname)


@dataclass(frozen=True, slots=True)
class Helo(Event):
    hostname: str

    def __post_init__(self) -> None:
        check_argument("HELO name", self.hostname)


@dataclass(frozen=True, slots=True)
class StartTLS(Event):
    pass


@dataclass(frozen=True, slots=True)
class Auth(Event):
    """``AUTH mechanism [initial-response]`` (RFC 4954 §4); the response is already base64."""

    mechanism: str
    initial_response: str | None = None

    def __post_init__(self) -> None:
        check_argument("AUTH mechanism", self.mechanism)
        if self.initial_response is not None:
            check_argument("AUTH initial response", self.initial_response, allow_empty=True)


@dataclass(frozen=True, slots=True)
class AuthResponse(Event):
    """One base64 line answering a 334 challenge (RFC 4954 §4)."""

    response: str

    def __post_init__(self) -> None:
        check_argument("AUTH response", self.response, allow_empty=True)


@dataclass(frozen=True, slots=True)
class MailFrom(Event):
    """``MAIL FROM:<sender> [parameters]``; an empty sender is the null path ``<>`` (§4.5.5)."""

    sender: str
    parameters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_argument("sender", self.sender, allow_empty=True)
        for parameter in self.parameters:
            check_argument("MAIL parameter", parameter)


@dataclass(frozen=True, slots=True)
class RcptTo(Event):
    recipient: str

    def __post_init__(self) -> None:
        check_argument("recipient", self.recipient)


@dataclass(frozen=True, slots=True)
class Data(Event):
    pass


@dataclass(frozen=True, slots=True)
class Content(Event):
    """The message itself, sent after the 354 reply to DATA.

    Made, it holds ``data``, the bytes as sent (normalised, stuffed, ended: RFC 5321 §4.5.2),
    and ``size``, what SIZE declares (RFC 1870 §3); a line over 1000 octets is refused here.
    """

    message: bytes
    data: bytes = field(init=False, repr=False, compare=False)
    size: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        size, data = prepare(self.message)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "data", data)


@dataclass(frozen=True, slots=True)
class Rset(Event):
    pass


@dataclass(frozen=True, slots=True)
class Noop(Event):
    pass


@dataclass(frozen=True, slots=True)
class Quit(Event):
    pass
