"""Decoding songs: one resampling step to 24 kHz, whole-song normalisation, and clear errors for bad files."""

import numpy as np
import pytest
import soundfile

from common.errors import InputError
from live.audio_file import load_song, normalise


def test_real_song_is_decoded_to_24k_mono(dev_song):
    song = load_song(dev_song)
    assert song.sample_rate == 24_000 and song.native_rate == 44_100
    assert song.samples.dtype == np.float32 and song.samples.ndim == 1
    assert song.duration_s == pytest.approx(30.0, abs=0.01)


def test_one_resampling_step_keeps_pitch_and_level(tmp_path):
    rate = 44_100
    t = np.arange(3 * rate) / rate
    path = tmp_path / "tone.wav"
    soundfile.write(path, np.stack([0.5 * np.sin(2 * np.pi * 1000 * t)] * 2, axis=1), rate)  # stereo
    song = load_song(path)
    spectrum = np.abs(np.fft.rfft(song.samples))
    peak_hz = np.argmax(spectrum) * song.sample_rate / len(song.samples)
    assert peak_hz == pytest.approx(1000, abs=1)
    assert np.sqrt(np.mean(song.samples[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)


def test_normalise_is_zero_mean_unit_variance_float32():
    x = np.random.default_rng(0).normal(3.0, 2.0, 50_000).astype(np.float32)
    y = normalise(x)
    assert y.dtype == np.float32
    assert abs(float(y.mean())) < 1e-5 and float(y.std()) == pytest.approx(1.0, abs=1e-5)


def _bytes(path, data):
    path.write_bytes(data)
    return path


def _write(tmp_path, name, samples, rate=24_000):
    path = tmp_path / name
    soundfile.write(path, samples, rate)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d, "is a directory"),
        (lambda d: d / "missing.wav", "no such file"),
        (lambda d: _bytes(d / "empty.wav", b""), "is empty"),
        (lambda d: _bytes(d / "junk.mp3", b"not audio at all" * 100), "not a readable audio"),
        (lambda d: _write(d, "short.wav", np.ones(24_000, np.float32) * 0.1), "at least 2.02 s"),
        (lambda d: _write(d, "silent.wav", np.zeros(72_000, np.float32)), "silent"),
    ],
)
def test_bad_audio_gives_one_line_naming_the_file(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(InputError, match=message) as err:
        load_song(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
