"""The owner of a motion source: other threads post events and mode switches to a bounded queue; the owner thread
(the render loop) calls :meth:`MotionPlayer.sample`, which applies them, advances the source and reads its frame.

A mode switch is a transition: the new source is brought up to date by replaying the last :data:`REPLAY_S` seconds
of events, and blended in from what was shown (inertialization). What was applied is kept in
:attr:`MotionPlayer.log` with its time: everything by default, so the stream can be played again at any frame rate
(:func:`replay_frames`, used by the exporters), or only the last ``history_s`` seconds, so that a show running for
hours without an export keeps a bounded log.

In ``groove`` mode the player adds the idle layer (:mod:`motion.idle`: breathing, a slow weight shift) while there
is no beat grid (before the first beat tick, after silence), so the body never stands still.
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from live.queues import drain, offer_newest
from motion.frame import MotionFrame
from motion.idle import IdleGate, apply_idle
from motion.inertialize import Blend, capture
from motion.source import DEFAULT_MOTION, MotionSetup, MotionSource, make_source

COMMANDS_SIZE = 1024
"""Capacity of the player's queue; when full, the oldest command is dropped."""
REPLAY_S = 4.0
"""Seconds of past events a newly chosen mode is given, so it starts with the current beat grid and poses."""
IDLE_MODES: tuple[str, ...] = ("groove",)
"""Modes shown with the idle layer while there is no beat grid."""


@dataclass(frozen=True)
class SwitchMode:
    """Switch to motion mode ``mode``."""

    mode: str


LogEntry = tuple[float, object]
"""(seconds on the audio clock, an event or a :class:`SwitchMode`)."""


class MotionPlayer:
    """A motion source of mode ``mode`` (built from ``setup``), owned by the thread that calls :meth:`sample`.

    ``history_s``: seconds of applied events kept in :attr:`log` (None: all of them, for an export; at least
    :data:`REPLAY_S`).
    """

    def __init__(self, setup: MotionSetup, mode: str = DEFAULT_MOTION, history_s: float | None = None) -> None:
        self.setup = setup
        self.initial_mode = self.mode = mode
        self.source: MotionSource = make_source(mode, setup)
        self.log: deque[LogEntry] = deque()
        self._history_s = None if history_s is None else max(history_s, REPLAY_S)
        self._commands: queue.Queue[tuple[float, object, MotionSource | None]] = queue.Queue(maxsize=COMMANDS_SIZE)
        self._blend: Blend | None = None
        self._idle = IdleGate()
        self._last_t_s = -np.inf

    @property
    def betas(self) -> np.ndarray:
        """The performer's shape (10,)."""
        return self.setup.betas

    # -- any thread --------------------------------------------------------------------------------------------------
    def post(self, event: object, now_s: float) -> None:
        """Hand ``event`` (arrived at ``now_s``, seconds) to the source, never blocking."""
        offer_newest(self._commands, (float(now_s), event, None))

    def switch(self, mode: str, now_s: float) -> None:
        """Switch to motion mode ``mode`` at ``now_s``; raises (ValueError, InputError) here, in the caller's thread,
        when the mode cannot be built."""
        offer_newest(self._commands, (float(now_s), SwitchMode(mode), make_source(mode, self.setup)))

    # -- the owner thread ----------------------------------------------------------------------------------------------
    def sample(self, t_s: float) -> MotionFrame:
        """Apply what was posted, advance the source to ``t_s`` (seconds) and return its frame there."""
        for now_s, item, source in drain(self._commands):  # never in the past already shown, nor the future
            self.apply(item, max(min(now_s, t_s), self._last_t_s), source)
        self._last_t_s = max(self._last_t_s, t_s)
        self.source.advance(t_s)
        return self.frame_at(t_s)

    def apply(self, item: object, now_s: float, source: MotionSource | None = None) -> None:
        """Apply an event or a :class:`SwitchMode` (with its ``source`` already built, else built here) at ``now_s``."""
        self.log.append((now_s, item))
        while self._history_s is not None and self.log[0][0] < now_s - self._history_s:
            self.log.popleft()
        if not isinstance(item, SwitchMode):
            self.source.advance(now_s)
            self.source.on_event(item, now_s)
            self._idle.on_event(item, now_s)
            return
        new = source if source is not None else make_source(item.mode, self.setup)
        replay_into(new, [(t, e) for t, e in self.log if now_s - REPLAY_S <= t <= now_s], now_s)
        old_source, old_blend = self.source, self._blend

        def old_at(t_s: float) -> MotionFrame:
            frame = old_source.frame_at(t_s)
            return frame if old_blend is None else old_blend.apply(frame)

        self.source, self.mode = new, item.mode
        self._blend = capture(old_at, new.frame_at, now_s)

    def frame_at(self, t_s: float) -> MotionFrame:
        """The frame shown at ``t_s``: the source's, with what is left of a mode switch's blend, and the idle layer
        in :data:`IDLE_MODES` (pure)."""
        frame = self.source.frame_at(t_s)
        frame = frame if self._blend is None else self._blend.apply(frame)
        return apply_idle(frame, self._idle.weight_at(t_s)) if self.mode in IDLE_MODES else frame

    def shown_tag(self, t_s: float) -> int | None:
        """Bank index of the retrieved pose on show at ``t_s`` (None before the first)."""
        return self.source.shown_tag(t_s)


def replay_into(source: MotionSource, entries: Iterable[LogEntry], until_s: float) -> None:
    """Feed logged events (mode switches skipped) to ``source`` at their times, advancing it, then up to ``until_s``."""
    for now_s, item in entries:
        if isinstance(item, SwitchMode):
            continue
        source.advance(now_s)
        source.on_event(item, now_s)
    source.advance(until_s)


def replay_frames(setup: MotionSetup, initial_mode: str, log: list[LogEntry], fps: float, start_s: float,
                  end_s: float) -> list[MotionFrame]:
    """The stream a player starting in ``initial_mode`` shows for ``log``, sampled at ``fps`` frames per second
    from ``start_s`` to ``end_s`` (seconds) inclusive of the start. Modes are built for an offline replay
    (``MotionSetup.live`` False: a model runs inline, so the stream is what it generates frame by frame, not what a
    worker thread had ready in time)."""
    player = MotionPlayer(replace(setup, live=False), initial_mode)
    entries = sorted(log, key=lambda entry: entry[0])
    frames, i = [], 0
    for t in start_s + np.arange(int(np.floor((end_s - start_s) * fps)) + 1) / fps:
        while i < len(entries) and entries[i][0] <= t:
            player.apply(entries[i][1], entries[i][0])
            i += 1
        frames.append(player.sample(float(t)))
    return frames
