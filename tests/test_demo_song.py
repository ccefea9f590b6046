"""The bundled demo song (assets/demo, made by tools/make_demo_song.py): format, length, and its exact beats."""

from __future__ import annotations

import re
from pathlib import Path

import librosa
import mir_eval
import numpy as np
import pytest
import soundfile as sf

from common.paths import DEMO_SONG

DEMO_DIR = DEMO_SONG.parent
BEATS = DEMO_DIR / "demo_song.beats.txt"
DOWNBEATS = DEMO_DIR / "demo_song.downbeats.txt"
README = DEMO_DIR / "README.md"
BEATS_PER_BAR = 4


def read_times(path: Path) -> np.ndarray:
    """(B,) float64 times in seconds, one per line."""
    return np.loadtxt(path, dtype=np.float64, ndmin=1)


def stated_bpm() -> float:
    """The tempo the demo README states (``**<bpm> BPM**``)."""
    found = re.search(r"\*\*([0-9.]+) BPM\*\*", README.read_text(encoding="utf-8"))
    assert found, f"{README} states no tempo as **<bpm> BPM**"
    return float(found.group(1))


def test_demo_files_exist() -> None:
    for path in (DEMO_SONG, BEATS, DOWNBEATS, README):
        assert path.is_file(), f"{path} is missing (run tools/make_demo_song.py)"


def test_demo_song_format() -> None:
    info = sf.info(DEMO_SONG)
    assert info.samplerate == 44_100
    assert info.channels == 1
    assert info.subtype == "PCM_16"
    assert 30.0 <= info.duration <= 60.0


def test_beats_are_monotone_at_the_stated_tempo() -> None:
    beats = read_times(BEATS)
    duration = sf.info(DEMO_SONG).duration
    assert np.all(np.diff(beats) > 0)
    assert 0.0 <= beats[0] and beats[-1] < duration
    assert np.median(np.diff(beats)) == pytest.approx(60.0 / stated_bpm(), abs=0.002)


def test_downbeats_are_every_bar_of_beats() -> None:
    beats, downbeats = read_times(BEATS), read_times(DOWNBEATS)
    np.testing.assert_allclose(downbeats, beats[::BEATS_PER_BAR], atol=0.0005)


def test_offline_beat_tracker_agrees() -> None:
    """librosa's offline tracker finds the written beats (mir_eval F-measure, 70 ms window, first 5 s dropped)."""
    audio, rate = librosa.load(DEMO_SONG, sr=None, mono=True)
    _, tracked = librosa.beat.beat_track(y=audio, sr=rate, units="time")
    reference = mir_eval.beat.trim_beats(read_times(BEATS))
    assert mir_eval.beat.f_measure(reference, mir_eval.beat.trim_beats(tracked), f_measure_threshold=0.07) >= 0.8
