"""Offline retrieval: a song file in, per-position top-k poses, image folders and videos out.

The steps follow the reference's ``inference.py``: decode to 24 kHz (here in one resampling step), normalise over the
whole song, truncate to ``floor(L / 400) * 400 - 1`` samples, track beats with librosa, subdivide, cut 48,480-sample
windows centred on each position, rank the bank for each window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.constants import FRAME_HOP
from common.errors import InputError
from live.audio_file import Song, load_song, normalise
from live.snippets import Positions, cut_windows, positions_per_beat, subdivide
from model.retrieval import PoseRetriever
from offline.beats import track_beats_offline
from offline.video import VideoSpec
from pose_db.search import TopK


@dataclass(frozen=True)
class RetrieveOptions:
    """What to retrieve and write.

    Attributes:
        resolution: '4th', '8th' or '16th' (positions per beat 1, 2, 4).
        top_k: ranks kept per position.
        batch_size: windows per encoder call.
        video: encoding settings, or None to write no videos.
    """

    resolution: str = "4th"
    top_k: int = 5
    batch_size: int = 16
    video: VideoSpec | None = field(default_factory=VideoSpec)


@dataclass(frozen=True)
class SongAnalysis:
    """A song cut into model windows.

    Attributes:
        song: the decoded song (24 kHz).
        usable_samples: samples kept after the reference's truncation to a multiple of 400, minus one.
        positions: the beat/subdivision grid.
        windows: (P, 48480) float32 windows of the whole-song-normalised audio.
        full: (P,) bool, True where the window has full context.
    """

    song: Song
    usable_samples: int
    positions: Positions
    windows: np.ndarray
    full: np.ndarray


def analyse_song(path: str | Path, resolution: str) -> SongAnalysis:
    """Decode, normalise, beat-track and window a song (see the module docstring)."""
    per_beat = positions_per_beat(resolution)
    song = load_song(path)
    usable = (len(song.samples) // FRAME_HOP) * FRAME_HOP - 1
    audio = normalise(song.samples[:usable])
    beats = track_beats_offline(audio, song.sample_rate)
    if len(beats) == 0:
        raise InputError(song.path, "no beats found in the audio")
    positions = subdivide(beats, per_beat, song.sample_rate)
    windows, full = cut_windows(audio, positions.samples)
    return SongAnalysis(song=song, usable_samples=usable, positions=positions, windows=windows, full=full)


def rank_windows(retriever: PoseRetriever, analysis: SongAnalysis, options: RetrieveOptions) -> TopK:
    """Rank the bank for every window, in time order, ``options.batch_size`` windows at a time."""
    retriever.reset()
    phase = analysis.positions.bar_phase
    parts = [
        retriever.rank(analysis.windows[s : s + options.batch_size], phase[s : s + options.batch_size], options.top_k)
        for s in tqdm(range(0, len(phase), options.batch_size), desc=f"{retriever.encoder_name} ranking", unit="batch")
    ]
    return TopK(
        indices=np.concatenate([p.indices for p in parts]), scores=np.concatenate([p.scores for p in parts])
    )
