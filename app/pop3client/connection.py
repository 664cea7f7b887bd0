"""The sans-IO core of the client, after h11: commands in, bytes out; bytes in, responses out.

:class:`ClientConnection` knows the state of the dialogue and which response answers which
command. It never touches a socket, a clock or a thread: the driver in :mod:`app.pop3client.client`
does. Every legal move is one entry of :data:`TRANSITIONS`, keyed by the state and what happened:
a command we send, or a response classified by the command it answers and whether it was +OK.

States (RFC 1939 §3): the greeting, AUTHORIZATION, TRANSACTION, UPDATE (QUIT sent after login:
the server removes what DELE marked), and CLOSED. STLS adds the wait for the TLS handshake.
"""

from __future__ import annotations

import re
from collections import deque
from enum import Enum

from app.pop3client.capabilities import Capabilities
from app.pop3client.commands import (
    Apop,
    Capa,
    Command,
    Dele,
    Greeting,
    List,
    Noop,
    Pass,
    Quit,
    Retr,
    Rset,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
    write,
)
from app.pop3client.errors import LocalProtocolError, RemoteProtocolError
from app.pop3client.responses import Response, ResponseReader


class TLSEstablished:
    """The driver finished the TLS handshake after +OK to STLS (RFC 2595 §4)."""


class State(Enum):
    GREETING = "waiting for the greeting"
    AUTHORIZATION = "not logged in yet"
    TLS_HANDSHAKE = "waiting for the TLS handshake"
    TRANSACTION = "logged in"
    UPDATE = "waiting for the server to apply the deletions (QUIT)"
    QUIT_SENT = "waiting for the reply to QUIT"
    CLOSED = "closed"

    __hash__ = (
        object.__hash__
    )  # members are singletons: hash by identity, as every move looks one up


S = State
_AUTHORIZATION_COMMANDS = (Capa, User, Pass, Apop)
#: RFC 1939 §5: the commands of the TRANSACTION state (and CAPA, RFC 2449 §5).
_TRANSACTION_COMMANDS = (Capa, Stat, List, Uidl, Top, Retr, Dele, Rset, Noop)
TransitionKey = type[Command] | type[TLSEstablished] | tuple[type[Command], bool]

TRANSITIONS: dict[tuple[State, TransitionKey], State] = {
    # The greeting: +OK to go on; -ERR (RFC 2449 [IN-USE], [SYS/TEMP] …) and the server is gone.
    (S.GREETING, (Greeting, True)): S.AUTHORIZATION,
    (S.GREETING, (Greeting, False)): S.CLOSED,
    **{(S.AUTHORIZATION, kind): S.AUTHORIZATION for kind in _AUTHORIZATION_COMMANDS},
    **{
        (S.AUTHORIZATION, (kind, ok)): S.AUTHORIZATION
        for kind in _AUTHORIZATION_COMMANDS
        for ok in (True, False)
    },
    # RFC 1939 §7: +OK to PASS or APOP means the maildrop is locked and ours.
    (S.AUTHORIZATION, (Pass, True)): S.TRANSACTION,
    (S.AUTHORIZATION, (Apop, True)): S.TRANSACTION,
    # STLS (RFC 2595 §4): after +OK nothing may be sent until the handshake is done.
    (S.AUTHORIZATION, Stls): S.AUTHORIZATION,
    (S.AUTHORIZATION, (Stls, True)): S.TLS_HANDSHAKE,
    (S.AUTHORIZATION, (Stls, False)): S.AUTHORIZATION,
    (S.TLS_HANDSHAKE, TLSEstablished): S.AUTHORIZATION,
    # QUIT before login ends the session; after it, the server enters UPDATE (RFC 1939 §6).
    (S.AUTHORIZATION, Quit): S.QUIT_SENT,
    (S.QUIT_SENT, (Quit, True)): S.CLOSED,
    (S.QUIT_SENT, (Quit, False)): S.CLOSED,
    **{(S.TRANSACTION, kind): S.TRANSACTION for kind in _TRANSACTION_COMMANDS},
    (S.TRANSACTION, Quit): S.UPDATE,
    # With PIPELINING the responses to the last commands may come after QUIT was sent.
    **{
        (state, (kind, ok)): state
        for state in (S.TRANSACTION, S.UPDATE)
        for kind in _TRANSACTION_COMMANDS
        for ok in (True, False)
    },
    (S.UPDATE, (Quit, True)): S.CLOSED,
    (S.UPDATE, (Quit, False)): S.CLOSED,  # RFC 1939 §6: some deleted message was not removed
}

