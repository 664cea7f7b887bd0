"""The blocking socket driver: :class:`SMTPClient` moves bytes between a socket and the core.

All protocol rules live in :mod:`app.smtp.connection`; this module only opens sockets, wraps them
in TLS, waits with the right timeout, and turns socket and ssl exceptions into ours.
"""

from __future__ import annotations

import base64
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Literal

from app.smtp.connection import ClientConnection, Command, Greeting, State, describe_command
from app.smtp.data import header_section
from app.smtp.errors import (
    LocalProtocolError,
    RemoteProtocolError,
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPError,
    SMTPNotAttempted,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPReplyError,
    SMTPTimeout,
    SMTPTLSError,
    SMTPTransportError,
)
from app.smtp.events import (
    Auth,
    AuthResponse,
    Content,
    Data,
    Ehlo,
    Event,
    Helo,
    MailFrom,
    Quit,
    RcptTo,
    Rset,
    StartTLS,
    check_argument,
    needs_smtputf8,
)
from app.smtp.extensions import mail_parameters
from app.smtp.replies import MAX_REPLY_BYTES, MAX_REPLY_LINE, Reply
from app.smtp.transcript import Transcript
from app.smtp.transport import receive_into, send_all, socket_failure
from app.smtp.writer import describe, write

Security = Literal["none", "starttls", "tls"]
SECURITY_MODES = ("none", "starttls", "tls")

# RFC 5321 §4.5.3.2: how long a client should wait for each reply.
GREETING_TIMEOUT = 5 * 60.0  # §4.5.3.2.1 initial 220 message
MAIL_TIMEOUT = 5 * 60.0  # §4.5.3.2.2 MAIL command
RCPT_TIMEOUT = 5 * 60.0  # §4.5.3.2.3 RCPT command
DATA_INITIATION_TIMEOUT = 2 * 60.0  # §4.5.3.2.4 DATA command
DATA_BLOCK_TIMEOUT = 3 * 60.0  # §4.5.3.2.5 each TCP send of the message
DATA_TERMINATION_TIMEOUT = 10 * 60.0  # §4.5.3.2.6 after the final dot: shorter sends mail twice
COMMAND_TIMEOUT = 5 * 60.0  # EHLO, STARTTLS, AUTH, RSET, QUIT: no value given; as for MAIL
CONNECT_TIMEOUT = 60.0  # no RFC value: the TCP connection itself
MAX_COMMAND_LINE = 512  # RFC 5321 §4.5.3.1.4: octets in a command line, CRLF included
MAX_TRANSCRIPT_LINES = 10_000  # about 800 messages' worth; older lines are dropped

_REPLY_TIMEOUTS: dict[type[Command], float] = {
    Greeting: GREETING_TIMEOUT,
    MailFrom: MAIL_TIMEOUT,
    RcptTo: RCPT_TIMEOUT,
    Data: DATA_INITIATION_TIMEOUT,
}
_RECV_SIZE = 64 * 1024
# Events whose transcript line is not their wire text: secrets (RFC 4954 §4) and the message.
_SUMMARISED = (Auth, AuthResponse, Content)


@dataclass(frozen=True)
class SendResult:
    """What became of one message: who got it, who did not and why, and the final reply."""

    accepted: list[str]
    refused: dict[str, Reply]
    reply: Reply
    lines: Callable[[], list[str]] = field(default=list, repr=False, compare=False)

    @property
    def transcript(self) -> list[str]:
        """This message's own lines of the transcript (a batch mixes messages on the wire)."""
        return self.lines()


#: One message for :meth:`SMTPClient.send_many`: its bytes, the sender and the recipients.
Outgoing = tuple[bytes, str, Sequence[str]]
#: What became of one message of a batch: its result, or the error :meth:`SMTPClient.send` raises.
MessageOutcome = SendResult | SMTPError


@dataclass(slots=True)
class _Message:
    """A message of a batch, checked, with its envelope; what its recipients got, once known."""

    number: int  # on this client, for its transcript lines
    index: int  # in the batch
    content: Content
    recipients: list[str]
    envelope: list[Event]
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, Reply] = field(default_factory=dict)


