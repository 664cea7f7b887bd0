"""The session log's hook into aiosmtpd: every connection the capture server takes is recorded.

:func:`record_sessions` wraps a Controller's factory, so that each SMTP protocol object it makes
gets a :class:`SessionTap`. The tap hands the bytes the transport delivers (``data_received``,
before aiosmtpd's stream reader has split or stripped anything) and each line aiosmtpd writes
(``push``) to a :class:`~app.capture.recorder.SessionRecorder` — gathered in the server's
thread, read in the session log's — and the finished session to the
:class:`~app.store.sessions.SessionLog` when the connection is lost. It wraps the
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
from collections.abc import Awaitable
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
#: Octets a tap gathers before the recorder reads them (it holds them in memory until then).
MAX_GATHERED = 256 * 1024
#: What a tap gathers: (what, value, time): bytes read, a line written, ids stored, TLS began.
RECEIVED, SENT, STORED, TLS = range(4)
Event = tuple[int, Any, float]
#: Where and when a session began: the peer's host and port, Unix time, monotonic time.
Origin = tuple[Any, int, float, float]


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
        tap.stored(ids)


def session_id(started_at: float) -> str:
    """Sortable by time, unique without coordination: ``20261202T183000-1f2e3d4c``."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(started_at)) + "-" + secrets.token_hex(4)


class SessionTap:
    """Wraps one SMTP object's transport-facing methods to record its session.

    The server's thread only gathers what happened — bytes read, lines written, with their
    times — and the session log's thread hands it to the recorder when the session ends
    (:func:`replay`; the recorder is sans-IO, so when it reads changes nothing). Past
    MAX_GATHERED octets read, the tap hands them over at once, so that a session's memory stays
    bounded whatever it sends.
    """

    __slots__ = ("_eof", "_lost", "_made", "_push", "_received", "by_client", "connected",
                 "gathered", "gathered_octets", "idle_limit", "origin", "recorder", "recording",
                 "sessions")  # fmt: skip

    def __init__(self, smtp: SMTP, sessions: SessionLog, idle_limit: float) -> None:
        self.sessions = sessions
        self.idle_limit = idle_limit
        self.recording = False
        self.origin: Origin = ("", 0, 0.0, 0.0)
        self.recorder: SessionRecorder | None = None  # made when first needed, in any thread
        self.gathered: list[Event] = []
        self.gathered_octets = 0
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

    def connection_made(self, transport: Any) -> None:
        if not self.connected:
            self.connected = self.recording = True
            peer = transport.get_extra_info("peername")
            self.origin = (peer[0], peer[1], time.time(), monotonic()) if peer else self.origin
        elif self.recording:  # STARTTLS: the TLS layer hands over its own transport
            self.gathered.append((TLS, None, monotonic()))
        self._made(transport)

    # These two run for every read and every reply: no closure, no call more than needed.

    def data_received(self, data: bytes) -> None:
        if self.recording:
            self.gathered.append((RECEIVED, data, monotonic()))
            self.gathered_octets += len(data)
            if self.gathered_octets > MAX_GATHERED:
                self.hand_over()
        self._received(data)

    def push(self, status: Any) -> Awaitable[None]:
        if self.recording:
            self.gathered.append((SENT, status, monotonic()))
        return self._push(status)

    def stored(self, ids: list[str]) -> None:
        if self.recording:
            self.gathered.append((STORED, ids, 0.0))

    def hand_over(self) -> None:
        """Give the recorder what was gathered, now."""
        events, self.gathered, self.gathered_octets = self.gathered, [], 0
        self.recorder = self.recorder or recorder_for(self.origin)
        if not replay(self.recorder, events):
            self.recording = False

    def eof_received(self) -> bool | None:
        self.by_client = True
        return self._eof()

    def connection_lost(self, error: Exception | None) -> None:
        self.by_client |= error is not None
        if self.recording:
            build = functools.partial(
                finish, self.recorder or self.origin, self.gathered, monotonic(), time.time(),
                by_client=self.by_client, idle_limit=self.idle_limit,
            )  # fmt: skip
            self.sessions.submit(build)
        self.recording, self.recorder, self.gathered = False, None, []
        self._lost(error)


def replay(recorder: SessionRecorder, events: list[Event]) -> bool:
    """Feed *events* to *recorder*; False (logged) when the recorder failed."""
    try:
        for kind, value, at in events:
            if kind == RECEIVED:
                recorder.received(value, at)
            elif kind == SENT:
                recorder.sent(value, at)
            elif kind == STORED:
                recorder.stored(value)
            else:
                recorder.tls_started(at)
    except Exception:
        log.exception("recording a session failed; it goes on unrecorded")
        return False
    return True


def recorder_for(origin: Origin) -> SessionRecorder:
    """A recorder for the session that began as *origin* says."""
    host, port, started, clock = origin
    return SessionRecorder(session_id(started), str(host).partition("%")[0], int(port), started,
                           clock)  # fmt: skip


def finish(
    recorder: SessionRecorder | Origin,
    events: list[Event],
    now: float,
    wall: float,
    *,
    by_client: bool,
    idle_limit: float,
) -> dict[str, Any]:
    """The session's record, in the session log's thread: the last events, then the end."""
    if not isinstance(recorder, SessionRecorder):
        recorder = recorder_for(recorder)
    if not replay(recorder, events):
        raise RuntimeError("the recorder failed on this session")
    recorder.closed(now, by_client=by_client, idle_limit=idle_limit)
    return recorder.to_json(wall)
