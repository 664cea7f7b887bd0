"""One SMTP session of the capture server: aiosmtpd's ``SMTP`` with TLS, AUTH and faults of ours.

What aiosmtpd does is kept (the command loop, MAIL/RCPT/DATA, the handler's hooks); what it
does not do, or not as the RFCs want, is done here:

- STARTTLS (RFC 3207) is refused once TLS is up (``503``), and whatever the client pipelined
  behind it is thrown away before the handshake, and logged: a command injected in plaintext
  must not run inside the TLS session (CVE-2011-0411). The handshake has a time limit.
- Implicit TLS (RFC 8314 §3): on a TLS listener the handshake comes before the greeting.
- A TLS handshake sent to a plaintext port is answered with a 554 and the connection closed,
  rather than left waiting for a line that never comes.
- AUTH PLAIN and LOGIN (RFC 4954, RFC 4616) check the users file in a thread; a failed login
  is answered after a delay, and the last allowed failure closes the connection (as POP3's).
  AUTH lines may be 12,288 octets (RFC 4954 §4), other command lines stay at 512.
- Scripted faults (:mod:`app.capture.faults`) at connect, EHLO, MAIL, RCPT, DATA and the end
  of data.

It leans on aiosmtpd internals that its own STARTTLS uses (``_tls_protocol``,
``_original_transport``, the reader's buffer), as a subclass must; the capture tests cover each.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import logging
import re
import ssl
from asyncio import sslproto
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, syntax

from app.capture.auth import (
    AUTH_LINE_LIMIT,
    AUTH_OK,
    BAD_CREDENTIALS,
    LINE_TOO_LONG,
    MECHANISMS,
    NOT_OFFERED,
    TOO_MANY_FAILURES,
    AuthError,
    AuthState,
    Logins,
    decode_response,
    split_plain,
    text,
)
from app.capture.faults import Fault, Faults

__all__ = ["TLS_HANDSHAKE_TIMEOUT", "CaptureSMTP", "SessionSettings"]

log = logging.getLogger(__name__)

#: asyncio's own default: a client that opens TLS and stalls is dropped after this many seconds.
TLS_HANDSHAKE_TIMEOUT = 60.0
#: The session's line reader holds this much: a whole AUTH line (RFC 4954 §4) and then some, so
#: that an over-long one is told apart from other over-long lines and answered 500 5.5.6.
READER_LIMIT = 16 * 1024
#: RFC 5321 §4.5.3.1.4: other command lines, CRLF included.
COMMAND_LIMIT = 512

TLS_ACTIVE = "503 5.5.1 TLS is already active"
TLS_READY = "220 2.0.0 Ready to start TLS"
TLS_UNAVAILABLE = "454 4.7.0 TLS not available"
STARTTLS_SYNTAX = "501 5.5.4 Syntax: STARTTLS"
TLS_ON_PLAIN_PORT = "554 5.7.0 This port speaks plaintext SMTP: use STARTTLS, or the TLS port"
NO_SERVICE_LEFT = "503 5.5.1 No service here: only QUIT is left"
BYE = "221 2.0.0 Bye"
#: The first bytes of a TLS ClientHello: a handshake record (22) of TLS 1.x (RFC 8446 §5.1).
_TLS_RECORD = re.compile(rb"\x16\x03[\x00-\x04]")
_ADDRESS = re.compile(r"<([^>]*)>")


@dataclass(frozen=True)
class SessionSettings:
    """What every session of one listener shares.

    *tls* is the certificate's context: STARTTLS is offered with it, or, with *implicit_tls*,
    the listener speaks TLS from the first byte. *logins* None means no AUTH at all.
    """

    tls: ssl.SSLContext | None = None
    implicit_tls: bool = False
    logins: Logins | None = None
    auth_required: bool = False
    faults: Faults | None = None
    handshake_timeout: float = TLS_HANDSHAKE_TIMEOUT


def _address(argument: str | None) -> str:
    """The address of a MAIL or RCPT argument, for matching faults only (aiosmtpd parses it)."""
    found = _ADDRESS.search(argument or "")
    return found[1] if found else (argument or "").partition(":")[2].strip()


def _handshake_problem(exc: BaseException) -> str:
    if isinstance(exc, ConnectionAbortedError):
        return "it did not complete in time"
    return str(exc) or type(exc).__name__


class CaptureSMTP(SMTP):
    """aiosmtpd's session with STARTTLS, implicit TLS, AUTH and faults as the capture server's."""

    def __init__(self, handler: Any, settings: SessionSettings, **kwargs: Any) -> None:
        self.settings = settings
        offered = settings.logins.mechanisms if settings.logins else ()
        # aiosmtpd sizes the reader by line_length_limit, which DATA also checks its lines
        # against (RFC 5321 §4.5.3.1.6): raise it only while the reader is made.
        self.line_length_limit = READER_LIMIT
        super().__init__(
            handler,
            tls_context=None if settings.implicit_tls else settings.tls,
            auth_require_tls=not (settings.logins and settings.logins.insecure),
            auth_exclude_mechanism=[m for m in MECHANISMS if m not in offered],
            **kwargs,
        )
        del self.line_length_limit
        # Set here, not passed: aiosmtpd warns when AUTH is required without TLS (--auth-insecure).
        self._auth_required = settings.auth_required
        # aiosmtpd keeps these limits in a dict shared by every session; each gets its own.
        self.command_size_limits = collections.defaultdict(
            lambda: COMMAND_LIMIT, {"AUTH": READER_LIMIT}
        )
        self._first_data = True
        self._tls_started = False
        self._failed_logins = 0

    # --- connection and TLS ---------------------------------------------------------------------

    @property
    def peer_host(self) -> str:
        peer = self.session.peer if self.session else None
        return str(peer[0]) if isinstance(peer, tuple) else str(peer or "")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is not None:  # the TLS handshake is done
            self._tls_started = True
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._first_data and self._tls_protocol is None and _TLS_RECORD.match(data):
            log.warning("%s sent a TLS handshake to a plaintext port; closing", self.peer_host)
            assert isinstance(self.transport, asyncio.WriteTransport)
            self.transport.write(TLS_ON_PLAIN_PORT.encode() + b"\r\n")
            self.transport.close()
            return
        self._first_data = False
        super().data_received(data)

    async def _handle_client(self) -> None:
        if self.settings.implicit_tls:
            assert self.settings.tls is not None
            if not await self._start_tls(self.settings.tls):
                return
        if await self._connect_fault():
            await super()._handle_client()

    async def _start_tls(self, context: ssl.SSLContext) -> bool:
        """Put TLS under the session (as aiosmtpd's STARTTLS does, with a time limit); False,
        logged and closed, when the handshake fails."""
        waiter = self.loop.create_future()
        self._tls_protocol = sslproto.SSLProtocol(
            self.loop,
            self,
            context,
            waiter,
            server_side=True,
            ssl_handshake_timeout=self.settings.handshake_timeout,  # type: ignore[arg-type]
        )
        self._original_transport = self.transport
        assert self._original_transport is not None
        self._original_transport.set_protocol(self._tls_protocol)
        self.transport = self._tls_protocol._app_transport
        self._tls_protocol.connection_made(self._original_transport)
        problem = None
        try:
            await waiter
        except (OSError, ssl.SSLError, EOFError) as exc:
            problem = _handshake_problem(exc)
        if problem is None and not self._tls_started:
            problem = "the client closed the connection"
        if problem is not None:
            log.warning("TLS handshake with %s failed: %s", self.peer_host, problem)
            self.connection_lost(None)
            return False
        return True

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str | None) -> None:
        if self._tls_protocol is not None:  # twice, or on the implicit-TLS port
            await self.push(TLS_ACTIVE)
            return
        if arg:
            await self.push(STARTTLS_SYNTAX)
            return
        if self.tls_context is None:
            await self.push(TLS_UNAVAILABLE)
            return
        # RFC 3207 §5 / CVE-2011-0411: what came behind STARTTLS came in plaintext; drop it.
        pipelined = self._reader._buffer  # type: ignore[attr-defined]
        if pipelined:
            log.warning(
                "%s pipelined %d octets after STARTTLS; discarded unread",
                self.peer_host,
                len(pipelined),
            )
            pipelined.clear()
        await self.push(TLS_READY)
        await self._start_tls(self.tls_context)

    # --- AUTH -------------------------------------------------------------------------------------

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str | None) -> None:
        if await self.check_helo_needed("EHLO"):
            return
        logins = self.settings.logins
        assert self.session is not None
        assert self.envelope is not None
        state = AuthState(
            tls=self._tls_protocol is not None,
            extended=bool(self.session.extended_smtp),
            authenticated=bool(self.session.authenticated),
            in_transaction=self.envelope.mail_from is not None,
        )
        refusal = NOT_OFFERED if logins is None else logins.refusal(arg or "", state)
        if refusal is not None:
            await self.push(refusal)
            return
        mechanism, *initial = (arg or "").split()
        try:
            login = await (self._plain if mechanism.upper() == "PLAIN" else self._login)(initial)
        except AuthError as error:
            await self.push(error.reply)
            return
        await self._log_in(mechanism.upper(), *login)

    async def _plain(self, initial: list[str]) -> tuple[str, str, str]:
        """RFC 4616: the initial response, or the answer to an empty challenge."""
        message = decode_response(initial[0].encode()) if initial else await self._challenge(b"")
        return split_plain(message)

    async def _login(self, initial: list[str]) -> tuple[str, str, str]:
        """The LOGIN mechanism (draft-murchison-sasl-login): user name, then password."""
        user = decode_response(initial[0].encode()) if initial else None
        login = text(user if user is not None else await self._challenge(b"Username:"))
        return "", login, text(await self._challenge(b"Password:"))

    async def _challenge(self, challenge: bytes) -> bytes:
        """Send a 334 challenge; the client's decoded answer, or AuthError saying what to reply."""
        await self.push(b"334 " + base64.b64encode(challenge))
        try:
            line = await self._reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as error:
            await self._skip_line(error.consumed)
            raise AuthError(LINE_TOO_LONG) from None
        if len(line.rstrip(b"\r\n")) > AUTH_LINE_LIMIT:
            raise AuthError(LINE_TOO_LONG)
        return decode_response(line)

    async def _skip_line(self, consumed: int) -> None:
        """Read past the end of an over-long line."""
        while True:
            await self._reader.read(consumed)
            try:
                await self._reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as error:
                consumed = error.consumed

    async def _log_in(self, mechanism: str, authzid: str, login: str, password: str) -> None:
        logins = self.settings.logins
        assert logins is not None
        assert self.session is not None
        credentials = await asyncio.to_thread(logins.check, authzid, login, password)
        if credentials is not None:
            log.info("AUTH %s: %r logged in from %s", mechanism, login, self.peer_host)
            self.session.authenticated = True
            self.session.auth_data = credentials  # type: ignore[assignment]
            await self.push(AUTH_OK)
            return
        self._failed_logins += 1
        logins.failures += 1
        log.warning(
            "AUTH %s failed for %r from %s (%d of %d)",
            mechanism, login, self.peer_host, self._failed_logins, logins.max_failures,
        )  # fmt: skip
        await asyncio.sleep(logins.delay)  # other sessions carry on meanwhile
        if self._failed_logins < logins.max_failures:
            await self.push(BAD_CREDENTIALS)
            return
        await self.push(TOO_MANY_FAILURES)
        self._close()

    async def _call_handler_hook(self, command: str, *args: Any) -> Any:
        if command == "EHLO" and self.settings.logins is None:
            hostname, responses = args  # no logins: aiosmtpd's empty "AUTH" keyword goes
            args = (hostname, [r for r in responses if not r.startswith("250-AUTH")])
        if command == "DATA":  # the message is in: the end-of-data stage
            fault = self._fault("end-of-data", *self._envelope_addresses())
            if fault is not None:
                return await self._end_of_data_fault(fault)
        return await super()._call_handler_hook(command, *args)

    # --- faults at each stage ---------------------------------------------------------------------

    def _fault(
        self, stage: str, sender: str | None = None, recipients: Sequence[str] = ()
    ) -> Fault | None:
        faults = self.settings.faults
        return None if faults is None else faults.match(stage, self.peer_host, sender, recipients)

    def _envelope_addresses(self) -> tuple[str | None, list[str]]:
        assert self.envelope is not None
        mail_from = self.envelope.mail_from
        return (None if mail_from is None else mail_from.strip("<>")), list(self.envelope.rcpt_tos)

    def abort(self) -> None:
        """Close the connection at once, TLS or not (the server is stopping)."""
        for transport in (self.transport, self._original_transport):
            if transport is not None and not transport.is_closing():
                transport.abort()  # type: ignore[attr-defined]

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def _took_place(self, fault: Fault | None) -> bool:
        """Carry out *fault* for a command: True when it replaced the command."""
        if fault is None:
            return False
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            self._close()
            return True
        if fault.reply is None:
            return False
        await self.push(fault.reply)
        if fault.closes:
            self._close()
        return True

    async def _connect_fault(self) -> bool:
        """The connect stage: True when the session goes on to the greeting."""
        fault = self._fault("connect")
        if not await self._took_place(fault):
            return True
        assert fault is not None
        if fault.reply and not fault.closes:
            # RFC 5321 §3.1: after a refusing greeting, wait for QUIT, 503 to anything else.
            await self._refuse_until_quit()
        return False

    async def _refuse_until_quit(self) -> None:
        while self.transport is not None:
            try:
                line = await self._reader.readuntil(b"\n")
            except asyncio.LimitOverrunError as error:
                await self._skip_line(error.consumed)
                line = b""
            except asyncio.IncompleteReadError:
                break
            if line.strip().upper() == b"QUIT":
                await self.push(BYE)
                break
            await self.push(NO_SERVICE_LEFT)
        self._close()

    async def _end_of_data_fault(self, fault: Fault) -> str:
        """The reply to the final dot that *fault* gives; the message is not stored."""
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            self._close()
        elif fault.closes:
            self.loop.call_soon(self._close)  # after aiosmtpd has written the reply
        return fault.reply or "250 2.0.0 OK"

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        if not await self._took_place(self._fault("ehlo")):
            await super().smtp_EHLO(hostname)

    @syntax("HELO hostname")
    async def smtp_HELO(self, hostname: str) -> None:
        if not await self._took_place(self._fault("ehlo")):
            await super().smtp_HELO(hostname)

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        if not await self._took_place(self._fault("mail", _address(arg))):
            await super().smtp_MAIL(arg)

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        assert self.envelope is not None
        sender, _ = self._envelope_addresses()
        ready = sender is not None and not self._auth_needed()
        fault = self._fault("rcpt", sender, [_address(arg)]) if ready else None
        if not await self._took_place(fault):
            await super().smtp_RCPT(arg)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str | None) -> None:
        assert self.envelope is not None
        ready = bool(self.envelope.rcpt_tos) and not arg and not self._auth_needed()
        fault = self._fault("data", *self._envelope_addresses()) if ready else None
        if not await self._took_place(fault):
            await super().smtp_DATA(arg)

    def _auth_needed(self) -> bool:
        return bool(self._auth_required and self.session and not self.session.authenticated)