class SMTPClient:
    """A blocking SMTP client for one connection; several messages may share it.

    ::

        with SMTPClient("mail.example.org", 587, security="starttls",
                        username="ada", password="…") as client:
            result = client.send(message, "ada@example.org", ["bob@example.org"])

    ``timeout`` caps every wait (use it for interactive callers) except the one after the final
    dot, which is ``final_timeout``: giving up there while the server delivers sends mail twice.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        security: Security = "none",
        timeout: float | None = None,
        username: str | None = None,
        password: str | None = None,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        allow_plaintext_auth: bool = False,
        final_timeout: float = DATA_TERMINATION_TIMEOUT,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {', '.join(SECURITY_MODES)}: {security!r}")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.host, self.port = host, port
        self.security = security
        self.timeout = timeout
        self.final_timeout = final_timeout
        self.username, self._password = username, password
        self.local_hostname = local_hostname and check_argument("EHLO name", local_hostname)
        self.ssl_context = ssl_context
        self.allow_plaintext_auth = allow_plaintext_auth
        self._transcript = Transcript(MAX_TRANSCRIPT_LINES)
        self._conn = ClientConnection()
        self._sock: socket.socket | None = None
        self._numbered = 0  # messages given to send_many, to file their transcript lines
        # One receive buffer for the connection's life: recv() would allocate _RECV_SIZE bytes for
        # every read only to shrink them to the dozen bytes a reply has.
        self._received = memoryview(bytearray(_RECV_SIZE))

    # --- the connection's life ---------------------------------------------------------------

    def __enter__(self) -> SMTPClient:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Connect, read the greeting, say EHLO, start TLS and log in as configured."""
        self._conn = ClientConnection()  # a new dialogue, also when the client is reused
        self._sock = self._open_socket()
        try:
            self._expect(self._read_reply(), "the connection")
            self._hello()
            if self.security == "starttls":
                self._start_tls()
            if self.username is not None:
                self._authenticate()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Say QUIT if the dialogue allows it (§4.1.1.10), then close the socket."""
        if self._sock is None:
            return
        try:
            if self._conn.state in (State.READY, State.FAILED, State.HELLO, State.REFUSED):
                self._command(Quit())
        except SMTPError:
            pass  # the server may already be gone; we are leaving anyway
        finally:
            self._abort()

    @property
    def extensions(self) -> frozenset[str]:
        """The extension keywords of the last EHLO reply."""
        return frozenset(self._conn.extensions.keywords)

    @property
    def is_encrypted(self) -> bool:
        return isinstance(self._sock, ssl.SSLSocket)

    @property
    def transcript(self) -> list[str]:
        """The dialogue so far, "C: " and "S: " lines with secrets and the message summarised."""
        return self._transcript.lines()

    @property
    def max_transcript_lines(self) -> int:
        """Past this many lines the oldest half of the transcript is dropped."""
        return self._transcript.max_lines

    @max_transcript_lines.setter
    def max_transcript_lines(self, value: int) -> None:
        self._transcript.max_lines = value

    # --- sending mail --------------------------------------------------------------------------

    def send(self, message: bytes, sender: str, recipients: Sequence[str]) -> SendResult:
        """Send *message* from *sender* to each of *recipients*.

        Returns the accepted and refused recipients when at least one was accepted; raises
        :class:`SMTPRecipientsRefused` when none was, :class:`SMTPReplyError` when MAIL, DATA or
        the message itself was refused. For several messages, :meth:`send_many` saves a round
        trip on each.
        """
        # The steps of send_many for one message, without the batch's bookkeeping: a caller with
        # one message at a time pays for nothing else.
        self._socket()  # connected, and not broken by an earlier failure
        prepared = self._turn(self._prepare(0, message, sender, recipients))
        try:
            self._ready_for_mail()
            self._open_data(prepared, self._send_envelope(prepared.envelope))
            outcome = self._finish(prepared)
        finally:
            self._transcript.tag = None
        if isinstance(outcome, SMTPError):
            raise outcome
        return outcome

    def send_many(self, items: Iterable[Outgoing]) -> list[MessageOutcome]:
        """Send each ``(message, sender, recipients)`` of *items*; one outcome each, in order.

        With PIPELINING, one message's content and final dot go in the same write as the next
        message's MAIL, RCPT… and DATA (RFC 2920 §3.1: content may lead a group), so that each
        message costs one round trip instead of two; without it the messages go one by one. A
        message that :meth:`send` would raise for gets that error as its outcome and the others
        go on. When the connection ends (it broke, timed out, the server said 421: RFC 5321
        §3.8) the message in hand gets that error, and each later one :class:`SMTPNotAttempted`.
        Every outcome carries its own message's lines in ``transcript``.
        """
        self._socket()  # connected, and not broken by an earlier failure
        outcomes: list[MessageOutcome | None] = []
        messages: list[_Message] = []
        for data, sender, recipients in items:
            try:
                messages.append(self._prepare(len(outcomes), data, sender, recipients))
                outcomes.append(None)
            except (LocalProtocolError, SMTPNotSupported) as exc:  # nothing was sent for it
                outcomes.append(exc)
        try:
            self._send_batch(messages, outcomes)
        finally:
            self._transcript.tag = None
        for message in messages:
            outcome = outcomes[message.index]
            if isinstance(outcome, SMTPError):  # a result has its lines (_message_outcome)
                outcome.transcript = tuple(self._transcript.lines_of(message.number))
        return outcomes  # type: ignore[return-value]  # _send_batch filled in every None

    def _prepare(
        self, index: int, message: bytes, sender: str, recipients: Sequence[str]
    ) -> _Message:
        """Check a message and build its envelope before anything of it is sent."""
        recipients = [recipients] if isinstance(recipients, str) else list(recipients)
        if not recipients:
            raise LocalProtocolError("a message needs at least one recipient")
        content = Content(message)  # refuses lines over 1000 octets before anything is sent
        envelope = self._envelope(content, sender, recipients)
        self._numbered += 1
        return _Message(self._numbered, index, content, recipients, envelope)

    def _send_batch(self, messages: list[_Message], outcomes: list[MessageOutcome | None]) -> None:
        """Send *messages*, writing each one's outcome at its index in *outcomes*.

        ``tail`` is the message whose DATA was answered 354 and whose content is not yet sent:
        with PIPELINING it leads the next message's group, else it goes alone at once.
        """
        pipelining = self._conn.extensions.pipelining
        tail: _Message | None = None
        for message in messages:
            owner = tail  # whose outcome an error is
            try:
                if tail is not None and not pipelining:
                    outcomes[tail.index], tail = self._finish(tail), None
                owner = self._turn(message)
                if tail is None:
                    self._ready_for_mail()
                    replies = self._send_envelope(message.envelope)
                else:
                    owner = tail  # its content leads the write
                    self._write_group(tail, message.envelope)
                    self._turn(tail)
                    outcomes[tail.index] = self._message_outcome(tail)
                    owner = self._turn(message)
                    replies = [self._read_reply() for _ in message.envelope]
                tail = None
                tail = self._open_data(message, replies)
            except SMTPError as exc:
                assert owner is not None  # set before anything that can fail
                outcomes[owner.index], tail = exc, None
                if self._sock is None:
                    break  # the connection is gone: the rest were not attempted
        if tail is not None:
            try:
                self._turn(tail)
                outcomes[tail.index] = self._finish(tail)
            except SMTPError as exc:
                outcomes[tail.index] = exc
        for message in messages:
            if outcomes[message.index] is None:
                outcomes[message.index] = SMTPNotAttempted(
                    "not sent: the connection ended at an earlier message of the batch"
                )

    def _turn(self, message: _Message) -> _Message:
        """*message* is the one being written or answered: file its transcript lines under it."""
        self._transcript.tag = message.number
        return message

    def _envelope(self, content: Content, sender: str, recipients: list[str]) -> list[Event]:
        """MAIL, every RCPT and DATA, checked against what the server offers before any is sent.

        8-bit bytes in the body need 8BITMIME (RFC 6152); in the header section they are UTF-8
        header fields, which need SMTPUTF8 as a non-ASCII address does (RFC 6531 §3.4, RFC 6532
        §3). :meth:`send` and :meth:`send_many` both decide here, for each message.
        """
        eight_bit = not content.message.isascii()
        parameters = mail_parameters(
            self._conn.extensions,
            size=content.size,
            eight_bit=eight_bit,
            smtputf8=needs_smtputf8(sender) or not all(map(str.isascii, recipients)),
            utf8_header=eight_bit and not header_section(content.data).isascii(),
        )
        return [MailFrom(sender, parameters), *(RcptTo(r) for r in recipients), Data()]

    def _ready_for_mail(self) -> None:
        # After a failed transaction, RSET before the next MAIL (RFC 5321 §4.1.1.5).
        if self._conn.state is State.FAILED:
            self._expect(self._command(Rset()), "RSET")
        if self._conn.state is not State.READY:
            raise LocalProtocolError(f"cannot send a message while {self._conn.state.value}")

    def _send_envelope(self, envelope: list[Event]) -> list[Reply]:
        """Send MAIL, RCPT… and DATA: in one write with PIPELINING (RFC 2920), else one by one."""
        if self._conn.extensions.pipelining:
            self._write_group(None, envelope)
            return [self._read_reply() for _ in envelope]
        replies = [self._command(envelope[0])]
        if not replies[0].is_positive:
            return replies
        replies += [self._command(rcpt) for rcpt in envelope[1:-1]]
        if any(r.is_positive for r in replies[1:]):
            replies.append(self._command(envelope[-1]))
        return replies

    def _write_group(self, tail: _Message | None, envelope: list[Event]) -> None:
        """One write: *tail*'s content and final dot if any, then the commands of *envelope*.

        RFC 2920 §3.1 lets the content lead a group, which saves the next message a round trip.
        """
        conn, data = self._conn, b""
        if tail is not None:
            tag, self._transcript.tag = self._transcript.tag, tail.number
            data = conn.send(tail.content)
            self._transcript.summarised(tail.content)
            self._transcript.tag = tag
        if envelope:
            group = b"".join([conn.send(event) for event in envelope])
            self._transcript.sent(group)  # no secret and no message data in an envelope
            data += group
        if tail is None:
            self._write(data, envelope)
        else:  # each wait for room is a data block's (§4.5.3.2.5)
            self._write(data, [tail.content, *envelope], DATA_BLOCK_TIMEOUT)

    def _open_data(self, message: _Message, replies: list[Reply]) -> _Message:
        """Judge the envelope's replies as RFC 5321 §3.3 does; the message, if DATA said 354.

        Raises :class:`SMTPReplyError` when MAIL or DATA was refused, and
        :class:`SMTPRecipientsRefused` when no recipient was accepted, after ending the
        transaction so that the connection is ready for the next message.
        """
        envelope = message.envelope
        data_reply = replies[-1] if len(replies) == len(envelope) else None
        if not replies[0].is_positive:
            self._abandon_transaction(data_reply)
            raise SMTPReplyError(describe(envelope[0]), replies[0])
        recipient_replies = replies[1 : 1 + len(message.recipients)]
        message.accepted, message.refused = _sort_recipients(message.recipients, recipient_replies)
        if not message.accepted:
            self._abandon_transaction(data_reply)
            raise SMTPRecipientsRefused(message.refused)
        self._expect(data_reply, "DATA")
        return message

    def _abandon_transaction(self, data_reply: Reply | None) -> None:
        """MAIL failed or no recipient was accepted: end DATA if the server opened it anyway, then
        RSET, so that the connection is ready for the next message (RFC 5321 §4.1.1.5)."""
        if data_reply is not None and data_reply.code == 354:
            # RFC 2920 §3.1: a 354 after every RCPT failed gets an empty message.
            self._command(Content(b""))
        self._expect(self._command(Rset()), "RSET")

    def _finish(self, message: _Message) -> MessageOutcome:
        """Send *message*'s content alone (the last of a batch, or without PIPELINING)."""
        self._write_group(message, [])
        return self._message_outcome(message)

    def _message_outcome(self, message: _Message) -> MessageOutcome:
        """The reply to *message*'s final dot: its result, or the refusal as its outcome.

        A broken connection (or 421) raises instead: that ends the whole batch.
        """
        reply = self._read_reply()
        if reply.is_positive:
            # Its lines are made only if someone reads them: most results are only counted.
            lines = partial(self._transcript.lines_of, message.number)
            return SendResult(message.accepted, message.refused, reply, lines)
        return SMTPReplyError("the message data", reply)

    # --- greeting, EHLO, STARTTLS and AUTH -------------------------------------------------------

    def _hello(self) -> None:
        name = self.local_hostname or self._address_literal()
        reply = self._command(Ehlo(name))
        if reply.code in (500, 502):
            # RFC 5321 §3.2: a server that does not know EHLO still knows HELO.
            reply = self._command(Helo(name))
        self._expect(reply, "EHLO")

    def _address_literal(self) -> str:
        # RFC 5321 §4.1.4: without a fully-qualified name, the address literal of our end.
        address = self._socket().getsockname()[0]
        return f"[IPv6:{address}]" if ":" in address else f"[{address}]"

    def _start_tls(self) -> None:
        if "STARTTLS" not in self._conn.extensions:
            raise SMTPNotSupported(
                f"{self.host}:{self.port} does not offer STARTTLS; refusing to go on in plaintext "
                "(RFC 3207 §4): check the port or use security='tls'"
            )
        self._expect(self._command(StartTLS()), "STARTTLS")
        self._sock = self._wrap_tls(self._socket())
        dropped = self._conn.start_tls()
        if dropped:
            self._transcript.note(f"-- {dropped} bytes sent before the TLS handshake discarded")
        self._hello()  # RFC 3207 §4.2: EHLO again, forgetting what was learned in plaintext

    def _authenticate(self) -> None:
        if not (self.is_encrypted or self.allow_plaintext_auth):
            raise LocalProtocolError(
                "refusing to send a password over an unencrypted connection (RFC 4954 §4): "
                "use security='starttls' or 'tls', or allow_plaintext_auth=True"
            )
        mechanism, initial, responses = self._auth_exchange()
        reply = self._command(Auth(mechanism, initial))
        for response in responses:
            if reply.code != 334:
                break
            reply = self._command(AuthResponse(response))
        if reply.code == 334:
            reply = self._command(AuthResponse("*"))  # RFC 4954 §4: cancel an endless exchange
        if not reply.is_positive:
            raise SMTPAuthenticationError(f"AUTH {mechanism}", reply)

    def _auth_exchange(self) -> tuple[str, str | None, list[str]]:
        """The mechanism, its initial response and its answers to the server's challenges."""
        offered = self._conn.extensions.auth_mechanisms
        user, password = self.username or "", self._password or ""
        if "PLAIN" in offered:
            # RFC 4616 §2: authzid NUL authcid NUL passwd, in one initial response.
            response = _b64(f"\0{user}\0{password}")
            if len(write(Auth("PLAIN", response))) > MAX_COMMAND_LINE:
                # RFC 4954 §4: an initial response that would make the AUTH line longer than
                # SMTP allows MUST NOT be used; it answers the server's empty 334 instead.
                return "PLAIN", None, [response]
            return "PLAIN", response, []
        if "LOGIN" in offered:
            return "LOGIN", None, [_b64(user), _b64(password)]
        raise SMTPNotSupported(
            f"{self.host}:{self.port} offers no AUTH mechanism we speak (PLAIN, LOGIN); "
            f"it offers: {', '.join(sorted(offered)) or 'none'}"
        )

    # --- one command, one reply ----------------------------------------------------------------

    def _command(self, event: Event, timeout: float | None = None) -> Reply:
        data = self._conn.send(event)
        self._log_sent(event, data)
        self._write(data, (event,))
        return self._read_reply(timeout)

    def _expect(self, reply: Reply | None, what: str) -> None:
        """Raise :class:`SMTPReplyError` unless *reply* says go on (2yz, or 354 to DATA)."""
        if reply is None or reply.is_positive or reply.code == 354:
            return
        raise SMTPReplyError(what, reply)

    def _log_sent(self, event: Event, data: bytes) -> None:
        if isinstance(event, _SUMMARISED):
            self._transcript.summarised(event)
        else:
            self._transcript.sent(data)  # exactly as on the wire

    def _read_reply(self, timeout: float | None = None) -> Reply:
        """Read until the core has the next reply; the wait is that of the command it answers.

        RFC 5321 §4.5.3.2 times the whole reply, not each piece of it: the reply gets one
        deadline, and each receive waits only for what is left of it, so that a server trickling
        a byte at a time cannot hold the client for ever.
        """
        conn = self._conn
        if not conn.pending:
            raise LocalProtocolError("no reply is expected: no command is waiting for one")
        deadline: float | None = None
        try:
            for _ in range(_MAX_READS):
                got = conn.next_reply()
                if got is not None:
                    return self._note_reply(*got)
                # With PIPELINING most replies are already in: work out the wait only to wait.
                command = conn.pending[0]
                if deadline is None:
                    wait = self._reply_timeout(command) if timeout is None else timeout
                    deadline = time.monotonic() + wait
                self._receive(deadline - time.monotonic(), wait, command)
        except RemoteProtocolError:
            self._abort()  # after a violation nothing the server says can be trusted
            raise
        raise RemoteProtocolError("the server sent too many pieces without finishing a reply")

    def _note_reply(self, command: Command, reply: Reply) -> Reply:
        self._transcript.received(reply)
        if reply.code == 421:
            # RFC 5321 §3.8: the server is closing the channel; nothing more can be said.
            self._abort()
            raise SMTPReplyError(describe_command(command), reply)
        return reply

    def _reply_timeout(self, command: Command) -> float:
        if isinstance(command, Content):
            # §4.5.3.2.6, not capped by ``timeout``: giving up here sends the message twice.
            return self.final_timeout
        return self._cap(_REPLY_TIMEOUTS.get(type(command), COMMAND_TIMEOUT))

    # --- the I/O boundary: every socket call, and the translation of its exceptions ---------------

    def _open_socket(self) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.port), self._cap(CONNECT_TIMEOUT))
        except OSError as exc:
            what = f"connecting to {self.host}:{self.port}"
            raise self._translated(exc, what, connect=True) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # replies are small and awaited
        self._use(sock)
        if self.security == "tls":
            sock = self._wrap_tls(sock)  # RFC 8314 §3: implicit TLS from the first byte
        return sock

    def _wrap_tls(self, sock: socket.socket) -> ssl.SSLSocket:
        # The default context verifies the certificate chain and the host name (RFC 3207 §4.1).
        context = self.ssl_context or ssl.create_default_context()
        sock.settimeout(self._cap(COMMAND_TIMEOUT))  # the handshake blocks, with this bound
        try:
            tls = context.wrap_socket(sock, server_hostname=self.host)
        except OSError as exc:
            raise self._translated(exc, f"the TLS handshake with {self.host}:{self.port}") from exc
        self._use(tls)
        return tls

    def _write(
        self, data: bytes, events: Sequence[Event], timeout: float = COMMAND_TIMEOUT
    ) -> None:
        try:
            send_all(self._socket(), data, self._cap(timeout))
        except OSError as exc:
            what = " / ".join(describe(event) for event in events)
            raise self._translated(exc, f"sending {what!r}") from exc

    def _receive(self, left: float, wait: float, command: Command) -> None:
        """Receive what has arrived, waiting at most *left* seconds of the reply's *wait*."""
        try:
            size = receive_into(self._socket(), self._received, left)
        except OSError as exc:
            what = f"waiting for the reply to {_name(command)}"
            raise self._translated(exc, what, waited=wait) from exc
        if not size:
            self._abort()
            raise SMTPTransportError(
                f"{self.host}:{self.port} closed the connection while waiting for the reply "
                f"to {_name(command)}"
            )
        self._conn.receive_data(self._received[:size])  # the reader copies what it keeps

    def _socket(self) -> socket.socket:
        if self._sock is None:
            raise SMTPTransportError(
                f"not connected to {self.host}:{self.port}: use the client in a with block, "
                "and a new one after a connection failed"
            )
        return self._sock

    def _use(self, sock: socket.socket) -> None:
        # Non-blocking from here on: app.smtp.transport bounds each wait itself, and only the
        # calls that would block wait (a Python socket timeout polls before every call).
        sock.settimeout(0.0)
        self._sock = sock

    def _cap(self, seconds: float) -> float:
        return seconds if self.timeout is None else min(seconds, self.timeout)

    def _translated(
        self, exc: OSError, what: str, *, waited: float | None = None, connect: bool = False
    ) -> SMTPError:
        """Our error for a socket or ssl exception; the connection it broke is closed."""
        self._abort()
        kind, text = socket_failure(exc, what, waited)
        if kind == "timeout":
            return SMTPTimeout(text)
        if kind == "tls":
            return SMTPTLSError(text)
        return (SMTPConnectError if connect else SMTPTransportError)(text)

    def _abort(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


# Bounds the read loop: past this many reads, even one byte each, the reader has refused the reply.
_MAX_READS = MAX_REPLY_BYTES + MAX_REPLY_LINE + 2


def _sort_recipients(
    recipients: list[str], replies: list[Reply]
) -> tuple[list[str], dict[str, Reply]]:
    """Per-recipient results: one refusal does not stop the others (RFC 5321 §3.3)."""
    accepted: list[str] = []
    refused: dict[str, Reply] = {}
    for address, reply in zip(recipients, replies, strict=True):
        if reply.is_positive:
            accepted.append(address)
        else:
            refused[address] = reply
    return accepted, refused


def _name(command: Command) -> str:
    return repr(describe_command(command))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
