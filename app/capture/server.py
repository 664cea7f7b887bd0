"""The capture server: aiosmtpd's threaded Controller around CaptureHandler, loopback by default."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller

from app.capture.handler import CaptureHandler, RecipientPolicy
from app.store import MailStore

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


@dataclass
class CaptureServer:
    """An SMTP server storing every accepted message in *mailbox* (one Maildir per recipient).

    ``start()`` binds (raising OSError when the port is taken) and serves from a thread;
    ``stop()`` closes the listener. Usable as a context manager.
    """

    mailbox: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    policy: RecipientPolicy = field(default_factory=RecipientPolicy)
    max_size: int = DEFAULT_MAX_SIZE
    hostname: str = field(default_factory=socket.gethostname)

    def __post_init__(self) -> None:
        self.store = MailStore(self.mailbox)
        self.handler = CaptureHandler(self.store, self.policy, self.hostname)
        self._indexer = IndexRefresher(self.store)
        self._controller = Controller(
            self.handler,
            hostname=self.host,
            port=self.port,
            server_hostname=self.hostname,
            ident=GREETING_IDENT,
            data_size_limit=self.max_size,
            enable_SMTPUTF8=True,
            timeout=SERVER_TIMEOUT,
        )

    @property
    def name(self) -> str:
        return f"SMTP capture on {self.host}:{self.port} (mailbox {self.mailbox})"

    def start(self) -> None:
        self._controller.start()
        self._indexer.start()

    def stop(self) -> None:
        self._controller.stop()
        self._indexer.stop()
        self.store.close()  # after the deliveries under way (their clients may be gone)

    def __enter__(self) -> CaptureServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
