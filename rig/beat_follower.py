"""The beat grid as the rig sees it, from the engine's events alone: beat count, bar, phase and tempo at any time.

The engine reports each beat (:class:`~live.events.BeatTick`) just after it happened; the rig must send the NEXT beat
before it happens (at its time, minus an output's latency). So the follower extrapolates: beat ``n`` is the ``n``-th
tick since the start (counted from 0), the grid runs from the newest tick at its tempo, and every tick re-anchors it.
Bars: each tick's place in the bar comes from its bar model (the tracker's downbeats and metre; without one, every
4th beat from the first is a downbeat: :func:`live.snippets.bar_position`, as the engine's own bar phase), and the
bar count goes up by one at each tick that starts a new bar (its place in the bar is not after the previous tick's);
the grid extrapolates both in the newest tick's metre. A ``silence`` or ``stopped`` status ends the grid until the
next tick (the beat and bar counts go on). Pure state, no clock, no thread: all times are seconds on the
audio clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from live.events import BeatTick, Event, StatusEvent
from live.snippets import bar_position

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
        bar: bar count since the start (0 = the bar of the first tick; see the module docstring).
        beat_in_bar: 0..beats_per_bar-1; 0 is a downbeat.
        beats_per_bar: beats in this bar.
    """

    beat: int
    phase: float
    beat_s: float
    tempo_bpm: float
    bar: int
    beat_in_bar: int
    beats_per_bar: int

    @property
    def downbeat(self) -> bool:
        return self.beat_in_bar == 0


class BeatFollower:
    """See the module docstring. Feed :meth:`on_event` every engine event in order; read :meth:`at`."""

    def __init__(self) -> None:
        self._ticks = 0
        self._anchor: tuple[int, float, float] | None = None  # (beat count, beat time s, period s)
        self._bar: tuple[int, int, int] | None = None  # the newest tick's (bar, beat in bar 0-based, beats per bar)

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
            self._bar = self._next_bar(event)
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
        bar, in_bar, per_bar = self._bar
        bars, in_bar = divmod(in_bar + whole, per_bar)
        return BeatPosition(beat=beat, phase=min(max(beats - whole, 0.0), 1.0), beat_s=time_s + whole * period,
                            tempo_bpm=60.0 / period, bar=bar + bars, beat_in_bar=in_bar, beats_per_bar=per_bar)

    def _next_bar(self, tick: BeatTick) -> tuple[int, int, int]:
        """(bar, beat in bar 0-based, beats per bar) of the tick that is beat ``self._ticks``."""
        position, per_bar = bar_position(self._ticks, 0.0, tick.beat_in_bar, tick.beats_per_bar)
        in_bar = int(position)
        if self._bar is None:
            return 0, in_bar, per_bar
        bar, last_in_bar, _ = self._bar
        return bar + int(in_bar <= last_in_bar), in_bar, per_bar
