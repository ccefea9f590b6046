"""Beat positions and the model windows cut around them.

A *position* is a beat or a subdivision of one (8th, 16th). Its window is ``WINDOW_SAMPLES`` (48,480) samples of
24 kHz audio centred on it, ``audio[c - 24240 : c + 24240]``.

Unlike the reference, subdivisions are placed at exact fractions of each beat interval and rounded once, so the
window centre (samples) and its label (time, 60 fps frame) always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.constants import FRAME_HOP, MODEL_SAMPLE_RATE, WINDOW_SAMPLES
from common.errors import InputError

RESOLUTIONS: dict[str, int] = {"4th": 1, "8th": 2, "16th": 4}
"""Positions per beat for each resolution name."""

BEATS_PER_BAR: int = 4
"""Beats in a bar when the beat tracker gives no bar model (a downbeat every 4th beat from the first)."""


def positions_per_beat(resolution: str) -> int:
    """Positions per beat for ``'4th'``, ``'8th'`` or ``'16th'``; :class:`InputError` otherwise."""
    try:
        return RESOLUTIONS[resolution]
    except KeyError:
        raise InputError(None, f"unknown resolution {resolution!r}: choose one of {', '.join(RESOLUTIONS)}") from None


def bar_position(beat: int | np.ndarray, beats_after: float | np.ndarray = 0.0, beat_in_bar: int | None = None,
                 beats_per_bar: int | None = None) -> tuple[float | np.ndarray, int]:
    """Where the time ``beats_after`` beats after beat number ``beat`` falls in its bar, in beats.

    Args:
        beat: int or (P,) int array, the beat's number since the first beat (0-based).
        beats_after: float or (P,) array, beats from that beat to the time (fractional; negative: before it).
        beat_in_bar, beats_per_bar: the beat tracker's bar model at that beat: its place in the bar (1-based,
            1 = downbeat) and the beats in its bar. None (trackers without downbeats, a tapped tempo): a bar is
            :data:`BEATS_PER_BAR` beats counted from the first beat.

    Returns:
        (position in the bar in beats, in [0, n), 0 on the downbeat; n, the beats in the bar). The bar phase in
        bars is their ratio.
    """
    if beat_in_bar is None or beats_per_bar is None:
        return (beat + beats_after) % BEATS_PER_BAR, BEATS_PER_BAR
    return (beat_in_bar - 1 + beats_after) % beats_per_bar, beats_per_bar


@dataclass(frozen=True)
class Positions:
    """Window centres on a beat grid.

    Attributes:
        samples: (P,) int64 window centres, in samples at ``sample_rate`` Hz.
        beat_index: (P,) int64, the beat each position belongs to (0-based).
        subdivision: (P,) int64, 0 on the beat, 1..per_beat-1 between beats.
        per_beat: positions per beat (1, 2 or 4).
        sample_rate: Hz.
    """

    samples: np.ndarray
    beat_index: np.ndarray
    subdivision: np.ndarray
    per_beat: int
    sample_rate: int = MODEL_SAMPLE_RATE

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def times_s(self) -> np.ndarray:
        """(P,) float64 position times in seconds."""
        return self.samples / self.sample_rate

    @property
    def frames(self) -> np.ndarray:
        """(P,) int64 label frames at 60 fps (``FRAME_HOP`` samples at 24 kHz), rounded to the nearest."""
        return np.rint(self.samples * (MODEL_SAMPLE_RATE / self.sample_rate) / FRAME_HOP).astype(np.int64)

    @property
    def bar_phase(self) -> np.ndarray:
        """(P,) float64 position in the bar in beats, 0 on the assumed downbeat (every 4th beat from the first)."""
        return bar_position(self.beat_index, self.subdivision / self.per_beat)[0]


def subdivide(beat_samples: np.ndarray, per_beat: int, sample_rate: int = MODEL_SAMPLE_RATE) -> Positions:
    """Beats plus ``per_beat - 1`` evenly spaced positions inside each beat interval; N beats give (N-1)*per_beat + 1.

    Args:
        beat_samples: (N,) increasing beat positions in samples.
        per_beat: 1 (4th), 2 (8th) or 4 (16th).
    """
    beats = np.asarray(beat_samples, dtype=np.float64)
    if len(beats) == 0:
        return Positions(*(np.zeros(0, np.int64) for _ in range(3)), per_beat=per_beat, sample_rate=sample_rate)
    fractions = np.arange(per_beat) / per_beat
    inner = beats[:-1, None] + np.diff(beats)[:, None] * fractions[None, :]
    exact = np.concatenate([inner.reshape(-1), beats[-1:]])
    beat_index = np.concatenate([np.repeat(np.arange(len(beats) - 1), per_beat), [len(beats) - 1]])
    subdivision = np.concatenate([np.tile(np.arange(per_beat), len(beats) - 1), [0]])
    return Positions(
        samples=np.rint(exact).astype(np.int64),
        beat_index=beat_index.astype(np.int64),
        subdivision=subdivision.astype(np.int64),
        per_beat=per_beat,
        sample_rate=sample_rate,
    )


def cut_windows(audio: np.ndarray, centres: np.ndarray, length: int = WINDOW_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``length`` samples centred on each centre, zero-padded where they run past either end.

    Args:
        audio: (L,) float32 samples.
        centres: (P,) int sample indices.

    Returns:
        windows: (P, length) float32.
        full: (P,) bool, True where the whole window lies inside ``audio`` (the reference computes only these).
    """
    half = length // 2
    padded = np.pad(np.asarray(audio, dtype=np.float32), (half, half))
    starts = np.asarray(centres, dtype=np.int64)  # centre c starts at c - half in audio, i.e. at c in padded
    windows = np.stack([padded[s : s + length] for s in starts]) if len(starts) else np.zeros((0, length), np.float32)
    full = (starts - half >= 0) & (len(audio) - starts >= half)
    return windows, full

