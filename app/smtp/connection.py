"""The sans-IO core of the client, after h11: events in, bytes out; bytes in, replies out.

:class:`ClientConnection` knows the state of the dialogue and which reply answers which command.
It never touches a socket, a clock or a thread: the driver in :mod:`app.smtp.client` does.

Every legal move is one entry of :data:`TRANSITIONS`, keyed by the state and what happened: either
an event we send, or a reply classified by the command it answers and its :class:`Outcome`.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

from app.smtp.errors import LocalProtocolError, RemoteProtocolError
from app.smtp.events import (
    Auth,
    AuthResponse,
    Content,
    Data,
    Ehlo,
    Event,
    Helo,
    MailFrom,
    Noop,
    Quit,
    RcptTo,
    Rset,
    StartTLS,
    needs_smtputf8,
)
from app.smtp.extensions import Extensions
from app.smtp.replies import Reply, ReplyReader
from app.smtp.writer import describe, write


class Greeting:
    """What the server's first reply answers: the connection itself (RFC 5321 §3.1)."""


class TLSEstablished:
    """The driver finished the TLS handshake after a 220 to STARTTLS (RFC 3207 §4.2)."""


Command = Event | Greeting
TransitionKey = type[Event] | type[TLSEstablished] | tuple[type[Command], "Outcome"]


class State(Enum):
    GREETING = "waiting for the greeting"
    HELLO = "greeted, waiting to send EHLO or HELO"
    HELLO_SENT = "waiting for the reply to EHLO or HELO"
    READY = "ready for a transaction"
    STARTTLS_SENT = "waiting for the reply to STARTTLS"
    TLS_HANDSHAKE = "waiting for the TLS handshake"
    AUTH_SENT = "waiting for the reply to AUTH"
    AUTH_CHALLENGE = "waiting to answer an AUTH challenge"
    MAIL_SENT = "in a transaction, no recipient given yet"
    RCPT_SENT = "in a transaction with recipients"
    DATA_SENT = "waiting for the reply to DATA"
    DATA_OPEN = "sending the message"
    CONTENT_SENT = "waiting for the reply to the message"
    FAILED = "after a failed transaction, waiting to send RSET"
    RSET_SENT = "waiting for the reply to RSET"
    REFUSED = "turned away by the greeting, waiting to send QUIT"
    QUIT_SENT = "waiting for the reply to QUIT"
    CLOSED = "closed"

    # Members are singletons: hash by identity, not by name in Python code (Enum's default),
    # since every transition looks one up.
    __hash__ = object.__hash__


class Outcome(Enum):
    """What a reply means for the command it answers (RFC 5321 §4.2.1, §4.3.2)."""

    OK = "completed"  # 2yz (exactly 220 for the greeting and STARTTLS)
    PROCEED = "go ahead"  # 354 to DATA, 334 to AUTH
    UNRECOGNISED = "not recognised"  # 500/502 to EHLO: fall back to HELO (§3.2)
    FAILED = "failed"  # 4yz / 5yz
    CLOSING = "closing"  # 421: the server is shutting the channel (§3.8)

    __hash__ = object.__hash__  # as for State


S = State
_TRANSACTION = (S.MAIL_SENT, S.RCPT_SENT, S.DATA_SENT, S.FAILED)

