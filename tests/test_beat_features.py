"""The beat network's input features: causal, the same streamed as in one go, the same layout at every rate."""

from __future__ import annotations

import numpy as np
import pytest

from live.beat_features import N_BANDS, N_FEATURES, WINDOWS_S, BeatFeatures, beat_features, feature_settings, mel_filterbank, window_size
from tests.conftest import click_track


def _stream(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    features = BeatFeatures(sample_rate)
    hop = features.hop
    return np.stack([features(samples[i * hop : (i + 1) * hop]) for i in range(len(samples) // hop)])


@pytest.mark.parametrize("sample_rate", [22_050, 44_100])
def test_streamed_rows_equal_whole_signal_rows(sample_rate: int) -> None:
    audio, _ = click_track(123.0, 4.0, sample_rate)
    audio = audio + np.random.default_rng(0).normal(0, 0.01, len(audio)).astype(np.float32)
    batch = beat_features(audio[: len(audio) - 7], sample_rate)  # a trailing partial hop gives no frame
    streamed = _stream(audio, sample_rate)
    assert batch.shape == (len(audio[:-7]) // BeatFeatures(sample_rate).hop, N_FEATURES)
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch, streamed[: len(batch)])


@pytest.mark.parametrize(("sample_rate", "hop", "n_fft"),
                         [(16_000, 160, 1024), (22_050, 220, 1024), (24_000, 240, 1024), (44_100, 441, 2048),
                          (48_000, 480, 2048)])
def test_hop_window_and_rate_at_each_sample_rate(sample_rate: int, hop: int, n_fft: int) -> None:
    features = BeatFeatures(sample_rate)
    assert (features.hop, features.n_fft, features.n_features) == (hop, n_fft, 4 * N_BANDS)
    assert features.frame_rate == pytest.approx(sample_rate / hop)
    assert window_size(sample_rate, WINDOWS_S[1]) == n_fft // 2
    for size in (n_fft, n_fft // 2):
        bank = mel_filterbank(sample_rate, size)
        assert bank.shape == (size // 2 + 1, N_BANDS)
        np.testing.assert_allclose(bank.sum(axis=0), 1.0, rtol=1e-9)  # every band covers bins, none is empty


def test_the_same_sound_gives_the_same_bands_at_22k_and_48k() -> None:
    def tones(rate: int) -> np.ndarray:
        t = np.arange(rate) / rate
        return sum(0.1 * np.sin(2 * np.pi * f * t) for f in (55.0, 440.0, 1500.0, 4000.0, 9000.0)).astype(np.float32)

    low, high = beat_features(tones(22_050), 22_050)[-1], beat_features(tones(48_000), 48_000)[-1]
    long_low, long_high = low[:N_BANDS], high[:N_BANDS]  # the 46 ms window's bands
    loud = (long_low > 1.5) | (long_high > 1.5)  # the bands the tones fall in (not leakage between them)
    assert loud.sum() >= 8
    np.testing.assert_allclose(long_low[loud], long_high[loud], atol=0.15)  # training rate vs a live rate


def test_a_frame_never_depends_on_later_samples() -> None:
    rate = 22_050
    audio, _ = click_track(100.0, 3.0, rate)
    changed = audio.copy()
    hop = BeatFeatures(rate).hop
    cut = 150 * hop  # the end of hop 149
    changed[cut:] = np.random.default_rng(1).normal(0, 0.5, len(audio) - cut)
    a, b = beat_features(audio, rate), beat_features(changed, rate)
    np.testing.assert_array_equal(a[:150], b[:150])
    assert not np.array_equal(a[150], b[150])


def test_a_click_shows_in_the_rising_half_from_the_frame_it_arrives_in() -> None:
    rate = 44_100
    audio = np.zeros(rate, np.float32)
    hop = BeatFeatures(rate).hop
    audio[50 * hop : 50 * hop + 400] = np.hanning(400) * np.sin(np.arange(400) * 0.3)
    rows = beat_features(audio, rate)
    flux = rows[:, N_FEATURES // 2 :].sum(axis=1)
    assert np.all(flux[:50] == 0.0)  # silence before the click: nothing
    assert flux[50] > 0.0 and np.argmax(flux) in (50, 51, 52)  # seen in the hop that holds it, peaking right after
    assert np.all(rows[:, N_FEATURES // 2 :] >= 0.0)


def test_log_bands_grow_with_level_and_silence_is_zero() -> None:
    rate = 24_000
    t = np.arange(rate) / rate
    quiet, loud = (beat_features((a * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate) for a in (0.01, 0.5))
    assert np.all(beat_features(np.zeros(rate, np.float32), rate) == 0.0)
    band = int(np.argmax(loud[-1, :N_BANDS]))
    assert loud[-1, band] > quiet[-1, band] + 1.0  # 34 dB louder: over one decade more inside the log


def test_reset_starts_the_stream_afresh_and_wrong_hops_are_refused() -> None:
    rate = 22_050
    audio, _ = click_track(90.0, 1.0, rate)
    features = BeatFeatures(rate)
    first = _stream(audio, rate)
    for i in range(10):
        features(audio[i * features.hop : (i + 1) * features.hop])
    features.reset()
    np.testing.assert_array_equal(features(audio[: features.hop]), first[0])
    with pytest.raises(ValueError, match="hop of 220"):
        features(audio[:100])
    assert feature_settings()["n_bands"] == N_BANDS
