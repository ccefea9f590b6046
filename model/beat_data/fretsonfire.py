"""Real recordings with tempo maps: the Frets on Fire songs of Debian's ``fretsonfire-songs-muldjord`` and
``fretsonfire-songs-sectoid`` (CC BY-SA 3.0). Each song is ``song.ogg`` + ``guitar.ogg`` (the game plays both)
and ``notes.mid``, whose tempo map (constant tempo here) gives the beats, shifted by ``song.ini``'s ``delay``.

The grids were checked against the audio (:func:`measure_alignment`: the lag of the onset envelope that best fits
the beats, per 30 s window, within a quarter beat; the same detector puts rendered MIDI at +11..+19 ms and the Muldjord
songs at +16..+18 ms, the reference). Songs whose grid is late by a consistent amount get that amount as a
correction in :data:`CORRECTIONS_S`; songs whose grid does not fit are in :data:`EXCLUDED`. Downbeats: the bar
starts at the chart's tick 0 (4/4); chroma change per beat is largest on that position for 6 of the 7 kept songs
(``mutilated_mime`` is ambiguous).
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import mido
import numpy as np
import soundfile as sf

from model.beat_data.annotations import BeatGrid, MetreSpan, midi_beats

if TYPE_CHECKING:
    from model.beat_data.build import ItemPlan

SONGS_ROOT = Path("/usr/share/games/fretsonfire/data/songs")
LICENCE = "CC BY-SA 3.0 (Frets on Fire songs by Muldjord / Sectoid)"
REFERENCE_LAG_S: float = 0.017  # onset-detector lag of the aligned Muldjord songs (see module docstring)
# measured lag minus the reference, applied to the chart's beats (seconds; positive = the audio is later)
CORRECTIONS_S: dict[str, float] = {"sectoid/Escape from chaosland": 0.019, "sectoid/Feelings": 0.024,
                                   "sectoid/War of freedom": 0.037}
EXCLUDED: dict[str, str] = {"sectoid/Metal madness": "beat grid ~0.4 beat (-150 ms) off the audio"}


@dataclass(frozen=True)
class Song:
    """One installed song: ``key`` (``pack/folder``) and its folder."""

    key: str
    folder: Path


def installed_songs(include_excluded: bool = False) -> tuple[Song, ...]:
    """Songs with ``song.ogg`` and ``notes.mid`` (sorted; :data:`EXCLUDED` ones left out unless asked)."""
    songs = []
    for notes in sorted(SONGS_ROOT.glob("*/*/notes.mid")):
        key = f"{notes.parent.parent.name}/{notes.parent.name}"
        if (notes.parent / "song.ogg").exists() and (include_excluded or key not in EXCLUDED):
            songs.append(Song(key, notes.parent))
    return tuple(songs)


def _delay_s(folder: Path) -> float:
    """``song.ini``'s ``delay`` in seconds (milliseconds in the file; 0 when absent)."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(folder / "song.ini")
    return float(ini.get("song", "delay", fallback="0")) / 1000.0


def chart_beats(song: Song, *, corrected: bool = True) -> BeatGrid:
    """The beats of ``notes.mid`` (4/4 from tick 0) plus the song's delay (and correction when ``corrected``)."""
    mid = mido.MidiFile(song.folder / "notes.mid")
    grid = midi_beats(mid, [MetreSpan(0, float(mid.ticks_per_beat), 4)])
    return grid.shifted(_delay_s(song.folder) + (CORRECTIONS_S.get(song.key, 0.0) if corrected else 0.0))