TRANSITIONS: dict[tuple[State, TransitionKey], State] = {
    # The greeting: 220 to go on; 554 (or anything else) means go away, so only QUIT (§3.1).
    (S.GREETING, (Greeting, Outcome.OK)): S.HELLO,
    (S.GREETING, (Greeting, Outcome.FAILED)): S.REFUSED,
    (S.REFUSED, Quit): S.QUIT_SENT,
    # EHLO, with HELO when EHLO is not recognised (§3.2); EHLO again after STARTTLS.
    (S.HELLO, Ehlo): S.HELLO_SENT,
    (S.HELLO, Helo): S.HELLO_SENT,
    (S.HELLO, Quit): S.QUIT_SENT,
    (S.HELLO_SENT, (Ehlo, Outcome.OK)): S.READY,
    (S.HELLO_SENT, (Ehlo, Outcome.UNRECOGNISED)): S.HELLO,
    (S.HELLO_SENT, (Ehlo, Outcome.FAILED)): S.HELLO,
    (S.HELLO_SENT, (Helo, Outcome.OK)): S.READY,
    (S.HELLO_SENT, (Helo, Outcome.FAILED)): S.HELLO,
    (S.READY, Ehlo): S.HELLO_SENT,
    # STARTTLS (RFC 3207 §4): after 220 nothing may be sent until the handshake is done.
    (S.READY, StartTLS): S.STARTTLS_SENT,
    (S.STARTTLS_SENT, (StartTLS, Outcome.OK)): S.TLS_HANDSHAKE,
    (S.STARTTLS_SENT, (StartTLS, Outcome.FAILED)): S.READY,
    (S.TLS_HANDSHAKE, TLSEstablished): S.HELLO,
    # AUTH (RFC 4954 §4): 334 challenges until 235 or a failure.
    (S.READY, Auth): S.AUTH_SENT,
    (S.AUTH_SENT, (Auth, Outcome.PROCEED)): S.AUTH_CHALLENGE,
    (S.AUTH_SENT, (Auth, Outcome.OK)): S.READY,
    (S.AUTH_SENT, (Auth, Outcome.FAILED)): S.READY,
    (S.AUTH_CHALLENGE, AuthResponse): S.AUTH_SENT,
    (S.AUTH_SENT, (AuthResponse, Outcome.PROCEED)): S.AUTH_CHALLENGE,
    (S.AUTH_SENT, (AuthResponse, Outcome.OK)): S.READY,
    (S.AUTH_SENT, (AuthResponse, Outcome.FAILED)): S.READY,
    # A transaction: MAIL, RCPT…, DATA, the message (§3.3). With PIPELINING the replies to MAIL
    # and RCPT may arrive after DATA was sent (RFC 2920 §3.1), hence the states they leave alone.
    (S.READY, MailFrom): S.MAIL_SENT,
    (S.MAIL_SENT, RcptTo): S.RCPT_SENT,
    (S.RCPT_SENT, RcptTo): S.RCPT_SENT,
    (S.RCPT_SENT, Data): S.DATA_SENT,
    **{(state, (MailFrom, Outcome.OK)): state for state in _TRANSACTION},
    **{(state, (MailFrom, Outcome.FAILED)): S.FAILED for state in _TRANSACTION},
    **{
        (state, (RcptTo, outcome)): state
        for state in _TRANSACTION
        for outcome in (Outcome.OK, Outcome.FAILED)
    },
    (S.DATA_SENT, (Data, Outcome.PROCEED)): S.DATA_OPEN,
    (S.DATA_SENT, (Data, Outcome.FAILED)): S.FAILED,
    # A server that says 354 after refusing MAIL gets an empty message (RFC 2920 §3.1).
    (S.FAILED, (Data, Outcome.PROCEED)): S.DATA_OPEN,
    (S.FAILED, (Data, Outcome.FAILED)): S.FAILED,
    (S.DATA_OPEN, Content): S.CONTENT_SENT,
    (S.CONTENT_SENT, (Content, Outcome.OK)): S.READY,
    (S.CONTENT_SENT, (Content, Outcome.FAILED)): S.FAILED,
    # RFC 2920 §3.1: "the actual transfer of message content is explicitly allowed to be the
    # first command in a group", so with PIPELINING the next MAIL may follow the final dot before
    # its reply. The server has then ended the first transaction whatever it answers (RFC 5321
    # §4.1.1.4 clears its buffers), so that reply, arriving during the next transaction, leaves it
    # as it is: a refused message needs no RSET here, where alone it does (FAILED, above).
    (S.CONTENT_SENT, MailFrom): S.MAIL_SENT,
    **{
        (state, (Content, outcome)): state
        for state in (S.MAIL_SENT, S.RCPT_SENT, S.DATA_SENT)
        for outcome in (Outcome.OK, Outcome.FAILED)
    },
    # RSET ends any transaction (§4.1.1.5); after a failed one it must come before the next MAIL.
    **{(state, Rset): S.RSET_SENT for state in (S.READY, S.MAIL_SENT, S.RCPT_SENT, S.FAILED)},
    (S.RSET_SENT, (Rset, Outcome.OK)): S.READY,
    (S.RSET_SENT, (Rset, Outcome.FAILED)): S.FAILED,
    (S.READY, Noop): S.READY,
    (S.READY, (Noop, Outcome.OK)): S.READY,
    (S.READY, (Noop, Outcome.FAILED)): S.READY,
    # QUIT from anywhere a command may be sent (§4.1.1.10).
    **{
        (state, Quit): S.QUIT_SENT
        for state in (S.READY, S.MAIL_SENT, S.RCPT_SENT, S.FAILED, S.AUTH_CHALLENGE)
    },
    (S.QUIT_SENT, (Quit, Outcome.OK)): S.CLOSED,
    (S.QUIT_SENT, (Quit, Outcome.FAILED)): S.CLOSED,
}

