"""Onset detection functions (ODFs) for online beat tracking: one novelty value per hop of audio.

Two families, chosen by name (:func:`make_onset_function`):

- aubio's spectral descriptors (``'specflux'``, ``'hfc'``, ``'complex'``, ``'energy'``, ...): ``aubio.pvoc`` +
  ``aubio.specdesc``, the same front end ``aubio.tempo`` uses.
- ``'logflux'``: a log-filtered spectral flux in numpy (Böck & Widmer style): magnitude spectrum, triangular filters
  12 per octave between 30 Hz and 17 kHz, ``log10(1 + x)``, half-wave-rectified difference to the previous frame,
  summed over bands.

Every function is fed consecutive hops of ``hop`` float32 samples and looks at the last ``win`` samples (a causal
sliding window), so a value describes the audio up to the end of the hop just given.
"""

from __future__ import annotations

import math
from typing import Protocol

import aubio
import numpy as np

LOGFLUX_BANDS_PER_OCTAVE: int = 12
LOGFLUX_FMIN_HZ: float = 30.0
LOGFLUX_FMAX_HZ: float = 17_000.0
AUBIO_METHODS: tuple[str, ...] = ("specflux", "hfc", "complex", "energy", "phase", "specdiff", "kl", "mkl", "wphase")


class OnsetFunction(Protocol):
    """Maps the next hop of samples (float32, shape (hop,)) to one non-negative novelty value."""

    def __call__(self, hop_samples: np.ndarray) -> float: ...


def frame_sizes(sample_rate: int, window_s: float) -> tuple[int, int]:
    """FFT window and hop in samples for ``sample_rate`` Hz: the power of two nearest ``window_s`` seconds, hop 1/4.

    At 44.1 or 48 kHz with ``window_s=0.046`` this gives (2048, 512): a hop of about 11 ms.
    """
    win = 2 ** round(math.log2(sample_rate * window_s))
    return win, win // 4


class AubioOnset:
    """An aubio spectral descriptor (``aubio.specdesc``) on a phase vocoder (``aubio.pvoc``) of ``win``/``hop``."""

    def __init__(self, method: str, win: int, hop: int) -> None:
        self._pvoc = aubio.pvoc(win, hop)
        self._desc = aubio.specdesc(method, win)

    def __call__(self, hop_samples: np.ndarray) -> float:
        return float(self._desc(self._pvoc(hop_samples))[0])


def log_filterbank(sample_rate: int, win: int) -> np.ndarray:
    """Triangular filters on a logarithmic frequency axis: float32 (win//2 + 1, bands), each filter summing to 1.

    Centres are ``LOGFLUX_BANDS_PER_OCTAVE`` per octave from ``LOGFLUX_FMIN_HZ`` to ``LOGFLUX_FMAX_HZ`` (capped at
    Nyquist), snapped to FFT bins; centres that fall on the same bin are merged, so low bands never duplicate.
    """
    fmax = min(LOGFLUX_FMAX_HZ, sample_rate / 2)
    octaves = math.log2(fmax / LOGFLUX_FMIN_HZ)
    freqs = LOGFLUX_FMIN_HZ * 2.0 ** (np.arange(int(octaves * LOGFLUX_BANDS_PER_OCTAVE) + 1) / LOGFLUX_BANDS_PER_OCTAVE)
    bins = np.unique(np.round(freqs * win / sample_rate).astype(int))
    bank = np.zeros((win // 2 + 1, len(bins) - 2), np.float32)
    for band, (lo, mid, hi) in enumerate(zip(bins[:-2], bins[1:-1], bins[2:])):
        bank[lo : mid + 1, band] = np.linspace(0.0, 1.0, mid - lo + 1)
        bank[mid : hi + 1, band] = np.linspace(1.0, 0.0, hi - mid + 1)
        bank[:, band] /= bank[:, band].sum()
    return bank


class LogFluxOnset:
    """Log-filtered spectral flux (numpy): sum over log-spaced bands of max(0, L[n] - L[n-1]), L = log10(1 + |X|)."""

    def __init__(self, sample_rate: int, win: int, hop: int) -> None:
        self._hop = hop
        self._buffer = np.zeros(win, np.float32)
        self._window = np.hanning(win).astype(np.float32)
        self._bank = log_filterbank(sample_rate, win)
        self._previous = np.zeros(self._bank.shape[1], np.float32)

    def __call__(self, hop_samples: np.ndarray) -> float:
        buf = self._buffer
        buf[: -self._hop] = buf[self._hop :]
        buf[-self._hop :] = hop_samples
        bands = np.log10(1.0 + np.abs(np.fft.rfft(buf * self._window)) @ self._bank)
        flux = float(np.maximum(bands - self._previous, 0.0).sum())
        self._previous[:] = bands
        return flux


def make_onset_function(name: str, sample_rate: int, win: int, hop: int) -> OnsetFunction:
    """The onset function called ``name`` (``'logflux'`` or one of :data:`AUBIO_METHODS`) for ``win``/``hop``."""
    if name == "logflux":
        return LogFluxOnset(sample_rate, win, hop)
    if name in AUBIO_METHODS:
        return AubioOnset(name, win, hop)
    raise ValueError(f"unknown onset function {name!r}: choose 'logflux' or one of {', '.join(AUBIO_METHODS)}")
