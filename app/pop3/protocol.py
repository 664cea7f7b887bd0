"""The POP3 server protocol (RFC 1939, RFC 2449, RFC 2595) with no I/O in it.

A :class:`POP3Connection` takes the bytes a client sent (:meth:`~POP3Connection.receive_data`)
and hands out events (:meth:`~POP3Connection.next_event`): a :class:`Reply` to write, a
:class:`Login` the driver must check (it owns the users, the clock and the mailbox locks) and
answer with :meth:`~POP3Connection.login_succeeded` or :meth:`~POP3Connection.login_failed`, a
:class:`StartTLS` after which the driver upgrades the transport, an :class:`Update` (QUIT: the
driver removes the deleted messages), or :data:`NEED_DATA`. It knows nothing of sockets or time;
the only thing it calls is the :class:`Maildrop` given at login, to load a message for RETR/TOP.

States (RFC 1939 §3): AUTHORIZATION → TRANSACTION → UPDATE → CLOSED; the legal commands of each
state are the table :data:`COMMANDS`, the state changes the table :data:`TRANSITIONS`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.pop3.wire import CRLF, dot_stuff, multiline, stuffed_multiline, to_crlf, top_of, wire_size
from app.words import counted

__all__ = [
    "COMMANDS",
    "MAX_COMMAND_LINE",
    "NEED_DATA",
    "TRANSITIONS",
    "Login",
    "Maildrop",
    "MaildropMessage",
    "POP3Connection",
    "Reply",
    "StartTLS",
    "State",
    "Update",
    "dot_stuff",
    "remove_messages",
    "to_crlf",
    "wire_size",
]

#: RFC 2449 §4: "command lines ... MUST NOT exceed 255 octets, including the terminating CRLF".
MAX_COMMAND_LINE = 255
IMPLEMENTATION = "QuizMail"


class State(enum.Enum):
    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"
    CLOSED = "CLOSED"


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


#: next_event() found no complete command line in what was received so far.
NEED_DATA = _NeedData()


class _TooLong:
    """Stands for a command line longer than MAX_COMMAND_LINE."""


TOO_LONG = _TooLong()


@dataclass(frozen=True)
class Reply:
    """Bytes to write; with ``close`` the driver closes the connection once they are written."""

    data: bytes
    close: bool = False


@dataclass(frozen=True)
class Login:
    """USER/PASS or APOP gave credentials: the driver checks them, then answers the connection.

    ``password`` is set for PASS, ``digest`` (32 lower-case hex digits) for APOP (RFC 1939 §7).
    """

    user: str
    password: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class StartTLS:
    """RFC 2595 §4: write ``reply``, negotiate TLS, then call ``tls_established()``."""

    reply: Reply


@dataclass(frozen=True)
class MaildropMessage:
    """One message of a maildrop snapshot.

    ``size`` is the octet count of the message as sent: CRLF line endings, before byte-stuffing
    (RFC 1939 §5 LIST, §11); :func:`wire_size` computes it. ``load`` returns the stored bytes.
    """

    uid: str
    size: int
    load: Callable[[], bytes]


@dataclass(frozen=True)
class Maildrop:
    """What a session works on: the messages at login, and how to remove one (by uid)."""

    messages: Sequence[MaildropMessage]
    delete: Callable[[str], None]


@dataclass(frozen=True)
class Update:
    """RFC 1939 §6, QUIT in TRANSACTION: remove ``uids`` (with :func:`remove_messages`, in a
    thread if the store is slow), then call ``update_done()`` and write its reply."""

    uids: tuple[str, ...]
    maildrop: Maildrop


def remove_messages(update: Update) -> int:
    """Remove the messages of *update* from its maildrop; return how many could not be."""
    failed = 0
    for uid in update.uids:
        try:
            update.maildrop.delete(uid)
        except Exception:  # the store's failure, whatever it is, is reported, never raised
            failed += 1
    return failed


Event = Reply | Login | StartTLS | Update | _NeedData


SIGN_OFF = Reply(b"+OK QuizMail POP3 server signing off\r\n", close=True)


def ok(text: str) -> Reply:
    return Reply(b"+OK " + text.encode() + CRLF)


def err(text: str, *, close: bool = False) -> Reply:
    return Reply(b"-ERR " + text.encode() + CRLF, close)


# --- the state tables ----------------------------------------------------------------------------

#: The commands each state accepts (RFC 1939 §4–§6, RFC 2449 §5 CAPA, RFC 2595 §4 STLS).
COMMANDS: dict[State, frozenset[str]] = {
    State.AUTHORIZATION: frozenset({"USER", "PASS", "APOP", "QUIT", "CAPA", "STLS"}),
    State.TRANSACTION: frozenset(
        {"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP", "UIDL", "CAPA"}
    ),
    State.UPDATE: frozenset(),
    State.CLOSED: frozenset(),
}
KNOWN_COMMANDS = frozenset().union(*COMMANDS.values())

#: State changes, keyed by the state and what happened in it (RFC 1939 §3).
TRANSITIONS: dict[tuple[State, str], State] = {
    (State.AUTHORIZATION, "login"): State.TRANSACTION,
    (State.AUTHORIZATION, "QUIT"): State.CLOSED,
    (State.AUTHORIZATION, "too many failures"): State.CLOSED,
    (State.TRANSACTION, "QUIT"): State.UPDATE,
    (State.UPDATE, "updated"): State.CLOSED,
}


class ProtocolMisuse(RuntimeError):
    """The driver called the connection at the wrong time (a local error, not the peer's)."""


@dataclass
class _Line:
    keyword: str
    args: list[str]
    rest: str  # everything after the keyword and one space: PASS takes spaces (RFC 1939 §7)


@dataclass
class POP3Connection:
    """One POP3 session seen from the server.

    ``timestamp`` is the APOP banner timestamp (``<…@host>``, RFC 1939 §7; None: no APOP
    offered, the greeting has none and APOP is refused); ``tls_available``
    offers STLS; ``plaintext_login`` allows USER/PASS without TLS (the driver allows it on
    loopback only); after ``max_failures`` failed logins the connection closes.
    """

    timestamp: str | None = None
    tls_available: bool = False
    plaintext_login: bool = True
    max_failures: int = 3
    state: State = State.AUTHORIZATION
    tls_active: bool = False
    failures: int = 0
    _buffer: bytearray = field(default_factory=bytearray)
    _discarding: bool = False
    _user: str | None = None
    _pending: Login | Update | None = None
    _maildrop: Maildrop | None = None
    _deleted: set[int] = field(default_factory=set)

    def greeting(self) -> bytes:
        """RFC 1939 §4; §7: a timestamp in the greeting is what offers APOP to a client."""
        if self.timestamp is None:
            return b"+OK QuizMail POP3 server ready" + CRLF
        return b"+OK QuizMail POP3 server ready " + self.timestamp.encode() + CRLF

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    def line_waiting(self) -> bool:
        """Whether the end of a command line is buffered: the next event will come without more
        data, so the driver may hold a reply back to write it with the next (pipelining)."""
        return b"\n" in self._buffer

    def next_event(self) -> Event:
        if self._pending is not None:
            raise ProtocolMisuse("answer the Login or Update event before asking for another")
        if self.state is State.CLOSED:
            return NEED_DATA
        raw = self._next_line()
        if raw is None:
            return NEED_DATA
        if raw is TOO_LONG:
            return err(f"command line too long: at most {MAX_COMMAND_LINE} octets with CRLF")
        assert isinstance(raw, bytes)
        try:
            line = _parse(raw)
        except UnicodeDecodeError:
            return err("command line is not valid UTF-8")
        return self._dispatch(line)

    # -- lines ------------------------------------------------------------------------------------

    def _next_line(self) -> bytes | _TooLong | None:
        """The next line with its terminator; an over-long one is reported once, then skipped."""
        end = self._buffer.find(b"\n")
        if end < 0:
            too_long = not self._discarding and len(self._buffer) >= MAX_COMMAND_LINE
            if self._discarding or too_long:
                self._buffer.clear()
                self._discarding = True
            return TOO_LONG if too_long else None
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        if self._discarding:
            self._discarding = False
            return self._next_line()
        return TOO_LONG if len(line) > MAX_COMMAND_LINE else line

    # -- dispatch ---------------------------------------------------------------------------------

    def _dispatch(self, line: _Line) -> Event:
        if not line.keyword:
            return err("empty command line: send a command such as CAPA or QUIT")
        if line.keyword not in KNOWN_COMMANDS:
            return err(f"unknown command {line.keyword[:8]!r}: CAPA lists what is supported")
        if line.keyword not in COMMANDS[self.state]:
            where = "after login" if self.state is State.TRANSACTION else "before login"
            return err(f"{line.keyword} is not allowed {where}")
        return _HANDLERS[line.keyword](self, line)

    def _goto(self, happened: str) -> None:
        self.state = TRANSITIONS[(self.state, happened)]

    # -- AUTHORIZATION (RFC 1939 §4, §7; RFC 2595 §4) ---------------------------------------------

    def _do_capa(self, _line: _Line) -> Event:
        """RFC 2449 §5: the capability list, which depends on the state and on TLS."""
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if self.state is State.AUTHORIZATION:
            if self._plaintext_allowed():
                caps.append("USER")
            if self.tls_available and not self.tls_active:
                caps.append("STLS")
        caps.append(f"IMPLEMENTATION {IMPLEMENTATION}")
        body = b"".join(cap.encode() + CRLF for cap in caps)
        return Reply(multiline(b"Capability list follows", body))

    def _plaintext_allowed(self) -> bool:
        return self.plaintext_login or self.tls_active

    def _do_stls(self, _line: _Line) -> Event:
        if self.tls_active:
            return err("TLS is already active")
        if not self.tls_available:
            return err("STLS is not available: the server has no certificate")
        # RFC 2595 §4: anything the client sent after STLS, before the handshake, is discarded.
        self._buffer.clear()
        self._user = None
        return StartTLS(ok("Begin TLS negotiation"))

    def tls_established(self) -> None:
        """The driver finished the TLS handshake; the session stays in AUTHORIZATION."""
        self.tls_active = True
        self._buffer.clear()

    def _plaintext_refusal(self) -> Reply:
        """RFC 2595 §2.1: no password in the clear off loopback; say what will work instead."""
        if self.tls_available:
            return err("[AUTH] plaintext login refused on this connection: use STLS first")
        if self.timestamp is not None:
            return err(
                "[AUTH] plaintext login refused on this connection and STLS is off: use APOP"
            )
        return err(
            "[AUTH] plaintext login refused on this connection, and neither STLS nor APOP"
            " is offered: connect over loopback"
        )

    def _do_user(self, line: _Line) -> Event:
        if not self._plaintext_allowed():
            return self._plaintext_refusal()
        if len(line.args) != 1:
            return err("USER takes one argument: the mailbox address")
        self._user = line.args[0]
        return ok("send PASS")

    def _do_pass(self, line: _Line) -> Event:
        if not self._plaintext_allowed():
            return self._plaintext_refusal()
        if self._user is None:
            return err("send USER first")
        if not line.rest:
            return err("PASS takes one argument: the password")
        user, self._user = self._user, None
        return self._await_login(Login(user, password=line.rest))

    def _do_apop(self, line: _Line) -> Event:
        if self.timestamp is None:  # RFC 1939 §7: no timestamp in the greeting, no APOP
            return err("APOP is not offered by this server: log in with USER and PASS")
        if len(line.args) != 2:
            return err("APOP takes two arguments: the name and the MD5 digest")
        name, digest = line.args
        if len(digest) != 32 or any(c not in "0123456789abcdef" for c in digest):
            return err("APOP digest must be 32 lower-case hexadecimal digits (RFC 1939 §7)")
        self._user = None
        return self._await_login(Login(name, digest=digest))

    def _await_login(self, login: Login) -> Login:
        self._pending = login
        return login

    def login_succeeded(self, maildrop: Maildrop) -> Reply:
        """Credentials are good and the mailbox is locked for this session (RFC 1939 §8)."""
        self._take_pending()
        self._maildrop = maildrop
        self._goto("login")
        count, octets = self._totals()
        return ok(f"maildrop has {counted(count, 'message')} ({octets} octets)")

    def login_failed(self, reason: str, *, counts: bool = True) -> Reply:
        """Credentials are bad (``counts``) or the login cannot proceed (e.g. mailbox in use).

        *reason* is the text after ``-ERR``, with its RFC 2449 response code.
        """
        self._take_pending()
        if counts:
            self.failures += 1
        if self.failures >= self.max_failures:
            self._goto("too many failures")
            return err(f"{reason}; too many failed logins, closing the connection", close=True)
        return err(reason)

    def _take_pending(self) -> None:
        if self._pending is None:
            raise ProtocolMisuse("no Login or Update is waiting for an answer")
        self._pending = None

    def _do_quit(self, _line: _Line) -> Event:
        if self.state is State.AUTHORIZATION:
            self._goto("QUIT")
            return SIGN_OFF
        # RFC 1939 §6: the UPDATE state removes the messages marked as deleted, then closes.
        self._goto("QUIT")
        drop = self._require_maildrop()
        update = Update(tuple(drop.messages[n - 1].uid for n in sorted(self._deleted)), drop)
        self._pending = update
        return update

    def update_done(self, failed: int) -> Reply:
        """The driver removed the Update's messages; *failed* of them could not be removed."""
        self._take_pending()
        self._goto("updated")
        if failed:
            return err(f"[SYS/TEMP] {failed} deleted messages not removed", close=True)
        return SIGN_OFF

    # -- TRANSACTION (RFC 1939 §5, §7) ------------------------------------------------------------

    def _require_maildrop(self) -> Maildrop:
        if self._maildrop is None:
            raise ProtocolMisuse("no maildrop outside the TRANSACTION state")
        return self._maildrop

    def _live(self) -> list[tuple[int, MaildropMessage]]:
        messages = self._require_maildrop().messages
        return [(n, m) for n, m in enumerate(messages, 1) if n not in self._deleted]

    def _totals(self) -> tuple[int, int]:
        live = self._live()
        return len(live), sum(m.size for _, m in live)

    def _do_stat(self, _line: _Line) -> Event:
        count, octets = self._totals()
        return Reply(b"+OK %d %d\r\n" % (count, octets))

    def _do_noop(self, _line: _Line) -> Event:
        return ok("")

    def _do_rset(self, _line: _Line) -> Event:
        self._deleted.clear()
        count, octets = self._totals()
        return ok(f"maildrop has {counted(count, 'message')} ({octets} octets)")

    def _do_list(self, line: _Line) -> Event:
        return self._listing(line, lambda n, m: b"%d %d" % (n, m.size), "scan listing")

    def _do_uidl(self, line: _Line) -> Event:
        return self._listing(line, lambda n, m: b"%d %s" % (n, m.uid.encode()), "unique-id listing")

    def _listing(
        self, line: _Line, entry: Callable[[int, MaildropMessage], bytes], what: str
    ) -> Event:
        """LIST and UIDL (RFC 1939 §5, §7): one message with an argument, every live one without."""
        if line.args:
            found = self._message(line, arity=1)
            if isinstance(found, Reply):
                return found
            return Reply(b"+OK " + entry(*found) + CRLF)
        body = b"".join(entry(n, m) + CRLF for n, m in self._live())
        return Reply(multiline(what.encode() + b" follows", body))

    def _do_dele(self, line: _Line) -> Event:
        found = self._message(line, arity=1)
        if isinstance(found, Reply):
            return found
        self._deleted.add(found[0])
        return ok(f"message {found[0]} deleted")

    def _do_retr(self, line: _Line) -> Event:
        found = self._message(line, arity=1)
        if isinstance(found, Reply):
            return found
        number, message = found
        body = self._load(number, message)
        if isinstance(body, Reply):
            return body
        return Reply(stuffed_multiline(b"%d octets" % message.size, body))

    def _do_top(self, line: _Line) -> Event:
        found = self._message(line, arity=2)
        if isinstance(found, Reply):
            return found
        number, message = found
        lines = _number(line.args[1])
        if lines is None:
            return err("TOP takes a message number and a count of lines (0 or more)")
        body = self._load(number, message)
        if isinstance(body, Reply):
            return body
        return Reply(stuffed_multiline(b"top of message follows", top_of(body, lines)))

    def _load(self, number: int, message: MaildropMessage) -> bytes | Reply:
        """The message in CRLF form; conversion adds octets, so a stored copy of the listed
        size is already in that form and is sent as it is (no scan of the bytes)."""
        try:
            raw = message.load()
        except Exception:  # the store's failure, whatever it is, is a -ERR, never a crash
            return err(f"[SYS/TEMP] message {number} can no longer be read from the store")
        return raw if len(raw) == message.size else to_crlf(raw)

    def _message(self, line: _Line, *, arity: int) -> tuple[int, MaildropMessage] | Reply:
        """The message a command names, or the -ERR that says why there is none."""
        if len(line.args) != arity:
            what = "a message number" if arity == 1 else "a message number and a count of lines"
            return err(f"{line.keyword} takes {what}")
        number = _number(line.args[0])
        messages = self._require_maildrop().messages
        if number is None or number == 0:
            return err(f"message number must be a positive integer, not {line.args[0][:12]!r}")
        if number > len(messages):
            return err(f"no message {number}: the maildrop has {counted(len(messages), 'message')}")
        if number in self._deleted:
            return err(f"message {number} is already deleted")
        return number, messages[number - 1]


#: Each command's method, looked up once rather than by name on every command.
_HANDLERS: dict[str, Callable[[POP3Connection, _Line], Event]] = {
    keyword: getattr(POP3Connection, "_do_" + keyword.lower()) for keyword in KNOWN_COMMANDS
}


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def _parse(raw: bytes) -> _Line:
    """RFC 1939 §3: a case-insensitive keyword, then arguments separated by single spaces."""
    text = raw.decode("utf-8").rstrip("\r\n")
    keyword, _, rest = text.partition(" ")
    return _Line(keyword.upper(), rest.split(), rest)
