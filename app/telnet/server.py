"""The asyncio driver of the telnet quiz: sockets, the idle timer, the time limit's wake-up, and the
results email sent in a thread.

``TelnetQuizServer.handle`` runs one connection: bytes go through :class:`~app.telnet.wire.
LineReader`, lines through :class:`~app.telnet.dialogue.Dialogue`, and what it says goes back.
``TelnetController`` runs the server on a loop of its own in a thread (``quizmail telnet``, the
demo, tests); it is a service for :func:`app.serve.run_services`.

Nothing a client sends can reach another session or see a traceback: a line too long, not UTF-8
or full of junk is refused in one line; an idle client is told why before it is closed; a bug in
one session is logged, told to that client in one line, and ends that session only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.config import DEFAULT_TELNET_PORT
from app.notify import Notifier
from app.outbox import OutboxRecord
from app.quiz import Quiz, QuizCatalog
from app.quiz.attempts import AttemptMaker, quiz_catalog
from app.ratelimit import RateLimiter
from app.results_mail import SendRefused, email_or_give_back, rate_limiter_for, take_a_send
from app.telnet.dialogue import CheckEmail, Dialogue, Say, SendEmail, utcnow
from app.telnet.wire import Interrupt, Line, LineReader, Refused, encode

__all__ = [
    "DEFAULT_TELNET_PORT",
    "IDLE_TIMEOUT",
    "MAX_SESSIONS",
    "TelnetController",
    "TelnetQuizServer",
]

#: A student thinking about a question is silent for a while; ten minutes is the POP3 server's
#: autologout too (RFC 1939 §3), and a timed quiz wakes its session at the deadline anyway.
IDLE_TIMEOUT = 600.0
#: Sessions at once before a newcomer is turned away in one line: an exam hall, with room to spare.
MAX_SESSIONS = 1000
READ_SIZE = 64 * 1024
#: Threads that send results emails (each keeps its connection to the relay for the next one).
SEND_THREADS = 8
CLOSE_TIMEOUT = 1.0  # seconds to wait for a closing connection to be gone
CLOSING_ERRORS = (ConnectionError, asyncio.CancelledError, TimeoutError)

BUSY = "Sorry, too many people are taking quizzes here right now. Try again in a minute.\n"
INTERNAL_ERROR = "Sorry, something went wrong on the server; this session has ended.\n"
EMAIL_ERROR = "Sorry, the results could not be emailed just now (a problem on the server)."

log = logging.getLogger(__name__)


@dataclass
class TelnetQuizServer:
    """What every session shares: the quizzes, the attempts' key, the outbox and the limits."""

    catalog: QuizCatalog
    attempts: AttemptMaker
    notifier: Notifier
    limiter: RateLimiter
    limits: Mapping[str, Any]  # EMAILS_PER_ATTEMPT and EMAILS_PER_CLIENT_PER_HOUR
    idle_timeout: float = IDLE_TIMEOUT
    max_sessions: int = MAX_SESSIONS
    clock: Callable[[], datetime] = utcnow
    sessions: set[asyncio.Task[None]] = field(default_factory=set)
    senders: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="telnet-mail")
    )

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **settings: Any) -> TelnetQuizServer:
        """The server for an app's configuration (``create_app().config``): the web's quizzes,
        secret key, relay, outbox and rate limits."""
        return cls(
            catalog=quiz_catalog(config["QUESTIONS_DIR"], config["VAR_DIR"]),
            attempts=AttemptMaker(config["SECRET_KEY"]),
            notifier=Notifier.from_config(config),
            limiter=rate_limiter_for(config["VAR_DIR"]),
            limits={
                "EMAILS_PER_ATTEMPT": config["EMAILS_PER_ATTEMPT"],
                "EMAILS_PER_CLIENT_PER_HOUR": config["EMAILS_PER_CLIENT_PER_HOUR"],
            },
            **settings,
        )

    def quizzes(self) -> Mapping[str, Quiz]:
        return self.catalog.quizzes()

    def close(self) -> None:
        self.senders.shutdown(wait=True)
        self.notifier.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client, from the greeting to the close."""
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername") or ("unknown", 0)
        try:
            if len(self.sessions) >= self.max_sessions:
                writer.write(encode(BUSY))
                return
            self.sessions.add(task)
            await _Session(self, reader, writer, str(peer[0])).run()
        except CLOSING_ERRORS:
            pass  # the client left, or the server is stopping: nothing to say to anyone
        except Exception:  # a bug: log it, tell this client, end this session only
            log.exception("telnet session with %s failed", peer)
            with contextlib.suppress(Exception):
                writer.write(encode(INTERNAL_ERROR))
        finally:
            self.sessions.discard(task)
            writer.close()
            with contextlib.suppress(*CLOSING_ERRORS, OSError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await writer.wait_closed()


class _Session:
    """One connection's loop: read, take lines out, let the dialogue answer, write."""

    def __init__(
        self,
        server: TelnetQuizServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: str,
    ) -> None:
        self.server, self.reader, self.writer, self.client = server, reader, writer, client
        self.dialogue = Dialogue(server.quizzes, server.attempts, server.clock)
        self.wire = LineReader()
        self.loop = asyncio.get_running_loop()
        self.heard_at = self.loop.time()  # when the client last sent a line

    async def run(self) -> None:
        if not await self.say(self.dialogue.start()):
            return
        while True:
            data = await self.read()
            if data is None:
                return
            if not await self.take(self.wire.receive(data)):
                return

    async def read(self) -> bytes | None:
        """The next bytes from the client; None when the session is over (closed, or idle)."""
        while True:
            wait = self.heard_at + self.server.idle_timeout - self.loop.time()
            wake = self.dialogue.wake_at()
            until_wake = None if wake is None else (wake - self.server.clock()).total_seconds()
            if until_wake is not None and until_wake <= 0:
                if not await self.say(self.dialogue.time_up()):
                    return None
                continue
            try:
                async with asyncio.timeout(max(0.0, min(wait, until_wake or wait))):
                    data = await self.reader.read(READ_SIZE)
            except TimeoutError:
                if self.loop.time() - self.heard_at >= self.server.idle_timeout:
                    await self.write(
                        f"Closing: no input for {_duration(self.server.idle_timeout)}.\n"
                    )
                    return None
                continue  # the time limit: graded at the top of the loop
            return data or None

    async def take(self, events: list[Line | Refused | Interrupt]) -> bool:
        """Answer each event in order; False once the session is over."""
        if self.wire.replies:
            self.writer.write(bytes(self.wire.replies))  # WONT/DONT: refusals of options
            self.wire.replies.clear()
        for event in events:
            self.heard_at = self.loop.time()
            if isinstance(event, Interrupt):
                action: Say | SendEmail | CheckEmail = self.dialogue.quit()
            elif isinstance(event, Refused):
                action = self.dialogue.refused(event.reason)
            else:
                action = self.dialogue.receive(event.text)
            if not await self.say(await self.carry_out(action)):
                return False
        return True

    async def carry_out(self, action: Say | SendEmail | CheckEmail) -> Say:
        """Emails are sent or looked up in a thread (the relay may take its time)."""
        if isinstance(action, Say):
            return action
        if isinstance(action, CheckEmail):
            outbox = self.server.notifier.outbox
            record = await self.loop.run_in_executor(
                self.server.senders, outbox.lookup, action.record_id
            )
            return self.dialogue.emailed(record)
        await self.write(f"Sending your results to {action.student.email} …\n")
        try:
            outcome = await self.loop.run_in_executor(self.server.senders, self.send, action)
        except Exception:
            log.exception("telnet: emailing results to %s failed", action.student.email)
            return Say(EMAIL_ERROR + "\n")
        if isinstance(outcome, SendRefused):
            return self.dialogue.email_refused(outcome)
        return self.dialogue.emailed(outcome)

    def send(self, action: SendEmail) -> OutboxRecord | SendRefused:
        """In a sending thread: the limits first (the web's, on the client's address), then the
        results email through the outbox."""
        server = self.server
        refused = take_a_send(server.limiter, server.limits, self.client, action.result.attempt.id)
        if refused is not None:
            return refused
        return email_or_give_back(server.notifier, server.limiter, action.result, action.student)

    async def say(self, said: Say) -> bool:
        """Write what the dialogue said and, unless it closes the session, the prompt."""
        await self.write(said.text if said.close else said.text + self.dialogue.prompt)
        return not said.close

    async def write(self, text: str) -> None:
        self.writer.write(encode(text))
        if self.writer.transport.get_write_buffer_size():
            async with asyncio.timeout(self.server.idle_timeout):  # a client that reads nothing
                await self.writer.drain()


