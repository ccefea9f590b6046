"""The shared thread lifecycle of the rig's outputs and listeners (rig/stoppable.py)."""

from __future__ import annotations

import queue
import threading

from rig.stoppable import StoppableThread


def test_stop_ends_a_polling_target_once_and_later_stops_do_nothing() -> None:
    worker, looped = StoppableThread(), threading.Event()

    def run() -> None:
        while not worker.stopping.is_set():
            looped.set()
            worker.stopping.wait(0.01)

    worker.start(run, "test-stoppable")
    assert looped.wait(30), "the target never ran"
    assert any(thread.name == "test-stoppable" and thread.daemon for thread in threading.enumerate())
    assert worker.stop() is True
    assert not any(thread.name == "test-stoppable" for thread in threading.enumerate())
    assert worker.stop() is False  # idempotent: the owner releases its resources only once


def test_wake_unblocks_a_waiting_target_and_is_not_called_without_a_thread() -> None:
    worker, inbox = StoppableThread(), queue.Queue[object]()
    woken: list[bool] = []
    assert worker.stop(wake=lambda: woken.append(True)) is False  # never started
    assert woken == [] and worker.stopping.is_set()

    worker = StoppableThread()
    worker.start(lambda: inbox.get(), "test-stoppable-wake")  # blocks until the sentinel
    assert worker.stop(wake=lambda: inbox.put(None)) is True
    assert inbox.empty()
