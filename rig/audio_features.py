"""Per-block audio features for the rig: the RMS level and an onset strength, each timed on the audio clock.

Fed the engine's 24 kHz chunks in order (an audio tap, :meth:`live.engine.LiveEngine.tap_audio`). The onset
strength is the log-filtered spectral flux the beat tracker uses (:mod:`live.onsets`), the largest value over the hops
completed in the block (0 when none completed).
"""

from __future__ import annotations

import numpy as np

from live.onsets import LogFluxOnset, frame_sizes
from live.ring_buffer import Chunk

ONSET_WINDOW_S = 0.046
"""FFT window of the onset strength, seconds (the beat tracker's default)."""


class AudioFeatures:
    """``energy`` and ``onset`` of consecutive chunks at ``sample_rate`` Hz; see the module docstring."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        win, self._hop = frame_sizes(sample_rate, ONSET_WINDOW_S)
        self._onset = LogFluxOnset(sample_rate, win, self._hop)
        self._pending = np.zeros(0, np.float32)

    def __call__(self, chunk: Chunk) -> tuple[float, dict[str, float]] | None:
        """(the chunk's end in seconds on the audio clock, {"energy": RMS, "onset": strength}); None when empty."""
        samples = np.asarray(chunk.samples, np.float32)
        if len(samples) == 0:
            return None
        energy = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        self._pending = np.concatenate([self._pending, samples])
        hops = len(self._pending) // self._hop
        onset = max((self._onset(self._pending[i * self._hop : (i + 1) * self._hop]) for i in range(hops)), default=0.0)
        self._pending = self._pending[hops * self._hop :]
        return chunk.end / self.sample_rate, {"energy": energy, "onset": float(onset)}
