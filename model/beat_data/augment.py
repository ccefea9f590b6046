"""Audio-level augmentation that keeps the length and the beat times of an item.

Every effect is zero-phase or starts with the direct sound at lag 0 (reverb), so onsets stay where the beats say.
:func:`random_chain` draws one seeded chain per item; :func:`apply_chain` runs it and returns the audio and a
one-line description for the manifest. Tempo stretch and pitch shift are done before rendering (MIDI at another
tempo, transposed MIDI), not here: a phase-vocoder stretch smears the onsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft
from scipy import signal

Samples = np.ndarray  # (N,) float32 mono


@dataclass(frozen=True)
class Effect:
    """One step: ``kind`` (gain, tilt, noise, reverb, band, clip) and its parameters."""

    kind: str
    params: tuple[tuple[str, float], ...]

    def describe(self) -> str:
        """E.g. ``reverb(rt60=0.80,wet=0.30)``."""
        return f"{self.kind}(" + ",".join(f"{k}={v:.2f}" for k, v in self.params) + ")"


def gain(x: Samples, db: float) -> Samples:
    """``x`` times ``db`` decibels."""
    return (x * 10.0 ** (db / 20.0)).astype(np.float32)


def eq_tilt(x: Samples, sample_rate: int, db_per_octave: float) -> Samples:
    """Zero-phase spectral tilt around 1 kHz: ``db_per_octave`` dB more per octave up (negative = darker)."""
    n = sp_fft.next_fast_len(len(x), real=True)
    spec = sp_fft.rfft(x, n=n)
    freqs = sp_fft.rfftfreq(n, 1.0 / sample_rate)
    octaves = np.log2(np.maximum(freqs, 20.0) / 1000.0)
    spec *= 10.0 ** (db_per_octave * octaves / 20.0)
    return sp_fft.irfft(spec, n=n)[: len(x)].astype(np.float32)


def add_noise(x: Samples, rng: np.random.Generator, snr_db: float, colour: float) -> Samples:
    """``x`` plus noise at ``snr_db`` dB below its RMS; ``colour`` 0 = white, 1 = pink (1/f power), 2 = brown."""
    n = sp_fft.next_fast_len(len(x), real=True)
    spec = sp_fft.rfft(rng.standard_normal(n))
    k = np.arange(len(spec), dtype=np.float64)
    spec /= np.maximum(k, 1.0) ** (colour / 2.0)
    noise = sp_fft.irfft(spec, n=n)[: len(x)]
    rms_x = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) + 1e-9
    noise *= rms_x * 10.0 ** (-snr_db / 20.0) / (float(np.sqrt(np.mean(noise ** 2))) + 1e-12)
    return (x + noise).astype(np.float32)


def room_ir(rng: np.random.Generator, sample_rate: int, rt60_s: float, wet: float) -> np.ndarray:
    """A synthetic room impulse response: a unit direct sound at lag 0, then exponentially decaying noise
    (-60 dB after ``rt60_s`` seconds, early part low-passed less than the tail) scaled to ``wet`` energy ratio."""
    n = int(rt60_s * sample_rate)
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * 10.0 ** (-3.0 * t / rt60_s)
    sos = signal.butter(2, min(0.45 * sample_rate, 6000.0), fs=sample_rate, output="sos")
    tail = signal.sosfilt(sos, tail)
    predelay = int(rng.uniform(0.005, 0.025) * sample_rate)
    tail[:predelay] = 0.0
    tail *= np.sqrt(wet / (1.0 - wet + 1e-9)) / (np.sqrt(np.sum(tail ** 2)) + 1e-12)
    tail[0] = 1.0
    return tail


def reverb(x: Samples, rng: np.random.Generator, sample_rate: int, rt60_s: float, wet: float) -> Samples:
    """``x`` convolved with :func:`room_ir`, cut to its length."""
    return signal.fftconvolve(x, room_ir(rng, sample_rate, rt60_s, wet))[: len(x)].astype(np.float32)


def band_limit(x: Samples, sample_rate: int, low_hz: float, high_hz: float) -> Samples:
    """Zero-phase 2nd-order band-pass ``low_hz``-``high_hz`` (a small microphone or speaker)."""
    sos = signal.butter(2, [low_hz, min(high_hz, 0.45 * sample_rate)], btype="bandpass", fs=sample_rate,
                        output="sos")
    return signal.sosfiltfilt(sos, x).astype(np.float32)


def soft_clip(x: Samples, drive_db: float) -> Samples:
    """tanh saturation after ``drive_db`` dB of gain (level matched back to the input peak)."""
    peak = float(np.max(np.abs(x))) + 1e-9
    g = 10.0 ** (drive_db / 20.0) / peak
    return (np.tanh(x * g) / np.tanh(g * peak) * peak).astype(np.float32)


def random_chain(rng: np.random.Generator) -> tuple[Effect, ...]:
    """One random chain: each effect with its own probability, then a final level."""
    chain = []
    if rng.random() < 0.5:
        chain.append(Effect("tilt", (("db_oct", float(rng.uniform(-4.0, 3.0))),)))
    if rng.random() < 0.35:
        chain.append(Effect("reverb", (("rt60", float(rng.uniform(0.2, 1.8))), ("wet", float(rng.uniform(0.1, 0.5))))))
    if rng.random() < 0.25:
        low, high = float(rng.uniform(80.0, 400.0)), float(rng.uniform(3000.0, 9000.0))
        chain.append(Effect("band", (("low_hz", low), ("high_hz", high))))
    if rng.random() < 0.15:
        chain.append(Effect("clip", (("drive_db", float(rng.uniform(3.0, 15.0))),)))
    if rng.random() < 0.35:
        chain.append(Effect("noise", (("snr_db", float(rng.uniform(8.0, 40.0))), ("colour", float(rng.uniform(0, 2))))))
    chain.append(Effect("gain", (("db", float(rng.uniform(-24.0, 0.0))),)))
    return tuple(chain)


def apply_chain(x: Samples, chain: tuple[Effect, ...], rng: np.random.Generator, sample_rate: int) -> Samples:
    """Peak-normalise ``x`` to 0.9, then run ``chain``; the result has the same length, clipped to [-1, 1]."""
    y = (x / (float(np.max(np.abs(x))) + 1e-9) * 0.9).astype(np.float32)
    for fx in chain:
        p = dict(fx.params)
        if fx.kind == "gain":
            y = gain(y, p["db"])
        elif fx.kind == "tilt":
            y = eq_tilt(y, sample_rate, p["db_oct"])
        elif fx.kind == "noise":
            y = add_noise(y, rng, p["snr_db"], p["colour"])
        elif fx.kind == "reverb":
            y = reverb(y, rng, sample_rate, p["rt60"], p["wet"])
        elif fx.kind == "band":
            y = band_limit(y, sample_rate, p["low_hz"], p["high_hz"])
        elif fx.kind == "clip":
            y = soft_clip(y, p["drive_db"])
        else:
            raise ValueError(f"unknown effect {fx.kind!r}")
        if fx.kind != "gain":  # effects may change the level; keep the peak where it was before the final gain
            y = (y / (float(np.max(np.abs(y))) + 1e-9) * 0.9).astype(np.float32)
    return np.clip(y, -1.0, 1.0)


def describe_chain(chain: tuple[Effect, ...]) -> str:
    """The chain as ``a(..)+b(..)``."""
    return "+".join(fx.describe() for fx in chain)