def _duration(seconds: float) -> str:
    """``10 minutes``, ``45 seconds``, ``0.5 seconds``."""
    if seconds >= 120:
        return f"{seconds / 60:g} minutes"
    return f"{seconds:g} seconds"


class TelnetController:
    """The telnet quiz server on a loop of its own in a thread, until :meth:`stop`.

    ``start()`` returns once it listens (``port`` is then the bound one; 0 picks a free port) or
    raises the OSError that kept it from listening.
    """

    def __init__(self, server: TelnetQuizServer, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server, self.host, self.port = server, host, port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._error: OSError | None = None

    @property
    def name(self) -> str:
        return f"telnet quiz on {self.host}:{self.port}"

    def start(self) -> TelnetController:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(ready),), name="telnet", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    async def _serve(self, ready: threading.Event) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        try:
            listener = await asyncio.start_server(
                self.server.handle, self.host, self.port, reuse_address=True, limit=READ_SIZE
            )
        except OSError as exc:
            self._error = exc
            ready.set()
            return
        self.port = int(listener.sockets[0].getsockname()[1])
        ready.set()
        async with listener:
            await self._stopping.wait()
            listener.close()
            for task in list(self.server.sessions):
                task.cancel()
            await asyncio.gather(*self.server.sessions, return_exceptions=True)

    def stop(self) -> None:
        """Close the listener and every session; a second call does nothing."""
        if self._loop is None or self._stopping is None or self._thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is already gone
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(5)
        self._loop = None
        self.server.close()

    def __enter__(self) -> TelnetController:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def telnet_server(config: Mapping[str, Any], host: str, port: int) -> TelnetController:
    """The telnet quiz for an app's configuration, as a service to run."""
    return TelnetController(TelnetQuizServer.from_config(config), host, port)
