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
    """Runs ``process(batch)`` then ``done(item)`` for every item, in a thread of its own.

    The thread starts with the first ``submit`` (and again after ``close`` or in a forked child,
    where threads do not survive). ``process`` must record failures in the items rather than
    raise: an exception from it is logged and the batch's items are still passed to ``done``.
    """

    def __init__(
        self,
        name: str,
        process: Callable[[list[Item]], None],
        done: Callable[[Item], None],
        threads: int = 1,
    ) -> None:
        self._name = name
        self._process = process
        self._done = done
        self._size = threads
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._queue: list[Item] = []
        self._threads: list[threading.Thread] = []

    def submit(self, item: Item) -> None:
        """Queue *item*; ``done(item)`` is called from the batch thread once it is processed."""
        if self._pid != os.getpid():
            self._reset()
        with self._cond:
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._run, name=f"{self._name}-{n}", daemon=True)
                    for n in range(self._size)
                ]
                for thread in self._threads:
                    thread.start()
            self._queue.append(item)
            self._cond.notify()

    @property
    def queued(self) -> int:
        """Items waiting for the next batch (not counting the one being processed)."""
        with self._cond:
            return len(self._queue)

    def close(self) -> None:
        """Process what is queued, then stop the thread; a later ``submit`` starts another."""
        with self._cond:
            threads, self._threads = self._threads, []
            self._cond.notify_all()
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join()

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while not self._queue and me in self._threads:
                    self._cond.wait()
                batch, self._queue = self._queue, []
            if not batch:
                return
            try:
                self._process(batch)
            except Exception:
                log.exception("%s: processing a batch of %d failed", self._name, len(batch))
            for item in batch:
                try:
                    self._done(item)
                except Exception:
                    log.exception("%s: completion callback failed", self._name)
