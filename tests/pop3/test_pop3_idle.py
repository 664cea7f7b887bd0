"""The inactivity timer: only a wait on the client that lasts the whole timeout ends a session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest

from app.pop3.idle import IdleTimer


class Timer:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class ClockLoop:
    """The two loop methods IdleTimer uses, on a clock the test moves; timers fire when told."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[Timer] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        self.timers.append(Timer(when, callback))
        return self.timers[-1]

    def advance(self, to: float) -> None:
        """Move the clock to *to*, firing the timers due by then in order."""
        while due := [t for t in self.timers if not t.cancelled and t.when <= to]:
            timer = min(due, key=lambda t: t.when)
            self.timers.remove(timer)
            self.now = max(self.now, timer.when)
            timer.callback()
        self.now = to


class Timeout:
    def __init__(self) -> None:
        self.expired_at: float | None = None

    def reschedule(self, when: float | None) -> None:
        self.expired_at = when


def timer(seconds: float = 10.0) -> tuple[IdleTimer, ClockLoop, Timeout]:
    loop, timeout = ClockLoop(), Timeout()
    idle = IdleTimer(cast(asyncio.Timeout, timeout), seconds, loop=cast(Any, loop))
    return idle, loop, timeout


def test_time_between_waits_does_not_count() -> None:
    idle, loop, timeout = timer()
    for start in range(0, 100, 8):  # waits of 1 s, each 7 s of work apart
        loop.advance(start)
        idle.waiting()
        loop.advance(start + 1)
        idle.done()
    loop.advance(1000)
    assert timeout.expired_at is None
    assert not loop.timers  # nothing armed while no wait is under way


@pytest.mark.parametrize("earlier_wait", [False, True])
def test_a_wait_as_long_as_the_timeout_expires_it_at_its_own_deadline(earlier_wait: bool) -> None:
    # With an earlier wait, the timer it armed (for 10) fires during this one and must re-arm.
    idle, loop, timeout = timer()
    if earlier_wait:
        idle.waiting()
        idle.done()
    loop.advance(6)
    idle.waiting()  # its deadline is 16
    loop.advance(15.9)
    assert timeout.expired_at is None
    loop.advance(16)
    assert timeout.expired_at == 16


def test_cancel_disarms_the_timer() -> None:
    idle, loop, timeout = timer()
    idle.waiting()
    idle.cancel()
    loop.advance(100)
    assert timeout.expired_at is None


def test_on_a_real_loop_expiry_raises_timeout_error_in_the_session() -> None:
    async def session() -> None:
        async with asyncio.timeout(None) as timeout:
            idle = IdleTimer(timeout, 0.01)
            idle.waiting()
            await asyncio.sleep(30)  # a client that never answers

    with pytest.raises(TimeoutError):
        asyncio.run(session())
