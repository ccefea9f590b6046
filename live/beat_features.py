"""Input features of the learned beat activation network: a causal log-filtered spectrogram at 100 frames per second.

Every frame ``k`` describes the samples up to the end of hop ``k`` (``hop = round(rate / 100)`` samples), so a frame
never looks ahead of the audio that produced it. Two windows end there, each the power of two of samples nearest one
of :data:`WINDOWS_S`: 46 ms (1024 samples at 22.05/24 kHz, 2048 at 44.1/48 kHz) for pitch and timbre, and 23 ms
(512 / 1024) for sharp onsets (the long window's Hann taper hides the last ~10 ms). Per frame and window:

- the magnitude spectrum of the Hann-windowed samples, scaled so that a full-scale sinusoid peaks at 1 whatever the
  window length;
- :data:`N_BANDS` triangular filters, each summing to 1, centred evenly on the mel scale (HTK formula) between
  :data:`FMIN_HZ` and :data:`FMAX_HZ` (a fixed set in Hz, so the feature count is the same at every sample rate);
- ``log10(1 + LOG_MUL * band)``, and its half-wave rectified first difference (the frame before the first is the
  log spectrum of silence, 0).

A feature row is ``[log bands of each window (2 x N_BANDS), their positive differences (2 x N_BANDS)]``. :class:`BeatFeatures` computes it hop by
hop (live input); :func:`beat_features` computes the same rows for a whole signal at once (files, training).
"""

from __future__ import annotations

import math

import numpy as np

FRAMES_PER_S: float = 100.0
"""Nominal feature rate in Hz; the hop is ``round(rate / FRAMES_PER_S)`` samples."""
WINDOWS_S: tuple[float, ...] = (0.046, 0.023)
"""Nominal analysis windows in seconds (each rounded to the nearest power of two of samples), longest first."""
N_BANDS: int = 48
"""Triangular filters in the filterbank."""
FMIN_HZ: float = 30.0
"""Lower edge of the lowest filter in Hz."""
FMAX_HZ: float = 9_900.0
"""Upper edge of the highest filter in Hz: below 0.45 x 22,050 Hz, so the bands are the same at every rate from
22.05 kHz up (the network trains at 22.05 kHz and runs at 44.1/48 kHz); capped at 0.45 x the rate below that."""
LOG_MUL: float = 1.0e4
"""Scale inside ``log10(1 + LOG_MUL * band)``: bands 80 dB below full scale still register."""
FEATURE_VERSION: int = 3
"""Bumped whenever the numbers these settings produce change (cached features and trained weights carry it)."""


def feature_settings() -> dict[str, float | int | str]:
    """The settings that fix the features, as stored in trained weights and feature caches (JSON-serialisable)."""
    return {"version": FEATURE_VERSION, "frames_per_s": FRAMES_PER_S, "windows_s": list(WINDOWS_S), "n_bands": N_BANDS,
            "fmin_hz": FMIN_HZ, "fmax_hz": FMAX_HZ, "log_mul": LOG_MUL, "scale": "mel-htk", "window": "hann"}


def hop_size(sample_rate: int) -> int:
    """Hop in samples at ``sample_rate`` Hz: ``round(sample_rate / FRAMES_PER_S)`` (220 at 22,050 Hz, 441 at 44.1
    kHz)."""
    return int(round(sample_rate / FRAMES_PER_S))


N_FEATURES: int = 2 * len(WINDOWS_S) * N_BANDS
"""Length of a feature row."""


def window_size(sample_rate: int, window_s: float = WINDOWS_S[0]) -> int:
    """Analysis window in samples at ``sample_rate`` Hz: the power of two nearest ``window_s`` seconds."""
    return 2 ** round(math.log2(sample_rate * window_s))


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int) -> np.ndarray:
    """Triangular filters, float64 (n_fft // 2 + 1, N_BANDS), each column summing to 1.

    Filter ``b`` rises from edge ``b`` to edge ``b + 1`` and falls to edge ``b + 2``; the ``N_BANDS + 2`` edges are
    evenly spaced in mel between :data:`FMIN_HZ` and ``min(FMAX_HZ, 0.45 * sample_rate)`` Hz. Weights are the
    triangles evaluated at the FFT bin frequencies; every filter covers at least one bin at 16 kHz and above.
    """
    fmax = min(FMAX_HZ, 0.45 * sample_rate)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(FMIN_HZ)), _hz_to_mel(np.array(fmax)), N_BANDS + 2))
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lo) / (mid - lo)
    falling = (hi - freqs[None, :]) / (hi - mid)
    bank = np.maximum(0.0, np.minimum(rising, falling)).T  # (bins, bands)
    sums = bank.sum(axis=0)
    if np.any(sums <= 0.0):
        raise ValueError(f"sample rate {sample_rate} Hz is too low for {N_BANDS} bands from {FMIN_HZ} Hz")
    return bank / sums


