"""RFC 1939 §3's inactivity autologout timer, at the cost of a clock reading per wait.

A session waits on its client twice per command: for the command, and for room in the socket
buffer for the reply. ``asyncio.timeout`` around each wait arms and cancels a timer-heap entry
(about 4 µs, as much as reading a 20 KB message). :class:`IdleTimer` instead notes when a wait
begins; one timer is armed per timeout period, and when it fires it either re-arms itself for the
current wait's deadline or expires the ``asyncio.Timeout`` that encloses the session, which then
raises ``TimeoutError`` as ``asyncio.timeout`` around the wait would have.
"""

from __future__ import annotations

import asyncio

__all__ = ["IdleTimer"]


class IdleTimer:
    """Expires *timeout* once one wait on the client (between ``waiting`` and ``done``) lasts
    *seconds*; time between waits (checking a password, removing messages) does not count."""

    def __init__(
        self,
        timeout: asyncio.Timeout,
        seconds: float,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._timeout = timeout
        self._seconds = seconds
        self._loop = loop or asyncio.get_running_loop()  # tests give a loop with a clock of theirs
        self._since: float | None = None  # when the wait under way began
        self._timer: asyncio.TimerHandle | None = None

    def waiting(self) -> None:
        """A wait on the client begins."""
        self._since = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self._seconds, self._check)

    def done(self) -> None:
        """The wait is over: the client sent something, or took what was written."""
        self._since = None

    def cancel(self) -> None:
        """The session is over."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self._since is None:
            return  # between waits: the next one arms the timer again
        deadline = self._since + self._seconds
        if self._loop.time() >= deadline:
            self._timeout.reschedule(self._loop.time())  # expires now: TimeoutError in the session
        else:
            self._timer = self._loop.call_at(deadline, self._check)
