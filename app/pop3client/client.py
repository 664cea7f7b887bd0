"""The blocking socket driver: :class:`POP3Client` moves bytes between a socket and the core.

All protocol rules live in :mod:`app.pop3client.connection`; this module only opens sockets, wraps
them in TLS, waits with the right timeout, turns socket and ssl exceptions into ours, and reads
the listings (STAT, LIST, UIDL) into Python values.
"""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from types import TracebackType
from typing import Literal, TypeVar

from app.pop3client.capabilities import Capabilities
from app.pop3client.commands import (
    Apop,
    Capa,
    Command,
    Dele,
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
from app.pop3client.connection import ClientConnection, State
from app.pop3client.errors import (
    LocalProtocolError,
    POP3AuthenticationError,
    POP3ConnectError,
    POP3Error,
    POP3NotSupported,
    POP3ReplyError,
    POP3Timeout,
    POP3TLSError,
    POP3TransportError,
    RemoteProtocolError,
)
from app.pop3client.responses import MAX_BODY, Response, ResponseReader
from app.smtp.transcript import Transcript
from app.smtp.transport import receive_into, send_all, socket_failure

T = TypeVar("T")
C = TypeVar("C", bound=Command)
Security = Literal["none", "stls", "tls"]
SECURITY_MODES = ("none", "stls", "tls")
#: RFC 1939 §3: POP3 on 110 (STLS upgrades it, RFC 2595 §4); RFC 8314 §7.3: implicit TLS on 995.
DEFAULT_PORTS: dict[str, int] = {"none": 110, "stls": 110, "tls": 995}
#: No RFC value for a client's wait. RFC 1939 §3 lets an idle server log out after 10 minutes,
#: so a minute of silence in the middle of a response already means something is wrong.
DEFAULT_TIMEOUT = 60.0
CONNECT_TIMEOUT = 30.0
MAX_TRANSCRIPT_LINES = 10_000
#: Commands in flight at once with PIPELINING (RFC 2449 §6.6): a dozen octets each, so they
#: always fit the server's receive window and neither side can block the other on a full one.
PIPELINE_WINDOW = 128
_RECV_SIZE = 256 * 1024
#: RFC 1939 §7: a unique-id is 1 to 70 characters in the range 0x21 to 0x7E.
_UNIQUE_ID = re.compile(r"[\x21-\x7e]{1,70}")
_LOGIN_COMMANDS = (User, Pass, Apop)


class POP3Client:
    """A blocking POP3 client for one session.

    ::

        with POP3Client("mail.example.org", security="stls") as pop:
            pop.login("ada", "…")
            for number, message in pop.retrieve(pop.list()):
                ...
        # leaving the block says QUIT: messages marked with dele() are removed now (RFC 1939 §6)

    An exception leaving the block, or :meth:`close`, ends the session without applying any
    deletion (RSET, then QUIT). ``timeout`` bounds each wait, not a whole response.
    ``security="stls"`` never falls back to plaintext: a server without STLS is an error.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: Security = "none",
        timeout: float = DEFAULT_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        max_message: int = MAX_BODY,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {', '.join(SECURITY_MODES)}: {security!r}")
        self.host, self.port = host, port or DEFAULT_PORTS[security]
        self.security = security
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.max_message = max_message
        self._transcript = Transcript(MAX_TRANSCRIPT_LINES)
        self._conn = ClientConnection()
        self._sock: socket.socket | None = None
        self._received = memoryview(bytearray(_RECV_SIZE))
        self.greeting: Response | None = None
        # Responses read while waiting for another's, by the id of their command; and the
        # commands of a pipelined read left early, whose responses nobody will ask for.
        self._answered: dict[int, Response] = {}
        self._abandoned: dict[int, Command] = {}

    # --- the session's life ----------------------------------------------------------------------

    def __enter__(self) -> POP3Client:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self._conn.state is State.TRANSACTION:
            self.quit()
        else:
            self.close()

    def connect(self) -> None:
        """Connect, read the greeting, ask CAPA, and start TLS as configured."""
        self._conn = ClientConnection(ResponseReader(max_body=self.max_message))
        self._answered.clear()
        self._abandoned.clear()
        self._sock = self._open_socket()
        try:
            self.greeting = self._expect(self._next_response()[1], "the connection")
            self.capa()
            if self.security == "stls":
                self._start_tls()
        except BaseException:
            self._abort()
            raise

    def close(self) -> None:
        """End the session without applying deletions: RSET, then QUIT (RFC 1939 §5, §6).

        Safe to call at any time, also after Ctrl-C in the middle of a response: then the
        dialogue cannot go on, and closing the connection without QUIT leaves the maildrop as
        it was (RFC 1939 §6: the server enters UPDATE only on QUIT).
        """
        if self._sock is None:
            return
        try:
            state = self._conn.state
            if not self._conn.waiting and state in (State.AUTHORIZATION, State.TRANSACTION):
                if state is State.TRANSACTION:
                    self._command(Rset())
                self._command(Quit())
        except POP3Error:
            pass  # the server may be gone already; we are leaving anyway
        finally:
            self._abort()

    def quit(self) -> Response:
        """QUIT: after login the server removes the messages marked deleted (RFC 1939 §6).

        -ERR means some of them could not be removed: :class:`POP3ReplyError`.
        """
        try:
            return self._expect(self._command(Quit()), "QUIT")
        finally:
            self._abort()

    @property
    def state(self) -> State:
        return self._conn.state

    @property
    def capabilities(self) -> Capabilities:
        return self._conn.capabilities

    @property
    def apop_timestamp(self) -> str | None:
        """The greeting's timestamp: APOP is possible only with one (RFC 1939 §7)."""
        return self._conn.timestamp

    @property
    def is_encrypted(self) -> bool:
        return isinstance(self._sock, ssl.SSLSocket)

    @property
    def transcript(self) -> list[str]:
        """The dialogue so far, "C: " and "S: " lines; passwords and messages left out."""
        return self._transcript.lines()

    # --- commands --------------------------------------------------------------------------------

    def capa(self) -> Capabilities:
        """CAPA (RFC 2449 §5); a server that does not know it (-ERR) offers nothing optional."""
        self._command(Capa())
        return self._conn.capabilities

    def login(self, user: str, password: str, *, apop: bool | None = None) -> None:
        """Log in with USER/PASS, or APOP (RFC 1939 §7) when *apop* is true.

        With *apop* None, APOP is used when the greeting offers it on a connection without TLS,
        so that the password itself never crosses the network in the clear. Afterwards CAPA is
        asked again: capabilities may change at login (RFC 2449 §5).
        """
        use_apop = (
            (not self.is_encrypted and self.apop_timestamp is not None) if apop is None else apop
        )
        if use_apop:
            if self.apop_timestamp is None:
                raise POP3NotSupported("APOP needs a timestamp in the greeting, and this has none")
            digest = hashlib.md5((self.apop_timestamp + password).encode("utf-8")).hexdigest()
            self._login(Apop(user, digest))
        else:
            self._login(User(user))
            self._login(Pass(password))
        self.capa()

    def stat(self) -> tuple[int, int]:
        """STAT: the number of messages and their total size in octets (RFC 1939 §5)."""
        response = self._expect(self._command(Stat()), "STAT")
        return self._parsed(lambda: _two_numbers(response.text, "STAT"))

    def list(self) -> dict[int, int]:
        """LIST: each message's number and size in octets."""
        response = self._expect(self._command(List()), "LIST")
        return self._parsed(
            lambda: dict(_two_numbers(line, "LIST") for line in response.body_lines())
        )

    def list_one(self, number: int) -> int:
        response = self._expect(self._command(List(number)), f"LIST {number}")
        return self._parsed(lambda: _two_numbers(response.text, "LIST")[1])

    def uidl(self) -> dict[int, str]:
        """UIDL: each message's number and unique id (RFC 1939 §7), which stays across sessions."""
        response = self._expect(self._command(Uidl()), "UIDL")
        return self._parsed(lambda: dict(_unique_id(line) for line in response.body_lines()))

    def unique_ids(self) -> dict[int, str] | None:
        """:meth:`uidl`, or None when the server has no UIDL (it is optional, RFC 1939 §7)."""
        if self.capabilities.keywords and "UIDL" not in self.capabilities:
            return None
        try:
            return self.uidl()
        except POP3ReplyError:
            return None

    def uidl_one(self, number: int) -> str:
        response = self._expect(self._command(Uidl(number)), f"UIDL {number}")
        return self._parsed(lambda: _unique_id(response.text)[1])

    def retr(self, number: int) -> bytes:
        """RETR: message *number*, whole, with CRLF line ends (RFC 1939 §5)."""
        return self._body(self._expect(self._command(Retr(number)), f"RETR {number}"))

    def top(self, number: int, lines: int = 0) -> bytes:
        """TOP (RFC 1939 §7): the header section, the blank line and *lines* lines of the body."""
        response = self._expect(self._command(Top(number, lines)), f"TOP {number} {lines}")
        return self._body(response)

    def retrieve(self, numbers: Iterable[int]) -> Iterator[tuple[int, bytes]]:
        """RETR each of *numbers*, yielding ``(number, message)`` as each arrives whole.

        With PIPELINING (RFC 2449 §6.6) up to :data:`PIPELINE_WINDOW` RETRs are in flight at
        once. A -ERR for one message raises :class:`POP3ReplyError` once the ones before it
        are yielded.
        """
        for command, response in self._pipelined(Retr(n) for n in numbers):
            yield command.number, self._body(self._expect(response, command.describe()))

    def tops(self, numbers: Iterable[int], lines: int = 0) -> Iterator[tuple[int, bytes]]:
        """TOP each of *numbers* (pipelined as :meth:`retrieve` is)."""
        for command, response in self._pipelined(Top(n, lines) for n in numbers):
            yield command.number, self._body(self._expect(response, command.describe()))

    def dele(self, number: int) -> None:
        """DELE: mark message *number*; the server removes it only at QUIT (RFC 1939 §6)."""
        self._expect(self._command(Dele(number)), f"DELE {number}")

    def dele_many(self, numbers: Iterable[int]) -> None:
        """DELE each of *numbers*, pipelined when the server offers it."""
        for command, response in self._pipelined(Dele(n) for n in numbers):
            self._expect(response, command.describe())

    def rset(self) -> None:
        """RSET: unmark every message marked deleted in this session."""
        self._expect(self._command(Rset()), "RSET")

    def noop(self) -> None:
        self._expect(self._command(Noop()), "NOOP")

    # --- the dialogue --------------------------------------------------------------------------

    def _login(self, command: Command) -> None:
        response = self._command(command)
        if not response.ok:
            raise POP3AuthenticationError(command.describe(), response)

    def _start_tls(self) -> None:
        # RFC 2595 §4: STLS, and never plaintext instead when TLS was asked for. A server that
        # refused CAPA may still know STLS, so it is tried; one that listed others but not it is
        # told apart, as no STLS there is sure.
        if self.capabilities.keywords and not self.capabilities.stls:
            raise POP3NotSupported(
                f"{self.host}:{self.port} does not offer STLS, and TLS was asked for: not "
                "going on in plaintext"
            )
        response = self._command(Stls())
        if not response.ok:
            raise POP3NotSupported(
                f"{self.host}:{self.port} refused STLS ({response}): not going on in plaintext"
            )
        self._sock = self._wrap_tls(self._socket())
        dropped = self._conn.start_tls()
        if dropped:
            self._transcript.note(f"-- {dropped} octets sent before the TLS handshake were dropped")
        self.capa()

    def _pipelined(self, commands: Iterable[C]) -> Iterator[tuple[C, Response]]:
        """Send *commands* and yield each with its response; with PIPELINING, in groups.

        Up to :data:`PIPELINE_WINDOW` commands are in flight; the next group goes out when half
        of them are answered, in one write: one command per answer would cost a system call and
        a wake-up of the server for each message, most of the time pipelining saves.

        The caller may send other commands between two answers (``dele`` each message as it
        comes, say); their responses are told apart by the core's order. A caller that stops
        early leaves commands in flight: their responses are read and dropped later.
        """
        window = PIPELINE_WINDOW if self.capabilities.pipelining else 1
        queue = iter(commands)
        outstanding: deque[C] = deque()
        try:
            while True:
                if len(outstanding) <= window // 2:
                    group = list(islice(queue, window - len(outstanding)))
                    if group:
                        self._send(group)
                        outstanding += group
                if not outstanding:
                    return
                command = outstanding[0]
                response = self._response_to(command)
                outstanding.popleft()
                yield command, response
        finally:
            self._abandoned.update((id(c), c) for c in outstanding)

    def _command(self, command: Command) -> Response:
        if self._conn.waiting and not self.capabilities.pipelining:
            self._settle()  # a pipelined read left early: one command at a time from here
        self._send([command])
        return self._response_to(command)

    def _send(self, commands: Sequence[Command]) -> None:
        data = b"".join([self._conn.send(c) for c in commands])
        self._log_sent(commands)
        self._write(data, commands[0])

    def _response_to(self, command: Command) -> Response:
        """The response to *command*, reading (and keeping) those to commands sent before it."""
        response = self._answered.pop(id(command), None)
        while response is None:
            answered, got = self._next_response()
            if answered is command:
                return got
            self._keep(answered, got)
        return response

    def _settle(self) -> None:
        while self._conn.waiting:
            self._keep(*self._next_response())

    def _keep(self, answered: Command, response: Response) -> None:
        if self._abandoned.pop(id(answered), None) is None:
            self._answered[id(answered)] = response

    def _parsed(self, parse: Callable[[], T]) -> T:
        """What *parse* reads from a response; a server that sent junk gets no more commands."""
        try:
            return parse()
        except RemoteProtocolError:
            self._abort()
            raise

    def _expect(self, response: Response, what: str) -> Response:
        if not response.ok:
            raise POP3ReplyError(what, response)
        return response

    def _body(self, response: Response) -> bytes:
        assert response.body is not None  # a positive multi-line response always has one
        return response.body

    def _log_sent(self, commands: Sequence[Command]) -> None:
        for command in commands:
            self._transcript.note("C: " + command.describe())

    def _next_response(self) -> tuple[Command, Response]:
        conn = self._conn
        if not conn.waiting:
            raise LocalProtocolError("no response is expected: no command is waiting for one")
        while True:
            try:
                got = conn.next_response()
            except RemoteProtocolError:
                self._abort()
                raise
            if got is not None:
                self._log_received(*got)
                return got
            self._receive(conn.pending[0])

    def _log_received(self, command: Command, response: Response) -> None:
        self._transcript.note("S: " + response.wire)
        if response.body is not None:
            if isinstance(command, (Retr, Top)):
                self._transcript.note(f"S: <message, {len(response.body)} octets>")
            else:
                self._transcript.note("\n".join("S: " + line for line in response.body_lines()))
            self._transcript.note("S: .")

    # --- the I/O boundary: every socket call, and the translation of its exceptions -------------

    def _open_socket(self) -> socket.socket:
        try:
            sock = socket.create_connection(
                (self.host, self.port), min(CONNECT_TIMEOUT, self.timeout)
            )
        except OSError as exc:
            raise self._translated(
                exc, f"connecting to {self.host}:{self.port}", connect=True
            ) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # commands are small and awaited
        self._use(sock)
        if self.security == "tls":
            sock = self._wrap_tls(sock)  # RFC 8314 §3: implicit TLS from the first byte
        return sock

    def _wrap_tls(self, sock: socket.socket) -> ssl.SSLSocket:
        # The default context verifies the certificate chain and the host name (RFC 2595 §2.4).
        context = self.ssl_context or ssl.create_default_context()
        sock.settimeout(self.timeout)  # the handshake blocks, with this bound
        try:
            tls = context.wrap_socket(sock, server_hostname=self.host)
        except OSError as exc:
            raise self._translated(exc, f"the TLS handshake with {self.host}:{self.port}") from exc
        self._use(tls)
        return tls

    def _write(self, data: bytes, command: Command) -> None:
        try:
            send_all(self._socket(), data, self.timeout)
        except OSError as exc:
            raise self._translated(exc, f"sending {command.describe()}") from exc

    def _receive(self, command: Command) -> None:
        what = f"waiting for the response to {command.describe()}"
        try:
            size = receive_into(self._socket(), self._received, self.timeout)
        except OSError as exc:
            raise self._translated(exc, what, waited=self.timeout) from exc
        if not size:
            self._abort()
            raise POP3TransportError(f"{self.host}:{self.port} closed the connection while {what}")
        self._conn.receive_data(self._received[:size])  # the reader copies what it keeps

    def _socket(self) -> socket.socket:
        if self._sock is None:
            raise POP3TransportError(
                f"not connected to {self.host}:{self.port}: use the client in a with block, "
                "and a new one after the session ended"
            )
        return self._sock

    def _use(self, sock: socket.socket) -> None:
        # Non-blocking from here on: app.smtp.transport bounds each wait itself.
        sock.settimeout(0.0)
        self._sock = sock

    def _translated(
        self, exc: OSError, what: str, *, waited: float | None = None, connect: bool = False
    ) -> POP3Error:
        """Our error for a socket or ssl exception; the connection it broke is closed."""
        self._abort()
        kind, text = socket_failure(exc, what, waited)
        if kind == "timeout":
            return POP3Timeout(text)
        if kind == "tls":
            return POP3TLSError(text)
        return (POP3ConnectError if connect else POP3TransportError)(text)

    def _abort(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._conn.state = State.CLOSED


def _two_numbers(text: str, command: str) -> tuple[int, int]:
    """``nn mm`` at the start of *text* (RFC 1939 §5 STAT and LIST), else the server broke it."""
    words = text.split()
    if len(words) < 2 or not all(w.isdigit() and w.isascii() for w in words[:2]):
        raise RemoteProtocolError(
            f"the server's answer to {command} is not a message number and a size: {text[:60]!r}"
        )
    return int(words[0]), int(words[1])


def _unique_id(line: str) -> tuple[int, str]:
    words = line.split()
    if (
        len(words) < 2
        or not (words[0].isdigit() and words[0].isascii())
        or not _UNIQUE_ID.fullmatch(words[1])
    ):
        raise RemoteProtocolError(
            f"the server's answer to UIDL is not a message number and a unique id: {line[:60]!r}"
        )
    return int(words[0]), words[1]


__all__ = ["DEFAULT_PORTS", "POP3Client", "Security", "write"]
