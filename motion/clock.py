"""The beat grid as the motion layer sees it: a continuous beat count from the engine's beat ticks.

:class:`BeatClock` is plain frozen state: :meth:`BeatClock.tick` returns the clock after a tick, the reads are pure.
The beat count goes on through a tick: a tick sets the nearest whole beat of the old grid at its time. The bar
follows the newest tick's bar model (the tracker's downbeats and metre; without one, a bar is
:data:`~live.snippets.BEATS_PER_BAR` beats counted from the first tick): see :func:`live.snippets.bar_position`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from live.snippets import bar_position


@dataclass(frozen=True)
class BeatClock:
    """A beat grid: beat number ``anchor_beat`` falls at ``anchor_s`` (seconds), one beat every ``period_s`` seconds.

    ``period_s`` is None before the first tick (no grid: phases read 0). ``beat_in_bar`` (1-based, 1 = downbeat) and
    ``beats_per_bar`` are the anchor beat's bar model, None without one.
    """

    anchor_s: float = 0.0
    period_s: float | None = None
    anchor_beat: int = 0
    beat_in_bar: int | None = None
    beats_per_bar: int | None = None

    def tick(self, beat_s: float, tempo_bpm: float, beat_in_bar: int | None = None,
             beats_per_bar: int | None = None) -> BeatClock:
        """The clock after a beat at ``beat_s`` (seconds) at ``tempo_bpm``, with its bar model (as
        :class:`~live.events.BeatTick` carries it)."""
        period = 60.0 / tempo_bpm
        beat = 0 if self.period_s is None else round(self.beats_at(beat_s))
        return BeatClock(float(beat_s), period, beat, beat_in_bar, beats_per_bar)

    def beats_at(self, t_s: float) -> float:
        """Beats since the first tick at ``t_s`` (continuous; 0 without a grid)."""
        if self.period_s is None:
            return 0.0
        return self.anchor_beat + (t_s - self.anchor_s) / self.period_s

    def beat_phase(self, t_s: float) -> float:
        """Position in the beat at ``t_s``, in beats, [0, 1)."""
        b = self.beats_at(t_s)
        return b - math.floor(b)

    def bar_phase(self, t_s: float) -> float:
        """Position in the bar at ``t_s``, in bars, [0, 1) (0 on the downbeat; 0 without a grid)."""
        if self.period_s is None:
            return 0.0
        position, beats_per_bar = bar_position(self.anchor_beat, (t_s - self.anchor_s) / self.period_s,
                                               self.beat_in_bar, self.beats_per_bar)
        return position / beats_per_bar
