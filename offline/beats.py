"""Offline beat tracking of a whole song, as the reference does it (librosa's dynamic-programming tracker)."""

from __future__ import annotations

import librosa
import numpy as np

from common.constants import FRAME_HOP, MODEL_SAMPLE_RATE


def track_beats_offline(samples: np.ndarray, sample_rate: int = MODEL_SAMPLE_RATE, hop: int = FRAME_HOP) -> np.ndarray:
    """Beat positions of a whole song, in samples: ``librosa.beat.beat_track`` with the reference's settings.

    Args:
        samples: (L,) float32 mono audio (the reference passes the normalised song).
        sample_rate: Hz (24,000).
        hop: onset-envelope hop in samples (400 = 60 frames per second at 24 kHz).

    Returns:
        (N,) int64 beat sample indices, each a multiple of ``hop``; empty if no beat was found.
    """
    _, frames = librosa.beat.beat_track(y=samples, sr=sample_rate, hop_length=hop, units="frames")
    return np.asarray(frames, dtype=np.int64) * hop