@lru_cache(maxsize=8)
def load_stems(song: Song, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(backing, guitar): mono float32 (N,) at ``sample_rate`` Hz, equal lengths (guitar zeros when absent)."""
    import librosa

    def mono(path: Path) -> np.ndarray:
        x, rate = sf.read(path, dtype="float32", always_2d=True)
        return librosa.resample(x.mean(axis=1), orig_sr=rate, target_sr=sample_rate).astype(np.float32)

    backing = mono(song.folder / "song.ogg")
    guitar = mono(song.folder / "guitar.ogg") if (song.folder / "guitar.ogg").exists() else np.zeros_like(backing)
    n = min(len(backing), len(guitar))
    return backing[:n], guitar[:n]


def measure_alignment(song: Song, sample_rate: int = 22_050, window_s: float = 30.0) -> list[tuple[float, float]]:
    """For each ``window_s`` window: (start s, lag s) of the onset envelope that best fits the uncorrected chart
    beats, searched within a quarter beat period either way (so off-beat onsets never win)."""
    import librosa

    backing, guitar = load_stems(song, sample_rate)
    x = backing + guitar
    grid = chart_beats(song, corrected=False)
    hop = 32
    env = librosa.onset.onset_strength(y=x, sr=sample_rate, hop_length=hop, n_fft=1024, lag=1, max_size=1)
    env = (env - env.mean()) / (env.std() + 1e-9)
    period = float(np.median(np.diff(grid.times_s)))
    lags = np.arange(-int(period / 4 * sample_rate / hop), int(period / 4 * sample_rate / hop) + 1)
    out = []
    for start in np.arange(0.0, len(x) / sample_rate - window_s, window_s):
        beats = grid.window(start, start + window_s).shifted(start).times_s
        frames = np.round(beats * sample_rate / hop).astype(int)
        scores = [env[np.clip(frames + lag, 0, len(env) - 1)].mean() for lag in lags]
        out.append((float(start), float(lags[int(np.argmax(scores))] * hop / sample_rate)))
    return out


def plan_items(rng: np.random.Generator, budget_s: float) -> list[ItemPlan]:
    """Items (20-60 s excerpts of random songs) adding up to ``budget_s`` seconds."""
    from model.beat_data.build import MAX_ITEM_S, MIN_ITEM_S, ItemPlan

    if not installed_songs():
        return []
    items = []
    total = 0.0
    while total < budget_s:
        dur = float(rng.uniform(MIN_ITEM_S, MAX_ITEM_S))
        items.append(ItemPlan(f"fof_{len(items):05d}", "fof", int(rng.integers(2**31)), dur, ""))
        total += dur
    return items


def make_item(plan: ItemPlan, rng: np.random.Generator, sample_rate: int = 22_050
              ) -> tuple[np.ndarray, BeatGrid, dict[str, str]]:
    """An excerpt of a random song, stems mixed (guitar sometimes left out or quieter); returns audio (N,)
    float32, its beats and manifest fields. (No time stretch: librosa's phase vocoder smears the onsets, measured
    with :func:`measure_alignment`'s detector; tempo variety comes from the rendered sources.)"""
    songs = installed_songs()
    song = songs[int(rng.integers(len(songs)))]
    backing, guitar = load_stems(song, sample_rate)
    guitar_gain = 0.0 if rng.random() < 0.2 else float(rng.uniform(0.5, 1.0))
    length_s = len(backing) / sample_rate
    start = float(rng.uniform(0.0, max(0.0, length_s - plan.duration_s)))
    a, b = int(start * sample_rate), int(min(length_s, start + plan.duration_s) * sample_rate)
    audio = backing[a:b] + guitar_gain * guitar[a:b]
    beats = chart_beats(song)
    period = float(np.median(np.diff(beats.times_s)))
    fields = {"tempo_bpm": f"{60.0 / period:.1f}", "metre": "4/4", "licence": LICENCE,
              "midi_edit": "-", "soundfont": "- (recording)",
              "generator": f"fretsonfire {song.key} start={start:.2f}s guitar={guitar_gain:.2f}"
                           f" correction={CORRECTIONS_S.get(song.key, 0.0) * 1000:.0f}ms"}
    return audio.astype(np.float32), beats.window(start, b / sample_rate), fields


def alignment_report(sample_rate: int = 22_050) -> list[str]:
    """One line per installed song (excluded ones too): the onset lag of its uncorrected chart per 30 s window
    (median, range, in ms), the lag left after the correction in use, relative to :data:`REFERENCE_LAG_S`."""
    lines = []
    for song in installed_songs(include_excluded=True):
        lags = np.array([lag for _, lag in measure_alignment(song, sample_rate)]) * 1000.0
        left = np.median(lags) - 1000.0 * (REFERENCE_LAG_S + CORRECTIONS_S.get(song.key, 0.0))
        status = f"EXCLUDED ({EXCLUDED[song.key]})" if song.key in EXCLUDED else f"kept, residual {left:+.0f} ms"
        lines.append(f"{song.key}: window lags median {np.median(lags):+.0f} ms (range {lags.min():+.0f}.."
                     f"{lags.max():+.0f}), correction {CORRECTIONS_S.get(song.key, 0.0) * 1000:.0f} ms: {status}")
    return lines
