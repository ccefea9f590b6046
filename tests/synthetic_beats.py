"""Synthetic [beat, downbeat] activations from a known beat grid, for the decoder and tracker tests (no audio)."""

from __future__ import annotations

import numpy as np


def beat_grid(
    bpm: float, seconds: float, beats_per_bar: int, first_s: float = 0.5, end_bpm: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Beat times in seconds (N,) and 1-based bar positions (N,) from ``first_s`` to ``seconds``.

    With ``end_bpm`` the tempo moves linearly with time from ``bpm`` (at 0 s) to ``end_bpm`` (at ``seconds``).
    """
    times, positions = [], []
    t, k = first_s, 0
    while t < seconds:
        times.append(t)
        positions.append(k % beats_per_bar + 1)
        k += 1
        tempo = bpm if end_bpm is None else bpm + (end_bpm - bpm) * t / seconds
        t += 60.0 / tempo
    return np.array(times), np.array(positions)


def grid_activations(
    times: np.ndarray,
    positions: np.ndarray,
    seconds: float,
    frame_rate: float,
    rng: np.random.Generator,
    *,
    noise: float = 0.02,
    offbeat: float = 0.0,
    peak: float = 0.9,
    width_frames: float = 1.0,
    downbeat_shares: tuple[float, float] = (0.9, 0.0),
) -> np.ndarray:
    """Activations (F, 2) [P(beat, not downbeat), P(downbeat)], F = seconds * frame_rate, frame k at k / frame_rate s.

    Each beat is a Gaussian bump ``width_frames`` wide of height ``peak``, split between the downbeat and the beat
    columns by ``downbeat_shares`` (the downbeat column's share at bar position 1, and elsewhere); ``offbeat`` adds a
    bump of that height half-way between beats (octave ambiguity); uniform noise up to ``noise`` is added to both
    columns; rows are scaled to sum to at most 0.99.
    """
    frames = np.arange(int(seconds * frame_rate))
    act = np.zeros((len(frames), 2))

    def bump(t_s: float, column: int, height: float) -> None:
        act[:, column] += height * np.exp(-0.5 * ((frames - t_s * frame_rate) / width_frames) ** 2)

    for t_s, position in zip(times, positions):
        share = downbeat_shares[0] if position == 1 else downbeat_shares[1]
        bump(t_s, 1, share * peak)
        bump(t_s, 0, (1.0 - share) * peak)
    for t_s in (times[:-1] + times[1:]) / 2 if offbeat else ():
        bump(t_s, 0, offbeat)
    act += noise * rng.random(act.shape)
    total = act.sum(axis=1, keepdims=True)
    return np.where(total > 0.99, act * 0.99 / np.maximum(total, 1e-12), act)


class GridActivation:
    """A stand-in for :class:`live.beat_activation.BeatActivation`: serves precomputed activation rows hop by hop.

    Row ``k`` is returned for the k-th hop since the last reset (zeros after the last row); the audio is ignored.
    """

    def __init__(self, rows: np.ndarray, sample_rate: int) -> None:
        self.hop = round(sample_rate / 100)
        self.frame_rate = sample_rate / self.hop
        self._rows = np.asarray(rows, np.float32)
        self.reset()

    def reset(self) -> None:
        self._frame = 0

    def __call__(self, hop_samples: np.ndarray) -> np.ndarray:
        row = self._rows[self._frame] if self._frame < len(self._rows) else np.zeros(2, np.float32)
        self._frame += 1
        return row
