"""The capture server: CaptureHandler's sessions on one event loop in a thread, loopback by default.

One loop serves every listener: the plain port (STARTTLS when a certificate is given), the
submission port (STARTTLS, and AUTH before MAIL: RFC 6409, office365-style) and the implicit-TLS
port (RFC 8314). Sessions are :class:`app.capture.protocol.CaptureSMTP`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.capture.auth import Logins
from app.capture.faults import Faults
from app.capture.handler import CaptureHandler, RecipientPolicy
from app.capture.protocol import TLS_HANDSHAKE_TIMEOUT, CaptureSMTP, SessionSettings
from app.capture.recording import SessionTap
from app.capture.retention import PRUNE_INTERVAL, Retention, RetentionKeeper
from app.store import MailStore
from app.store.sessions import DEFAULT_KEEP, SessionLog

DEFAULT_HOST = "127.0.0.1"  # loopback: a capture server is for this machine unless told otherwise
DEFAULT_PORT = 8025  # aiosmtpd's customary port (app.config.DEFAULT_SMTP_PORT)
#: Largest message accepted, advertised by SIZE (RFC 1870) and enforced with 552. 25 MiB is what
#: large public providers accept; a quiz report is a few kilobytes.
DEFAULT_MAX_SIZE = 25 * 1024 * 1024
#: RFC 5321 §4.5.3.2.7: a server should wait at least five minutes for the next command.
SERVER_TIMEOUT = 300
GREETING_IDENT = "QuizMail capture (never relays)"
#: How often the index may catch up with what was delivered (readers catch up themselves anyway).
INDEX_INTERVAL = 1.0
#: Indexing parses every message, which costs the server several times what storing it does, so
#: it waits for a quiet interval; during a long burst (a whole class submitting) it still runs this
#: often, so that the web app's reads never have much left to parse.
MAX_INDEX_LAG = 30.0

log = logging.getLogger(__name__)


class IndexRefresher:
    """Keeps the store's index up with the Maildirs in a background thread, so that the web app's
    reads find little left to index. Delivery itself never waits for the index, and the index
    catches up once an interval passes without deliveries (or MAX_INDEX_LAG, whichever first)."""

    def __init__(
        self, store: MailStore, interval: float = INDEX_INTERVAL, max_lag: float = MAX_INDEX_LAG
    ) -> None:
        self.store = store
        self.interval = interval
        self.max_lag = max_lag
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="index", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        seen, refreshed_at = self.store.delivered, time.monotonic()
        while not self._stop.wait(self.interval):
            busy, seen = self.store.delivered != seen, self.store.delivered
            if busy and time.monotonic() - refreshed_at < self.max_lag:
                continue
            refreshed_at = time.monotonic()
            try:
                self.store.refresh()
            except Exception:  # the index is a cache: log, and try again next time
                log.exception("index refresh failed")


class LoopThread:
    """An event loop in a daemon thread with the listeners it serves; ``stop()`` ends every
    session (each delivery under way goes on in the store's threads)."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._servers: list[asyncio.Server] = []
        self._sessions: weakref.WeakSet[CaptureSMTP] = weakref.WeakSet()

    def start(self) -> None:
        self._thread.start()

    def listen(self, factory: Callable[[], CaptureSMTP], host: str, port: int) -> int:
        """Listen on *host*:*port* (0: a free port) and return the port; the OSError that
        prevents it (a port in use) is raised."""

        def session() -> CaptureSMTP:
            made = factory()
            self._sessions.add(made)
            return made

        listening = self.loop.create_server(session, host, port, reuse_address=True)
        server = asyncio.run_coroutine_threadsafe(listening, self.loop).result()
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
        self.loop.close()

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for session in list(self._sessions):  # a TLS session's socket has no task to close it
            session.abort()
        await asyncio.sleep(0)  # the transports' connection_lost callbacks


@dataclass
class CaptureServer:
    """An SMTP server storing every accepted message in *mailbox* (one Maildir per recipient).

    A port of 0 is a free one, which ``start()`` puts in its field. With *tls* (a server
    context) the main port offers STARTTLS (unless ``offer_starttls`` is
    off), and *submission_port* and *tls_port* may listen too; with *logins*, AUTH is offered.
    ``start()`` binds (raising OSError when a port is taken) and serves from a thread;
    ``stop()`` closes the listeners. Usable as a context manager.
    """

    mailbox: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    policy: RecipientPolicy = field(default_factory=RecipientPolicy)
    max_size: int = DEFAULT_MAX_SIZE
    hostname: str = field(default_factory=socket.gethostname)
    tls: ssl.SSLContext | None = None
    offer_starttls: bool = True
    submission_port: int | None = None
    tls_port: int | None = None
    logins: Logins | None = None
    faults: Faults | None = None
    retention: Retention = field(default_factory=Retention)
    retention_interval: float = PRUNE_INTERVAL
    handshake_timeout: float = TLS_HANDSHAKE_TIMEOUT
    timeout: float = SERVER_TIMEOUT
    #: Sessions the session log keeps (app.store.sessions); 0 records none.
    keep_sessions: int = DEFAULT_KEEP

    def __post_init__(self) -> None:
        if self.submission_port is not None and (self.tls is None or self.logins is None):
            raise ValueError("a submission port needs a TLS certificate and logins for AUTH")
        if self.tls_port is not None and self.tls is None:
            raise ValueError("an implicit-TLS port needs a TLS certificate")
        self.store = MailStore(self.mailbox)
        self.handler = CaptureHandler(self.store, self.policy, self.hostname)
        self._indexer = IndexRefresher(self.store)
        self._keeper = (
            RetentionKeeper(self.store, self.retention, self.retention_interval)
            if self.retention
            else None
        )
        self._loop: LoopThread | None = None
        self.sessions = SessionLog(self.mailbox, keep=self.keep_sessions)

    def listeners(self) -> list[tuple[str, SessionSettings]]:
        """Each port to listen on (the name of its field), and what its sessions offer."""
        required = bool(self.logins and self.logins.required)

        def offering(
            tls: ssl.SSLContext | None, *, implicit: bool = False, auth: bool = required
        ) -> SessionSettings:
            return SessionSettings(
                tls, implicit, self.logins, auth, self.faults, self.handshake_timeout
            )

        found = [("port", offering(self.tls if self.offer_starttls else None))]
        if self.submission_port is not None:
            found.append(("submission_port", offering(self.tls, auth=True)))
        if self.tls_port is not None:
            found.append(("tls_port", offering(self.tls, implicit=True)))
        return found

    def session(self, settings: SessionSettings) -> CaptureSMTP:
        assert self._loop is not None
        smtp = CaptureSMTP(
            self.handler,
            settings,
            hostname=self.hostname,
            ident=GREETING_IDENT,
            data_size_limit=self.max_size,
            enable_SMTPUTF8=True,
            timeout=self.timeout,
            loop=self._loop.loop,
        )
        if self.keep_sessions:
            SessionTap(smtp, self.sessions, self.timeout)
        return smtp

    @property
    def name(self) -> str:
        ports = [str(self.port)]
        if self.submission_port is not None:
            ports.append(f"{self.submission_port} (submission)")
        if self.tls_port is not None:
            ports.append(f"{self.tls_port} (TLS)")
        return f"SMTP capture on {self.host}:{', '.join(ports)} (mailbox {self.mailbox})"

    def start(self) -> None:
        self._loop = LoopThread("capture")
        self._loop.start()
        try:
            for field_name, settings in self.listeners():
                factory = functools.partial(self.session, settings)
                port = self._loop.listen(factory, self.host, getattr(self, field_name))
                setattr(self, field_name, port)  # the one it got when asked for 0
        except BaseException:
            self._loop.stop()
            raise
        self._indexer.start()
        if self._keeper is not None:
            self._keeper.start()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
        self._indexer.stop()
        if self._keeper is not None:
            self._keeper.stop()
        self.sessions.close()
        self.store.close()  # after the deliveries under way (their clients may be gone)

    def __enter__(self) -> CaptureServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
