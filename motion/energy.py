"""How loud the music is and how hard it hits, for the motion layer: :class:`AudioLevel` events from audio chunks.

The engine's events carry no level, so the session measures the 24 kHz chunks it already drains with a
:class:`LevelMeter` and hands one :class:`AudioLevel` per poll to the motion source, like any other event.

Loudness maps the RMS level linearly in dB from :data:`SILENT_DBFS` (0) to :data:`FULL_DBFS` (1). Onset strength is the
largest rise of the log energy from one :data:`FRAME` to the next within the chunks (half-wave rectified), in units of
:data:`ONSET_FULL_DB` (1 = a rise of that many dB), clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.ring_buffer import Chunk

SILENT_DBFS = -50.0
"""RMS level (dB re full scale) that counts as silence: loudness 0."""
FULL_DBFS = -8.0
"""RMS level (dB re full scale) of loudness 1 (a mastered song at full volume)."""
ONSET_FULL_DB = 9.0
"""Frame-to-frame energy rise (dB) of onset strength 1."""
FRAME = 480
"""Samples per energy frame (20 ms at 24 kHz)."""


@dataclass(frozen=True)
class AudioLevel:
    """The music's energy over the audio up to ``at_s`` (seconds, audio clock): ``loudness`` and ``onset`` in [0, 1]."""

    at_s: float
    loudness: float
    onset: float


def loudness_of(dbfs: float) -> float:
    """Loudness in [0, 1] of an RMS level in dB re full scale."""
    return float(np.clip((dbfs - SILENT_DBFS) / (FULL_DBFS - SILENT_DBFS), 0.0, 1.0))


def frame_db(samples: np.ndarray) -> np.ndarray:
    """Energy (dB re full scale) of each whole :data:`FRAME` of float32 samples (n,): (n // FRAME,)."""
    frames = np.asarray(samples, np.float64)[: len(samples) // FRAME * FRAME].reshape(-1, FRAME)
    return 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-10)


class LevelMeter:
    """Measures consecutive chunks at ``sample_rate`` Hz; keeps the last frame's energy so rises across polls count."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._carry = np.zeros(0, np.float32)
        self._last_db: float | None = None

    def measure(self, chunks: list[Chunk]) -> AudioLevel | None:
        """The level of ``chunks`` (consecutive, oldest first), None when they hold no whole frame yet."""
        if not chunks:
            return None
        samples = np.concatenate([self._carry, *(c.samples for c in chunks)])
        db = frame_db(samples)
        self._carry = samples[len(db) * FRAME:]
        if len(db) == 0:
            return None
        rises = np.diff(db if self._last_db is None else np.concatenate([[self._last_db], db]))
        self._last_db = float(db[-1])
        rms_db = 10.0 * np.log10(np.mean(10.0 ** (db / 10.0)))
        onset = float(np.clip(rises.max(initial=0.0) / ONSET_FULL_DB, 0.0, 1.0))
        return AudioLevel(chunks[-1].end / self.sample_rate, loudness_of(rms_db), onset)
