"""The beat grid as the rig sees it, from the engine's events alone: beat count, bar, phase and tempo at any time.

The engine reports each beat (:class:`~live.events.BeatTick`) just after it happened; the rig must send the NEXT beat
before it happens (at its time, minus an output's latency). So the follower extrapolates: beat ``n`` is the ``n``-th
tick since the start (counted from 0), the grid runs from the newest tick at its tempo, and every tick re-anchors it.
Bars: the tracker estimates no downbeats, so the bar position is the beat count mod :data:`BEATS_PER_BAR` (as the
engine's own bar phase); a tick that carries ``is_downbeat=True`` restarts the bar count on it. A ``silence`` or
``stopped`` status ends the grid until the next tick. Pure state, no clock, no thread: all times are seconds on the
audio clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from live.events import BeatTick, Event, StatusEvent
from live.snippets import BEATS_PER_BAR

GRID_ENDS: frozenset[str] = frozenset({"silence", "stopped", "input-lost", "input-ended", "input-stopped"})
"""Status kinds after which there is no beat grid until the next tick."""


@dataclass(frozen=True)
class BeatPosition:
    """Where the grid is at a time.

    Attributes:
        beat: beat count since the start (0 = the first tick), the beat at or before the time.
        phase: 0..1 within that beat.
        beat_s: the time of that beat (seconds, audio clock).
        tempo_bpm: the grid's tempo.
        bar: ``beat // BEATS_PER_BAR`` (with the downbeat correction, see the module docstring).
        beat_in_bar: 0..BEATS_PER_BAR-1; 0 is a downbeat.
    """

    beat: int
    phase: float
    beat_s: float
    tempo_bpm: float
    bar: int
    beat_in_bar: int

    @property
    def downbeat(self) -> bool:
        return self.beat_in_bar == 0


class BeatFollower:
    """See the module docstring. Feed :meth:`on_event` every engine event in order; read :meth:`at`."""

    def __init__(self) -> None:
        self._ticks = 0
        self._anchor: tuple[int, float, float] | None = None  # (beat count, beat time s, period s)
        self._bar_origin = 0

    @property
    def live(self) -> bool:
        """True while there is a grid to extrapolate."""
        return self._anchor is not None

    @property
    def tempo_bpm(self) -> float | None:
        return None if self._anchor is None else 60.0 / self._anchor[2]

    def on_event(self, event: Event) -> None:
        """Re-anchor on a tick; end the grid on silence, a stop or a lost input."""
        if isinstance(event, BeatTick) and event.tempo_bpm > 0:
            if getattr(event, "is_downbeat", None) is True:
                self._bar_origin = self._ticks
            self._anchor = (self._ticks, event.beat_s, 60.0 / event.tempo_bpm)
            self._ticks += 1
        elif isinstance(event, StatusEvent) and event.kind in GRID_ENDS:
            self._anchor = None

    def beat_time_s(self, beat: int) -> float | None:
        """Time (seconds) of beat ``beat`` on the current grid; None without one."""
        if self._anchor is None:
            return None
        count, time_s, period = self._anchor
        return time_s + (beat - count) * period

    def at(self, t_s: float) -> BeatPosition | None:
        """The grid at ``t_s`` seconds; None without a grid or before its first beat."""
        if self._anchor is None:
            return None
        count, time_s, period = self._anchor
        beats = (t_s - time_s) / period
        whole = math.floor(beats + 1e-9)
        beat = count + whole
        if beat < 0:
            return None
        in_bar = (beat - self._bar_origin) % BEATS_PER_BAR
        return BeatPosition(beat=beat, phase=min(max(beats - whole, 0.0), 1.0), beat_s=time_s + whole * period,
                            tempo_bpm=60.0 / period, bar=(beat - self._bar_origin) // BEATS_PER_BAR,
                            beat_in_bar=in_bar)
