"""Bounded queues between threads, with a newest-wins offer that never blocks the producer."""

from __future__ import annotations

import queue
from typing import TypeVar

T = TypeVar("T")


def offer_newest(target: queue.Queue[T], item: T) -> bool:
    """Put ``item`` without blocking; when ``target`` is full, drop its oldest item first.

    Safe with one producer (a consumer may take items concurrently). Returns True when an older item was dropped.
    """
    try:
        target.put_nowait(item)
        return False
    except queue.Full:
        pass
    try:
        target.get_nowait()
        dropped = True
    except queue.Empty:
        dropped = False
    target.put_nowait(item)
    return dropped


def drain(source: queue.Queue[T]) -> list[T]:
    """Everything ``source`` holds now, oldest first, without blocking."""
    items: list[T] = []
    while True:
        try:
            items.append(source.get_nowait())
        except queue.Empty:
            return items


def wait_drain(source: queue.Queue[T], timeout_s: float) -> list[T]:
    """Wait up to ``timeout_s`` seconds (wall clock; 0 or less: no wait) for ``source``; then everything it holds.

    Returns the items oldest first; an empty list when nothing arrived in time.
    """
    try:
        first = source.get(timeout=timeout_s) if timeout_s > 0 else source.get_nowait()
    except queue.Empty:
        return []
    return [first, *drain(source)]
