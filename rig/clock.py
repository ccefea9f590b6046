"""The audio clock between its steps: an estimate of "now" in seconds on the audio clock, for sending on time.

The engine's audio clock (samples read / rate) moves in steps, one per block read. Where the input runs at a known
``speed`` (1.0 for a device, the factor of a file played as live), the clock between steps is a line of slope
``speed`` against :func:`time.monotonic`: the estimate is the upper envelope of the steps (each block is read just
after it arrived, so the tops of the steps are the least late), leaking down slowly so that a sound card whose clock
runs slower than the computer's is still followed, and never more than :data:`MAX_LEAD_S` ahead of the last step
(an input that stops delivering stops the clock). The line is drawn afresh when the clock starts (before its first
sample, start-up work must not count as audio time) and after a stall of :data:`STALL_S` (the samples missed in a
stall are not on the audio clock). Without a speed (a file read as fast as possible) the estimate is the clock
itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_LEAD_S = 0.5
"""Longest run, in seconds of audio, that the estimate goes on past the last step (an input that stalled)."""
LEAK_PER_S = 0.0003
"""How fast (seconds per second) the envelope sinks towards the steps: it follows a sound card whose clock is up
to 0.03 % slow (300 ppm; cards are within about 100 ppm)."""
STALL_S = 0.25
"""Wall-clock seconds without a step after which the line is drawn afresh from the next step."""
POLL_S = 0.001
"""Wall-clock wait for a clock with no known speed (seconds)."""


class AudioClock:
    """Estimated audio-clock time now (seconds). One instance per thread (it keeps state without a lock).

    Args:
        read_s: the engine's audio clock in seconds (``engine.reader.clock_s``), safe to call from any thread.
        speed: audio seconds per wall-clock second (``source.speed``); None when the input has no real-time pace.
        monotonic: the wall clock (seconds), replaceable in tests.
    """

    def __init__(self, read_s: Callable[[], float], speed: float | None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._read_s, self.speed, self._monotonic = read_s, speed, monotonic
        self._offset_s: float | None = None
        self._last_wall = 0.0
        self._last_raw = 0.0
        self._raw_moved_wall = 0.0
        self._last_s = 0.0

    def now_s(self) -> float:
        """The audio clock now (seconds), never going backwards."""
        raw = self._read_s()
        if self.speed is None:
            self._last_s = max(self._last_s, raw)
            return self._last_s
        wall = self._monotonic()
        if raw != self._last_raw:
            if wall - self._raw_moved_wall > STALL_S:
                self._offset_s = None
            self._last_raw, self._raw_moved_wall = raw, wall
        if raw <= 0.0:
            return self._last_s
        step_offset = raw - self.speed * wall
        if self._offset_s is None:
            self._offset_s = step_offset
        else:
            leaked = self._offset_s - LEAK_PER_S * self.speed * (wall - self._last_wall)
            self._offset_s = max(step_offset, leaked)
        self._last_wall = wall
        self._last_s = max(self._last_s, min(self.speed * wall + self._offset_s, raw + MAX_LEAD_S))
        return self._last_s

    def wall_s_until(self, at_s: float) -> float:
        """Wall-clock seconds until the audio clock reaches ``at_s`` (0 when it has; a short poll without a speed)."""
        ahead = at_s - self.now_s()
        if ahead <= 0:
            return 0.0
        return POLL_S if self.speed is None else ahead / self.speed
