"""The capture server: aiosmtpd's threaded Controller around CaptureHandler, loopback by default."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller

from app.capture.handler import CaptureHandler, RecipientPolicy
from app.mailstore import MailStore

DEFAULT_HOST = "127.0.0.1"  # loopback: a capture server is for this machine unless told otherwise
DEFAULT_PORT = 8025  # aiosmtpd's customary port (app.config.DEFAULT_SMTP_PORT)
#: Largest message accepted, advertised by SIZE (RFC 1870) and enforced with 552. 25 MiB is what
#: large public providers accept; a quiz report is a few kilobytes.
DEFAULT_MAX_SIZE = 25 * 1024 * 1024
#: RFC 5321 §4.5.3.2.7: a server should wait at least five minutes for the next command.
SERVER_TIMEOUT = 300
GREETING_IDENT = "QuizMail capture (never relays)"


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

    def stop(self) -> None:
        self._controller.stop()
        self.store.close()

    def __enter__(self) -> CaptureServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
