"""The session log's hook into aiosmtpd: every connection the capture server takes is recorded.

:func:`record_sessions` wraps a Controller's factory, so that each SMTP protocol object it makes
gets a :class:`SessionTap`. The tap hands the bytes the transport delivers (``data_received``,
before aiosmtpd's stream reader has split or stripped anything) and each line aiosmtpd writes
(``push``) to a :class:`~app.capture.recorder.SessionRecorder`, and passes the finished session
to the :class:`~app.store.sessions.SessionLog` when the connection is lost. It wraps the
object's methods rather than subclassing SMTP, so it works over whatever SMTP class the
controller makes, and a STARTTLS session is still seen in plain text (the TLS layer calls the
same methods). A failure inside the recorder is logged and ends the recording of that one
session; the session itself goes on.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from app.capture.recorder import SessionRecorder
from app.store.sessions import SessionLog

__all__ = ["SessionTap", "note_stored", "record_sessions"]

log = logging.getLogger(__name__)
#: The attribute of an SMTP object that holds its tap.
TAP_ATTRIBUTE = "_quizmail_session_tap"


def record_sessions(controller: Controller, sessions: SessionLog, idle_limit: float) -> None:
    """Record every session *controller* serves into *sessions*. *idle_limit* is the server's
    timeout, which tells a session it closed from one the client left."""
    make = controller.factory
    if getattr(make, "records_into", None) is sessions:
        return  # started again: already recording

    def factory() -> Any:
        smtp = make()
        SessionTap(smtp, sessions, idle_limit)
        return smtp

    factory.records_into = sessions  # type: ignore[attr-defined]
    controller.factory = factory  # type: ignore[method-assign]


def note_stored(server: SMTP, ids: list[str]) -> None:
    """The message the client just sent was stored as *ids* (called by the handler)."""
    tap: SessionTap | None = getattr(server, TAP_ATTRIBUTE, None)
    if tap is not None:
        tap.guarded(lambda recorder: recorder.stored(ids))


def session_id(started_at: float) -> str:
    """Sortable by time, unique without coordination: ``20261202T183000-1f2e3d4c``."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(started_at)) + "-" + secrets.token_hex(4)


class SessionTap:
    """Wraps one SMTP object's transport-facing methods to feed a recorder."""

    __slots__ = ("_eof", "_lost", "_made", "_push", "_received", "by_client", "connected",
                 "idle_limit", "recorder", "sessions")  # fmt: skip

    def __init__(self, smtp: SMTP, sessions: SessionLog, idle_limit: float) -> None:
        self.sessions = sessions
        self.idle_limit = idle_limit
        self.recorder: SessionRecorder | None = None
        self.by_client = False
        self.connected = False
        self._made = smtp.connection_made
        self._received = smtp.data_received
        self._push = smtp.push
        self._eof = smtp.eof_received
        self._lost = smtp.connection_lost
        smtp.connection_made = self.connection_made  # type: ignore[method-assign]
        smtp.data_received = self.data_received  # type: ignore[method-assign]
        smtp.push = self.push  # type: ignore[method-assign,assignment]
        smtp.eof_received = self.eof_received  # type: ignore[method-assign]
        smtp.connection_lost = self.connection_lost  # type: ignore[method-assign]
        setattr(smtp, TAP_ATTRIBUTE, self)

    def guarded(self, step: Callable[[SessionRecorder], None]) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        try:
            step(recorder)
        except Exception:
            self.failed()

    def failed(self) -> None:
        log.exception("recording a session failed; it goes on unrecorded")
        self.recorder = None

    def connection_made(self, transport: Any) -> None:
        if not self.connected:
            self.connected = True
            peer = transport.get_extra_info("peername")
            host, port = (str(peer[0]).partition("%")[0], int(peer[1])) if peer else ("", 0)
            started = time.time()
            self.recorder = SessionRecorder(
                session_id(started), host, port, started, time.monotonic()
            )
        else:  # STARTTLS: the TLS layer hands over its own transport
            self.guarded(lambda recorder: recorder.tls_started(time.monotonic()))
        self._made(transport)

    # These two run for every read and every reply: no closure, no call more than needed.

    def data_received(self, data: bytes) -> None:
        if self.recorder is not None:
            try:
                self.recorder.received(data, monotonic())
            except Exception:
                self.failed()
        self._received(data)

    def push(self, status: Any) -> Awaitable[None]:
        if self.recorder is not None:
            try:
                self.recorder.sent(status, monotonic())
            except Exception:
                self.failed()
        return self._push(status)

    def eof_received(self) -> bool | None:
        self.by_client = True
        return self._eof()

    def connection_lost(self, error: Exception | None) -> None:
        self.by_client |= error is not None
        now = time.monotonic()
        self.guarded(lambda r: r.closed(now, by_client=self.by_client, idle_limit=self.idle_limit))
        if self.recorder is not None:
            self.sessions.submit(functools.partial(self.recorder.to_json, time.time()))
        self.recorder = None
        self._lost(error)
