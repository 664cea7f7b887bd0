"""A POP3 "server" that breaks the rules on purpose, on a thread: no real server misbehaves on cue.

It greets with *greeting*, then answers each command line with ``answer(line)``: bytes to send,
or ``None`` to close the connection at once.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from types import TracebackType

Answer = Callable[[bytes], bytes | None]

LOGIN_OK = {b"USER": b"+OK\r\n", b"PASS": b"+OK logged in\r\n", b"CAPA": b"-ERR no CAPA\r\n"}


def scripted(replies: dict[bytes, bytes | None]) -> Answer:
    """Answers by keyword; the login goes through and CAPA is unknown unless *replies* say."""
    table = {**LOGIN_OK, **replies}

    def answer(line: bytes) -> bytes | None:
        return table.get(line.split(b" ")[0].rstrip(b"\r\n").upper(), b"-ERR unknown\r\n")

    return answer


class HostileServer:
    def __init__(self, answer: Answer, greeting: bytes = b"+OK hostile ready\r\n") -> None:
        self.answer, self.greeting = answer, greeting
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> HostileServer:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.listener.close()
        self.thread.join(10)

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn, conn.makefile("rb") as lines:
            try:
                conn.sendall(self.greeting)
                for line in lines:
                    reply = self.answer(line)
                    if reply is None:
                        return
                    conn.sendall(reply)
            except OSError:
                return  # the client gave up on us, as it should
