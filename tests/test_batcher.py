"""Batcher: what is queued while a batch is processed forms the next batch; nothing is lost."""

from __future__ import annotations

import threading

import pytest

from app.batcher import Batcher

WAIT = 30  # seconds: a bound against hanging, never a timing assertion


class Recorder:
    """process/done callbacks that record batches; the first batch waits for ``release``."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.done: list[int] = []
        self.processing, self.release = threading.Event(), threading.Event()
        self.all_done = threading.Condition()

    def process(self, batch: list[int]) -> None:
        self.batches.append(batch)
        if len(self.batches) == 1:
            self.processing.set()
            assert self.release.wait(WAIT)

    def finish(self, batch: list[int]) -> None:
        with self.all_done:
            self.done.extend(batch)
            self.all_done.notify_all()

    def wait_for(self, count: int) -> None:
        with self.all_done:
            assert self.all_done.wait_for(lambda: len(self.done) >= count, WAIT)


def test_items_queued_during_a_batch_form_the_next_batch() -> None:
    recorder = Recorder()
    batcher = Batcher("test", recorder.process, recorder.finish)
    batcher.submit(0)
    assert recorder.processing.wait(WAIT)
    batcher.submit(1)
    batcher.submit_all([2, 3, 4])
    assert batcher.queued == 4
    recorder.release.set()
    recorder.wait_for(5)
    assert recorder.batches == [[0], [1, 2, 3, 4]]
    assert recorder.done == [0, 1, 2, 3, 4]
    batcher.close()


def test_close_processes_what_is_queued_and_a_later_submit_starts_again() -> None:
    recorder = Recorder()
    batcher = Batcher("test", recorder.process, recorder.finish)
    batcher.submit(0)
    assert recorder.processing.wait(WAIT)
    batcher.submit(1)
    recorder.release.set()
    batcher.close()
    assert recorder.done == [0, 1]
    batcher.submit(2)
    recorder.wait_for(3)
    batcher.close()
    assert recorder.done == [0, 1, 2]


def test_a_failing_batch_is_logged_and_its_items_still_done(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done: list[int] = []
    finished = threading.Event()

    def process(batch: list[int]) -> None:
        raise RuntimeError("broken")

    def finish(batch: list[int]) -> None:
        done.extend(batch)
        finished.set()

    batcher = Batcher("test", process, finish)
    batcher.submit(7)
    assert finished.wait(WAIT)
    batcher.close()
    assert done == [7]
    assert "broken" in caplog.text