#: RFC 1939 §4: the greeting's timestamp, a msg-id, which APOP digests with the password (§7).
_TIMESTAMP = re.compile(r"<[^<>\s]+>")


class ClientConnection:
    """The client's side of one POP3 dialogue, without I/O.

    ``send(command)`` returns the bytes to write; ``receive_data(bytes)`` takes what was read;
    ``next_response()`` returns ``(command, response)`` pairs in order, or ``None`` until more
    bytes arrive. Misuse raises :class:`LocalProtocolError`; a server breaking the rules raises
    :class:`RemoteProtocolError`.
    """

    def __init__(self, reader: ResponseReader | None = None) -> None:
        self.state = State.GREETING
        self.reader = reader or ResponseReader()
        self.capabilities = Capabilities()
        #: The greeting's timestamp (RFC 1939 §7), when it has one: only then may APOP be used.
        self.timestamp: str | None = None
        self.pending: deque[Command] = deque([Greeting()])
        self._status: Response | None = None  # the status line of a body still arriving
        self._pipelining = False  # the last CAPA offered PIPELINING (looked up at every send)

    def send(self, command: Command) -> bytes:
        """Check *command* is legal now, move to the next state and return its bytes."""
        if not isinstance(command, Command) or isinstance(command, Greeting):
            raise LocalProtocolError(f"{command!r} is not something a client can send")
        new_state = self._transition(type(command), None)
        self._check_can_send(command)
        data = write(command)
        self.pending.append(command)
        self.state = new_state
        return data

    def receive_data(self, data: bytes | memoryview) -> None:
        self.reader.feed(data)

    @property
    def waiting(self) -> bool:
        """Some command's response has not arrived whole yet."""
        return bool(self.pending)

    def next_response(self) -> tuple[Command, Response] | None:
        """The next response and the command it answers, or ``None`` until more bytes arrive."""
        if not self.pending:
            if self.reader.has_pending_bytes:
                raise RemoteProtocolError("the server sent a response to no command")
            return None
        command = self.pending[0]
        status = self._status or self.reader.next_status()
        if status is None:
            return None
        response = status
        if status.ok and command.multiline:
            self._status = status
            body = self.reader.next_body()
            if body is None:
                return None
            response = Response(status.ok, status.code, status.text, body, status.wire)
        self._status = None
        self.pending.popleft()
        self.state = self._transition((type(command), status.ok), command)
        self._note(command, response)
        return command, response

    def start_tls(self) -> int:
        """The TLS handshake is done: forget everything learned in plaintext (RFC 2595 §4).

        Bytes that arrived before the handshake can only be an attack (response injection, as
        CVE-2011-0411 was for SMTP): they are dropped, and their count returned.
        """
        self.state = self._transition(TLSEstablished, None)
        self.capabilities = Capabilities()
        self._pipelining = False
        return self.reader.discard()

    def _transition(self, key: TransitionKey, answered: Command | None) -> State:
        new_state = TRANSITIONS.get((self.state, key))
        if new_state is not None:
            return new_state
        if answered is not None:
            ok = "+OK" if isinstance(key, tuple) and key[1] else "-ERR"
            raise RemoteProtocolError(
                f"the server answered {answered.describe()} with {ok} while the client was "
                f"{self.state.value}"
            )
        name = getattr(key, "keyword", "") or getattr(key, "__name__", str(key))
        raise LocalProtocolError(f"cannot send {name} while {self.state.value}")

    def _check_can_send(self, command: Command) -> None:
        # RFC 2449 §6.6: only with PIPELINING may a command go before the previous responses are
        # in, and never after one that changes the state or the connection (STLS, PASS, QUIT).
        # As this rule let in every pending command, only the last one needs looking at.
        pending = self.pending
        if pending and (pending[-1].barrier or not self._pipelining):
            raise LocalProtocolError(
                f"cannot send {command.keyword} before the response to {pending[0].describe()}"
            )

    def _note(self, command: Command, response: Response) -> None:
        if isinstance(command, Greeting) and response.ok:
            match = _TIMESTAMP.search(response.text)
            self.timestamp = match.group(0) if match else None
        elif isinstance(command, Capa) and response.ok:
            self.capabilities = Capabilities.from_lines(response.body_lines())
            self._pipelining = self.capabilities.pipelining
