"""Ableton Link (``aalink``, GPL-3: the optional ``[link]`` extra, never a core dependency).

Two modes (``--link lead|follow``):

- ``lead``: the session's tempo and beat follow dancepose's beat grid (:class:`~rig.beat_follower.BeatFollower`, fed
  the engine's events): on every beat the session's tempo is set to the grid's and the quantum to the grid's beats
  per bar, and when the session's place in the bar is more than :data:`PHASE_TOLERANCE_BEATS` away from the grid's
  (as heard ``--latency-midi-ms`` later) it is forced to it, so peers (Ableton Live, Resolume, lighting software) play
  on the music's beats and bars.
- ``follow``: the beat grid follows the session: every session beat taps the engine (as ``--midi-follow`` does), so
  after four beats dancepose shows the session's tempo and phase.

The number of peers is in :attr:`LinkBridge.peers`.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable

from common.errors import InputError
from live.events import Event
from live.queues import drain, offer_newest
from rig.beat_follower import BeatFollower
from rig.clock import AudioClock
from rig.stoppable import StoppableThread

MODES: tuple[str, ...] = ("lead", "follow")
QUANTUM = 4
"""Beats per bar shared with the session (Link's quantum) until the grid has a bar."""
PHASE_TOLERANCE_BEATS = 0.02
"""In lead mode, the session's beat is forced onto the grid when it is further off than this (beats)."""
WAIT_S = 0.02
"""Longest sleep of the lead thread (seconds)."""


def _aalink():
    try:
        import aalink
    except ImportError as err:
        raise InputError(None, "Ableton Link needs the [link] extra: pip install 'dancepose[link]' (aalink, "
                               "GPL-3)") from err
    return aalink


class LinkBridge:
    """Joins a Link session in ``mode`` (see the module docstring).

    Args:
        mode: ``lead`` or ``follow``.
        clock: this bridge's estimate of the audio clock (lead mode; its thread owns it).
        tap: called on every session beat (follow mode), e.g. ``engine.tap``.
        latency_ms: the MIDI/Link latency: the lead follows the grid that much ahead.
        start_bpm: the session tempo before there is a grid.
    """

    def __init__(self, mode: str, clock: AudioClock | None = None, tap: Callable[[], object] | None = None,
                 latency_ms: float = 0.0, start_bpm: float = 120.0) -> None:
        if mode not in MODES:
            raise InputError(None, f"--link must be one of {', '.join(MODES)}, got {mode!r}")
        self._aalink = _aalink()
        self.mode, self.clock, self.tap, self.latency_ms = mode, clock, tap, latency_ms
        self.start_bpm = start_bpm
        self.follower = BeatFollower()
        self._inbox: queue.Queue[Event] = queue.Queue(maxsize=1024)
        self._worker = StoppableThread()
        self._link = None
        self._last_beat: int | None = None
        self.peers = 0
        """Other Link peers in the session."""
        self.beats = 0
        """Session beats followed (follow mode) or grid beats led (lead mode)."""

    def observe(self, event: Event) -> None:
        """Hand over an engine event (lead mode; never blocks)."""
        offer_newest(self._inbox, event)

    def start(self) -> None:
        self._worker.start(lambda: asyncio.run(self._run()), "dancepose-link")

    def stop(self) -> None:
        """Leave the session and end the thread (safe to call more than once)."""
        self._worker.stop()

    async def _run(self) -> None:
        link = self._aalink.Link(self.start_bpm)  # on the running loop
        link.quantum = QUANTUM
        link.enabled = True
        self._link = link
        try:
            while not self._worker.stopping.is_set():
                await (self._follow_beat(link) if self.mode == "follow" else self._lead_step(link))
                self.peers = link.num_peers
        finally:
            link.enabled = False

    async def _follow_beat(self, link) -> None:  # noqa: ANN001  (aalink.Link)
        try:
            await asyncio.wait_for(link.sync(1), timeout=0.5)
        except TimeoutError:
            return
        self.beats += 1
        if self.tap is not None:
            self.tap()

    async def _lead_step(self, link) -> None:  # noqa: ANN001
        await asyncio.sleep(WAIT_S)
        for event in drain(self._inbox):
            self.follower.on_event(event)
        position = self.follower.at(self.clock.now_s() + self.latency_ms / 1000.0)
        if position is None or position.beat == self._last_beat:
            return
        self._last_beat = position.beat
        self.beats += 1
        link.tempo = position.tempo_bpm
        link.quantum = position.beats_per_bar
        off = bar_offset_beats(link.beat, position.beat_in_bar + position.phase, position.beats_per_bar)
        if abs(off) > PHASE_TOLERANCE_BEATS:
            link.force_beat(link.beat - off)


def bar_offset_beats(session_beat: float, bar_beats: float, beats_per_bar: int) -> float:
    """How far (beats, in [-beats_per_bar/2, beats_per_bar/2)) the session's place in the bar, ``session_beat`` mod
    ``beats_per_bar``, is ahead of the grid's, ``bar_beats`` beats after its downbeat."""
    return (session_beat - bar_beats + beats_per_bar / 2) % beats_per_bar - beats_per_bar / 2
