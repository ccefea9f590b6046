"""The beat grid as the motion layer sees it: a continuous beat count from the engine's beat ticks.

:class:`BeatClock` is plain frozen state: :meth:`BeatClock.tick` returns the clock after a tick, the reads are pure.
The beat count goes on through a tick: a tick sets the nearest whole beat of the old grid at its time, so bars keep
their count (the bar is counted from the first tick, :data:`BEATS_PER_BAR` beats long: ticks carry no downbeat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from live.snippets import BEATS_PER_BAR


@dataclass(frozen=True)
class BeatClock:
    """A beat grid: beat number ``anchor_beat`` falls at ``anchor_s`` (seconds), one beat every ``period_s`` seconds.

    ``period_s`` is None before the first tick (no grid: phases read 0).
    """

    anchor_s: float = 0.0
    period_s: float | None = None
    anchor_beat: int = 0

    def tick(self, beat_s: float, tempo_bpm: float) -> BeatClock:
        """The clock after a beat at ``beat_s`` (seconds) at ``tempo_bpm``."""
        period = 60.0 / tempo_bpm
        if self.period_s is None:
            return BeatClock(float(beat_s), period, 0)
        return BeatClock(float(beat_s), period, round(self.beats_at(beat_s)))

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
        """Position in the bar at ``t_s``, in bars, [0, 1)."""
        bars = self.beats_at(t_s) / BEATS_PER_BAR
        return bars - math.floor(bars)
