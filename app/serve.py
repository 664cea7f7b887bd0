"""Running QuizMail's servers: the web app (gunicorn or Werkzeug) and a list of services at once.

A *service* is anything with a ``name`` and ``start()`` / ``stop()``: the capture server, the web
app in a thread, the outbox deliverer and the POP3 server. ``run_services`` starts them
in order, waits for Ctrl-C or SIGTERM, and stops them in reverse order.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from app.config import DEFAULT_POP3_PORT, DEFAULT_SMTP_PORT, DEFAULT_WEB_PORT, ConfigError

#: Gunicorn's advice is (2 x cores) + 1; the product card and docker-compose.yml run two.
DEFAULT_WORKERS = 2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: The demo's ports from the environment, by ``Demo`` field: ``make run`` passes no option. The
#: names are the ones ``quizmail serve`` (web) and the app's relay setting (SMTP) already read.
DEMO_PORT_VARIABLES = {
    "web_port": "QUIZMAIL_WEB_PORT",
    "smtp_port": "QUIZMAIL_SMTP_PORT",
    "pop3_port": "QUIZMAIL_POP3_PORT",
}
PORT_RANGE = range(1, 65536)


class Service(Protocol):
    @property
    def name(self) -> str: ...

    def start(self) -> object: ...  # what it returns (some return themselves) is ignored

    def stop(self) -> None: ...


class ServiceError(Exception):
    """A service could not start; the message is one line meant for the user."""


class WebServer:
    """The Flask app on Werkzeug's threaded server, in a background thread (for the demo)."""

    def __init__(self, app: Flask, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return f"web app on http://{self.host}:{self.port}/"

    def start(self) -> None:
        # Werkzeug prints its own message and exits when the port is taken: look first.
        ensure_port_free(self.host, self.port, self.name)
        self._server = make_server(self.host, self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="web", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._server.server_close()


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Raise ServiceError when *host*:*port* cannot be bound (for servers that retry noisily)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServiceError(start_problem(what, exc)) from exc


def start_problem(what: str, exc: OSError) -> str:
    """One line saying why *what* could not start."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot start the {what}: the port is already in use;"
            " stop what uses it or choose another port"
        )
    return f"cannot start the {what}: {exc.strerror or exc}"


def run_services(services: Sequence[Service], on_ready: Callable[[], None] = lambda: None) -> None:
    """Start *services* in order, call *on_ready*, block until SIGINT/SIGTERM, stop them all."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, _setter(stop)) for sig in STOP_SIGNALS}
    started: list[Service] = []
    try:
        for service in services:
            _start(service)
            started.append(service)
        on_ready()
        while not stop.wait(timeout=1.0):
            pass
    finally:
        for service in reversed(started):
            service.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _setter(event: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        event.set()

    return handle


def _start(service: Service) -> None:
    try:
        service.start()
    except OSError as exc:
        raise ServiceError(start_problem(service.name, exc)) from exc


def serve_web(app: Flask, host: str, port: int, workers: int = DEFAULT_WORKERS) -> None:
    """Serve *app* under gunicorn when it is installed, else on Werkzeug's threaded server."""
    ensure_port_free(host, port, f"web app on {host}:{port}")
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        run_services([WebServer(app, host, port)])
        return

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
            self.cfg.set("workers", workers)

        def load(self) -> Any:
            return app

    _Gunicorn().run()


def port_from_environment(variable: str) -> int:
    """The port number in environment *variable*; a ConfigError says what is wrong with it."""
    raw = os.environ[variable]
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if port not in PORT_RANGE:
        raise ConfigError(f"{variable} must be a port number from 1 to 65535, not {raw!r}")
    return port


def _instructor_password() -> str:
    return os.environ.get("QUIZMAIL_INSTRUCTOR_PASSWORD") or secrets.token_urlsafe(12)


@dataclass
class Demo:
    """``quizmail demo``: every service in one process, embedded defaults under *var_dir*.

    To add a service to the demo, add one line to ``services()``.
    """

    host: str = "127.0.0.1"
    web_port: int = DEFAULT_WEB_PORT
    smtp_port: int = DEFAULT_SMTP_PORT
    var_dir: Path = Path("var")
    password: str = field(default_factory=_instructor_password)
    pop3_port: int = DEFAULT_POP3_PORT

    def __post_init__(self) -> None:
        """A port left at its default comes from ``DEMO_PORT_VARIABLES`` when one is set."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for name, variable in DEMO_PORT_VARIABLES.items():
            if getattr(self, name) == defaults[name] and os.environ.get(variable):
                setattr(self, name, port_from_environment(variable))

    @functools.cached_property
    def app(self) -> Flask:
        from app import create_app

        return create_app(
            {
                "VAR_DIR": str(self.var_dir),
                "SMTP_HOST": self.host,
                "SMTP_PORT": self.smtp_port,
                "INSTRUCTOR_PASSWORD": self.password,
            }
        )

    def services(self) -> list[Service]:
        from app.capture import CaptureServer
        from app.notify import Deliverer
        from app.pop3.cli import demo_pop3
        from app.store import MailStore

        mailbox = Path(self.app.config["MAILBOX_DIR"])
        return [
            CaptureServer(mailbox, self.host, self.smtp_port),
            Deliverer.from_config(self.app.config),
            WebServer(self.app, self.host, self.web_port),
            demo_pop3(MailStore(mailbox), self.host, self.pop3_port, self.password),
        ]

    def banner(self) -> str:
        web = f"http://{self.host}:{self.web_port}"
        return "\n".join(
            [
                "QuizMail demo is running; Ctrl-C stops it.",
                f"  Quiz:        {web}/",
                f"  Instructor:  {web}/instructor/  (password: {self.password})",
                f"  SMTP:        {self.host}:{self.smtp_port}, the capture server;"
                f" mail lands in {self.app.config['MAILBOX_DIR']}",
                f"  POP3:        {self.host}:{self.pop3_port}, user instructor+ADDRESS,"
                " the instructor password",
            ]
        )
