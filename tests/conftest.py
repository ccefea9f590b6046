"""Shared test fixtures: paths to the real data in ../shared and small generated inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
BEATS_DIR = SHARED / "data" / "beats"
REFERENCE_DIR = SHARED / "reference"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared data folder (../shared); tests that need it are skipped without it."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not present")
    return SHARED


@pytest.fixture(scope="session")
def tiny_checkpoint(shared_dir: Path) -> Path:
    return shared_dir / "reference" / "tiny_edsa.chkpt"


@pytest.fixture(scope="session")
def dev_song(shared_dir: Path) -> Path:
    """A real 30 s dev-set song with exact beats (steady 120 BPM drums)."""
    return shared_dir / "data" / "beats" / "lmms_Oglsdl-Dr8v2.flac"


def click_track(bpm: float, seconds: float, sample_rate: int, first_beat_s: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic click track: (samples float32 (L,), beat times in seconds)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    beats = np.arange(first_beat_s, seconds, 60.0 / bpm)
    audio = 0.01 * np.sin(2 * np.pi * 220 * t)
    for b in beats:
        start = int(b * sample_rate)
        n = min(int(0.03 * sample_rate), len(audio) - start)
        audio[start : start + n] += np.exp(-np.arange(n) / (0.005 * sample_rate)) * np.sin(2 * np.pi * 1000 * t[:n])
    return audio.astype(np.float32), beats


def write_click_track(path: Path, bpm: float, seconds: float, sample_rate: int = 24_000) -> Path:
    """Write :func:`click_track` to the sound file ``path`` (format from its suffix); returns ``path``."""
    audio, _ = click_track(bpm, seconds, sample_rate)
    soundfile.write(path, audio, sample_rate)
    return path
