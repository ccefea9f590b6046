"""Reading songs from files: decode, mix to mono, resample once to the model rate, normalise.

The reference decodes with ``librosa.load`` (22,050 Hz) and then resamples a second time to 24 kHz with torchaudio.
Here a song is decoded at its native rate and resampled once, with soxr's high-quality filter (librosa's default),
straight to 24 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from common.constants import MAX_SAMPLE_ABS, MODEL_SAMPLE_RATE, WINDOW_SAMPLES
from common.errors import InputError
from common.validation import existing_file

NORMALISE_EPS: float = 1e-7
"""Variance floor of Wav2Vec2FeatureExtractor's zero-mean unit-variance normalisation."""


@dataclass(frozen=True)
class Song:
    """A decoded song.

    Attributes:
        path: the file it came from.
        samples: mono float32 samples at ``sample_rate`` Hz, shape (L,), NOT normalised.
        sample_rate: samples per second (24,000 after :func:`load_song`).
        native_rate: the file's own sample rate in Hz.
    """

    path: Path
    samples: np.ndarray
    sample_rate: int
    native_rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """Decode ``path`` at its native rate: float32 (L, channels) and the rate in Hz (libsndfile, else FFmpeg)."""
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
        return data, int(rate)
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        return _decode_with_ffmpeg(path)


def _decode_with_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    """Decode formats libsndfile does not read (AAC, M4A, video containers) with PyAV's FFmpeg."""
    import av  # heavy import, only for the formats that need it

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InputError(path, "has no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate)
            chunks = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(stream)
                for out in resampler.resample(frame)
            ]
            rate = stream.rate
    except av.FFmpegError as err:
        raise InputError(path, f"is not a readable audio file ({err.__class__.__name__})") from err
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return samples.reshape(-1, 1), int(rate)


def load_song(path: str | Path, sample_rate: int = MODEL_SAMPLE_RATE, min_samples: int = WINDOW_SAMPLES) -> Song:
    """Read an audio file as mono float32 at ``sample_rate`` Hz (one resampling step, soxr HQ).

    Raises:
        InputError: the path is missing or a directory, the file is not audio, is empty or silent throughout, or is
            shorter than ``min_samples`` samples at ``sample_rate`` (one model window by default).
    """
    path = existing_file(path, "an audio file")
    if path.stat().st_size == 0:
        raise InputError(path, "is empty (0 bytes)")
    data, native_rate = decode_audio(path)
    if data.size == 0:
        raise InputError(path, "contains no audio samples")
    mono = data.mean(axis=1, dtype=np.float32)
    resampled = soxr.resample(mono, native_rate, sample_rate, quality="HQ") if native_rate != sample_rate else mono
    samples = np.ascontiguousarray(resampled, dtype=np.float32)
    if not np.isfinite(samples).all():
        raise InputError(path, "contains NaN or infinite samples")
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak > MAX_SAMPLE_ABS:
        raise InputError(path, f"has samples up to {peak:.3g} in magnitude, where audio lies within +-1 (a damaged "
                               "or mis-scaled file)")
    if len(samples) < min_samples:
        raise InputError(
            path,
            f"is {len(samples) / sample_rate:.2f} s long; at least {min_samples / sample_rate:.2f} s "
            "(one model window) is needed",
        )
    if not np.any(samples):
        raise InputError(path, "is silent throughout (all samples are zero)")
    return Song(path=path, samples=samples, sample_rate=sample_rate, native_rate=native_rate)


def normalise(samples: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-variance float32, as Wav2Vec2FeatureExtractor(do_normalize=True) computes it.

    ``(x - mean) / sqrt(var + 1e-7)`` with the population variance, in float32. The reference applies it once over
    the whole song before cutting windows.
    """
    x = np.asarray(samples, dtype=np.float32)
    return (x - x.mean()) / np.sqrt(x.var() + NORMALISE_EPS)
