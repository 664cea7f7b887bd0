"""A thread that processes queued work in batches: group commit without electing a leader.

Whatever is queued while one batch is being processed forms the next batch, so the busier the
queue, the more items share each batch's fixed cost (for the mail store: its sync points), while
a lone item waits for nobody. One thread doing all of the work, rather than one thread per caller
taking turns, also keeps the many short system calls of a batch from handing the GIL back and
forth between threads; in the capture server that hand-off cost more than the calls themselves.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Batcher"]

Item = TypeVar("Item")

log = logging.getLogger(__name__)


class Batcher(Generic[Item]):
    """Runs ``process(batch)`` then ``done(batch)`` for each batch, in a thread of its own.

    The thread starts with the first ``submit`` (and again after ``close`` or in a forked child,
    where threads do not survive). ``process`` must record failures in the items rather than
    raise: an exception from it is logged and the batch is still passed to ``done``.
    """

    def __init__(
        self,
        name: str,
        process: Callable[[list[Item]], None],
        done: Callable[[list[Item]], None],
    ) -> None:
        self._name = name
        self._process = process
        self._done = done
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._queue: list[Item] = []
        self._thread: threading.Thread | None = None

    def submit(self, item: Item) -> None:
        """Queue *item*; ``done`` gets it, in a batch, from the batch thread once processed."""
        self.submit_all([item])

    def submit_all(self, items: list[Item]) -> None:
        """Queue *items* at once: a batch thread handing its batch on to another Batcher keeps
        it whole, where items queued one by one could be taken by a thread woken by the first."""
        if self._pid != os.getpid():
            self._reset()
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._queue.extend(items)
            self._cond.notify()

    @property
    def queued(self) -> int:
        """Items waiting for the next batch (not counting the one being processed)."""
        with self._cond:
            return len(self._queue)

    def close(self) -> None:
        """Process what is queued, then stop the thread; a later ``submit`` starts another."""
        with self._cond:
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while not self._queue and self._thread is me:
                    self._cond.wait()
                batch, self._queue = self._queue, []
            if not batch:
                return
            for step in (self._process, self._done):
                try:
                    step(batch)
                except Exception:
                    log.exception("%s: a batch of %d failed", self._name, len(batch))