# RFC 5321 §3.8: 421 may answer any command; the server then closes the channel.
_COMMANDS: tuple[type[Command], ...] = (Greeting, *(k for k in Event.__subclasses__()))
TRANSITIONS.update(
    {(state, (kind, Outcome.CLOSING)): S.CLOSED for state in State for kind in _COMMANDS}
)

# The replies each command may have besides "2yz: completed" (RFC 5321 §4.3.2, RFC 4954 §4);
# for the greeting, STARTTLS and DATA only the one code listed will do.
_SPECIAL_REPLIES: dict[type[Command], dict[int, Outcome]] = {
    Greeting: {220: Outcome.OK},
    StartTLS: {220: Outcome.OK},
    Data: {354: Outcome.PROCEED},
    Auth: {334: Outcome.PROCEED},
    AuthResponse: {334: Outcome.PROCEED},
}
_ONLY_SPECIAL = (Greeting, StartTLS, Data)
# RFC 2920 §3.1: these may be followed by more commands before their replies arrive. After the
# message content the table allows only the next transaction's MAIL.
_PIPELINABLE = frozenset((MailFrom, RcptTo, Content))
_ADDRESSED = frozenset((MailFrom, RcptTo))  # commands with an address in them (RFC 6531 §3.4)
_HELLOS = frozenset((Ehlo, Helo))


def classify(command: Command, reply: Reply) -> Outcome:
    """What *reply* means as the answer to *command*; a reply it cannot have is a violation."""
    # The outcome depends on the kind of command and the code only: worked out once for each
    # pair (at most a dozen kinds times 400 codes), since every reply of every message needs one.
    key = (type(command), reply.code)
    outcome = _OUTCOMES.get(key)
    if outcome is None:
        outcome = _OUTCOMES[key] = _outcome(command, reply)
    return outcome


_OUTCOMES: dict[tuple[type[Command], int], Outcome] = {}


def _outcome(command: Command, reply: Reply) -> Outcome:
    code = reply.code
    if code == 421:
        return Outcome.CLOSING
    if code >= 400:
        # §3.2 and §4.1.4: a server that does not know EHLO answers 500 or 502.
        unrecognised = isinstance(command, Ehlo) and code in (500, 502)
        return Outcome.UNRECOGNISED if unrecognised else Outcome.FAILED
    outcome = _SPECIAL_REPLIES.get(type(command), {}).get(code)
    if outcome is None and 200 <= code < 300 and not isinstance(command, _ONLY_SPECIAL):
        outcome = Outcome.OK
    if outcome is None:
        raise RemoteProtocolError(f"the server answered {describe_command(command)} with {reply}")
    return outcome


def describe_command(command: Command) -> str:
    return "the connection" if isinstance(command, Greeting) else describe(command)