class _Spectrum:
    """The per-frame maths shared by the streaming and batch paths, so both give the same numbers."""

    def __init__(self, sample_rate: int) -> None:
        self.sizes = [window_size(sample_rate, w) for w in WINDOWS_S]
        self.n_fft = self.sizes[0]
        self.windows = [np.hanning(n + 1)[:-1] for n in self.sizes]  # periodic Hann
        self.windows = [w * (2.0 / w.sum()) for w in self.windows]  # a full-scale sinusoid peaks at 1
        self.banks = [mel_filterbank(sample_rate, n) for n in self.sizes]

    def log_bands(self, frames: np.ndarray) -> np.ndarray:
        """(F, n_fft) samples (the longest window) -> (F, len(WINDOWS_S) * N_BANDS) float64 ``log10(1 + LOG_MUL *
        band)``, window by window."""
        bands = [np.abs(np.fft.rfft(frames[:, -n:] * w, axis=-1)) @ bank
                 for n, w, bank in zip(self.sizes, self.windows, self.banks, strict=True)]
        return np.log10(1.0 + LOG_MUL * np.concatenate(bands, axis=1))


def _rows(log_bands: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """(F, B) log bands and the row before the first -> (F, 2 * B) float32 feature rows."""
    before = np.concatenate([previous[None, :], log_bands[:-1]], axis=0)
    return np.concatenate([log_bands, np.maximum(0.0, log_bands - before)], axis=1).astype(np.float32)


class BeatFeatures:
    """Streaming features: feed consecutive hops of ``hop`` float32 samples, get one feature row per hop.

    Attributes:
        sample_rate: input rate in Hz.
        hop: samples per frame, ``round(sample_rate / 100)``.
        frame_rate: frames per second, ``sample_rate / hop`` (100.23 at 22,050 Hz, 100 at 44.1 and 48 kHz).
        n_fft: the longest analysis window in samples.
        n_features: length of a feature row, :data:`N_FEATURES`.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = int(sample_rate)
        self.hop = hop_size(self.sample_rate)
        self.frame_rate = self.sample_rate / self.hop
        self._spectrum = _Spectrum(self.sample_rate)
        self.n_fft = self._spectrum.n_fft
        self.n_features = N_FEATURES
        self.reset()

    def reset(self) -> None:
        """Forget all past audio (as if the stream started now, after silence)."""
        self._buffer = np.zeros(self.n_fft, np.float64)
        self._previous = np.zeros(N_FEATURES // 2, np.float64)

    def __call__(self, hop_samples: np.ndarray) -> np.ndarray:
        """The next hop of samples, float32 shape (hop,) -> its feature row, float32 shape (n_features,)."""
        samples = np.asarray(hop_samples, dtype=np.float32).reshape(-1)
        if len(samples) != self.hop:
            raise ValueError(f"expected a hop of {self.hop} samples, got {len(samples)}")
        self._buffer[: -self.hop] = self._buffer[self.hop :]
        self._buffer[-self.hop :] = samples
        bands = self._spectrum.log_bands(self._buffer[None, :])
        row = _rows(bands, self._previous)[0]
        self._previous = bands[0]
        return row


def beat_features(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Feature rows of a whole mono signal, float32 (F, N_FEATURES), F = len(samples) // hop.

    Row ``k`` equals what :class:`BeatFeatures` returns for the ``k``-th hop after a reset (a trailing partial hop
    gives no frame).

    Args:
        samples: mono float32 samples, shape (L,).
        sample_rate: their rate in Hz.
    """
    spectrum = _Spectrum(sample_rate)
    hop, n_fft = hop_size(sample_rate), spectrum.n_fft
    signal = np.asarray(samples, dtype=np.float32).reshape(-1)
    n_frames = len(signal) // hop
    if n_frames == 0:
        return np.zeros((0, N_FEATURES), np.float32)
    padded = np.concatenate([np.zeros(n_fft - hop, np.float64), signal[: n_frames * hop].astype(np.float64)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    bands = np.concatenate([spectrum.log_bands(frames[i : i + 4096]) for i in range(0, n_frames, 4096)], axis=0)
    return _rows(bands, np.zeros(N_FEATURES // 2))
