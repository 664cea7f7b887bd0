"""Bytes to and from a non-blocking socket, each wait bounded by ``poll()``.

A socket with a Python timeout calls ``poll()`` before every ``send`` and ``recv``, and each
``settimeout()`` is an ``ioctl``: with PIPELINING on a fast server that is two system calls for one
that does the work, most often for a reply already waiting. Here the socket stays non-blocking,
the call is tried first, and only a call that would block waits, for at most the given timeout.

Plain and TLS sockets both: a TLS read may need the socket writable and a write readable
(OpenSSL's WANT_READ / WANT_WRITE). A timeout raises the built-in :class:`TimeoutError`, as a
socket timeout would, for the driver to translate.
"""

from __future__ import annotations

import math
import select
import socket
import ssl
import time

_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


def send_all(sock: socket.socket, data: bytes, timeout: float) -> None:
    """Write all of *data*; each wait for room in the socket lasts at most *timeout* seconds.

    RFC 5321 §4.5.3.2.5 times "each TCP SEND call", which is what this bounds.
    """
    try:
        sent = sock.send(data)
    except _WOULD_BLOCK as exc:
        sent = 0
        _wait(sock, isinstance(exc, ssl.SSLWantReadError), timeout)
    if sent == len(data):  # the usual case: the kernel took it all at once
        return
    view = memoryview(data)  # no copy of what is left for each retry
    while sent < len(data):
        try:
            sent += sock.send(view[sent:])
        except _WOULD_BLOCK as exc:
            _wait(sock, isinstance(exc, ssl.SSLWantReadError), timeout)


def receive_into(sock: socket.socket, buffer: memoryview, timeout: float) -> int:
    """Read what has arrived into *buffer*, waiting at most *timeout* seconds for something."""
    deadline = None
    while True:
        try:
            return sock.recv_into(buffer)
        except _WOULD_BLOCK as exc:
            # Only a wait needs the clock; a spurious wake-up does not start the wait again.
            deadline = deadline or time.monotonic() + timeout
            _wait(sock, not isinstance(exc, ssl.SSLWantWriteError), deadline - time.monotonic())


def _wait(sock: socket.socket, readable: bool, timeout: float) -> None:
    """Wait until *sock* is readable (or writable), or raise :class:`TimeoutError`."""
    poller = select.poll()
    poller.register(sock, select.POLLIN if readable else select.POLLOUT)
    # An error or hang-up also ends the wait: the retried call then raises or reads b"".
    if timeout <= 0 or not poller.poll(math.ceil(timeout * 1000)):
        raise TimeoutError("timed out")


def socket_failure(exc: OSError, what: str, waited: float | None = None) -> tuple[str, str]:
    """What a socket or ssl exception means, for the clients built on this transport: its kind
    (``"timeout"``, ``"tls"`` or ``"socket"``) and one line saying what failed."""
    if isinstance(exc, TimeoutError):
        after = f" after {waited:g} s" if waited is not None else ""
        return "timeout", f"timed out {what}{after}"
    if isinstance(exc, ssl.SSLError):
        return "tls", f"{what} failed: {_tls_reason(exc)}"
    return "socket", f"{what} failed: {exc.strerror or exc}"


def _tls_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"certificate verify failed ({exc.verify_message}): the server's certificate is not "
            "trusted for this host name; give ssl_context a CA that signed it"
        )
    return str(exc.reason or exc)