class ClientConnection:
    """The client's side of one SMTP dialogue, without I/O.

    ``send(event)`` returns the bytes to write; ``receive_data(bytes)`` takes what was read;
    ``next_reply()`` returns ``(command, reply)`` pairs in order, or ``None`` until more bytes
    arrive. Misuse raises :class:`LocalProtocolError`; a server breaking the rules raises
    :class:`RemoteProtocolError`.
    """

    def __init__(self, reader: ReplyReader | None = None) -> None:
        self.state = State.GREETING
        self.extensions = Extensions()
        self.reader = reader or ReplyReader()
        self.pending: deque[Command] = deque([Greeting()])
        self._smtputf8 = False  # the current transaction declared SMTPUTF8
        self._pipelining = False  # the last EHLO offered PIPELINING

    def send(self, event: Event) -> bytes:
        """Check *event* is legal now, move to the next state and return its bytes."""
        if not isinstance(event, Event):
            raise LocalProtocolError(f"{event!r} is not something a client can send")
        kind = type(event)
        new_state = TRANSITIONS.get((self.state, kind)) or self._transition(kind, None)
        self._check_can_send(event)
        data = write(event)
        if kind is MailFrom:
            self._smtputf8 = "SMTPUTF8" in event.parameters  # type: ignore[attr-defined]
        self.pending.append(event)
        self.state = new_state
        return data

    def receive_data(self, data: bytes | memoryview) -> None:
        self.reader.feed(data)

    def next_reply(self) -> tuple[Command, Reply] | None:
        """The next reply and the command it answers, or ``None`` until more bytes arrive."""
        if not self.pending:
            if self.reader.has_pending_bytes:
                raise RemoteProtocolError("the server sent a reply to no command")
            return None
        reply = self.reader.next_reply()
        if reply is None:
            return None
        command = self.pending.popleft()
        kind = type(command)
        outcome = _OUTCOMES.get((kind, reply.code)) or classify(command, reply)
        key = (kind, outcome)
        self.state = TRANSITIONS.get((self.state, key)) or self._transition(key, command)
        if key[0] in _HELLOS:
            self._note_hello(command, outcome, reply)
        return command, reply

    def start_tls(self) -> int:
        """The TLS handshake is done: forget everything learned in plaintext (RFC 3207 §4.2).

        Bytes that arrived before the handshake can only be an attack (reply injection,
        aiosmtplib GHSA-vxj7-4xrp-5vr4): they are dropped, and their count returned.
        """
        self.state = self._transition(TLSEstablished, None)
        self.extensions = Extensions()
        self._pipelining = False
        self.reader.enhanced_codes = False
        return self.reader.discard()

    def _transition(self, key: TransitionKey, answered: Command | None) -> State:
        new_state = TRANSITIONS.get((self.state, key))
        if new_state is not None:
            return new_state
        if answered is not None and isinstance(key, tuple):
            raise RemoteProtocolError(
                f"the server answered {describe_command(answered)} with {key[1].value!r} "
                f"while the client was {self.state.value}"
            )
        name = getattr(key, "__name__", str(key))
        raise LocalProtocolError(f"cannot send {name} while {self.state.value}")

    def _check_can_send(self, event: Event) -> None:
        if type(event) in _ADDRESSED:
            self._check_smtputf8(event)  # type: ignore[arg-type]
        # RFC 2920 §3.1: only with PIPELINING, and only after MAIL, RCPT and the message content,
        # may a command go before the previous replies are in; without it every command waits
        # (§4.3.1). As this rule let in every pending command, only the last one needs looking
        # at.
        pending = self.pending
        if pending and not (self._pipelining and type(pending[-1]) in _PIPELINABLE):
            waiting = describe_command(self.pending[0])
            raise LocalProtocolError(
                f"cannot send {type(event).__name__} before the reply to {waiting}"
            )

    def _check_smtputf8(self, event: MailFrom | RcptTo) -> None:
        # RFC 6531 §3.4: a non-ASCII address only in a transaction that declared SMTPUTF8.
        if isinstance(event, MailFrom):
            declared, address = "SMTPUTF8" in event.parameters, event.sender
        else:
            declared, address = self._smtputf8, event.recipient
        if not declared and needs_smtputf8(address):
            raise LocalProtocolError(
                f"address {address!r} is not ASCII and the transaction did not declare SMTPUTF8"
            )

    def _note_hello(self, command: Command, outcome: Outcome, reply: Reply) -> None:
        if outcome is Outcome.OK:
            ehlo = isinstance(command, Ehlo)
            self.extensions = Extensions.from_ehlo(reply) if ehlo else Extensions()
            self._pipelining = self.extensions.pipelining
            # RFC 2034 §3: enhanced codes start with the replies after this EHLO.
            self.reader.enhanced_codes = "ENHANCEDSTATUSCODES" in self.extensions
