"""Accompaniment songs from the grooves of Debian's ``mma`` (Musical MIDI Accompaniment, GPL-2+): random chord
progressions in a random key, played by one groove family (with its variations and fills) at a chosen tempo, written
to MIDI by ``mma``. Beats are the file's quarter notes on its tempo map (MMA writes ``Time N`` quarter notes a bar),
except the 6-quarter grooves (6/8 feels written in quarters), whose beat is three quarters, two a bar.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import mido
import numpy as np

from model.beat_data.annotations import BeatGrid, MetreSpan, midi_beats

MMA_LIBRARY = Path("/usr/share/mma/lib")
LIBRARIES: tuple[str, ...] = ("stdlib", "casio", "yamaha", "kara", "pflib", "zoom")
_SKIP_FILES = re.compile(r"metronome|^none$")
_SKIP_GROOVES = re.compile(r"end$|ending|metronome", re.IGNORECASE)
_TIME_LINE = re.compile(r"^\s*Time\s+(\d+)\s*(?://.*)?$", re.IGNORECASE | re.MULTILINE)
_DEFGROOVE = re.compile(r"^\s*DefGroove\s+(\S+)", re.IGNORECASE | re.MULTILINE)
LICENCE = "GPL-2+ (mma grooves)"


@dataclass(frozen=True)
class GrooveFamily:
    """One MMA style file: ``use`` (library path for MMA's ``Use``), ``quarters_per_bar`` (MMA's ``Time``) and its
    groove names (main grooves first; intros are those whose name contains ``intro``)."""

    use: str
    quarters_per_bar: int
    grooves: tuple[str, ...]

    @property
    def quarters_per_beat(self) -> int:
        """3 for the 6-quarter (compound) grooves, else 1."""
        return 3 if self.quarters_per_bar % 3 == 0 and self.quarters_per_bar > 3 else 1

    @property
    def beats_per_bar(self) -> int:
        """Annotated beats a bar."""
        return self.quarters_per_bar // self.quarters_per_beat

    @property
    def style(self) -> str:
        """The file name, e.g. ``chacha``."""
        return self.use.rsplit("/", 1)[-1]


def mma_available() -> bool:
    """Whether the ``mma`` program and its groove library are installed."""
    return shutil.which("mma") is not None and (MMA_LIBRARY / "stdlib").is_dir()


@lru_cache(maxsize=1)
def groove_families() -> tuple[GrooveFamily, ...]:
    """Every usable groove family of the installed MMA libraries (one constant metre), sorted by library path."""
    families = []
    for lib in LIBRARIES:
        for path in sorted((MMA_LIBRARY / lib).glob("*.mma")):
            if _SKIP_FILES.search(path.stem):
                continue
            text = path.read_text(errors="replace")
            times = {int(t) for t in _TIME_LINE.findall(text)}
            grooves = tuple(g for g in _DEFGROOVE.findall(text) if not _SKIP_GROOVES.search(g))
            if len(times) != 1 or not grooves:
                continue
            quarters = times.pop()
            if quarters not in (2, 3, 4, 5, 6, 12):
                continue
            families.append(GrooveFamily(f"{lib}/{path.stem}", quarters, grooves))
    return tuple(families)


# Roman-numeral progressions as (scale degree 0-6, chord suffix) in major and minor keys
_MAJOR = {0: "", 1: "m7", 2: "m", 3: "maj7", 4: "7", 5: "m7", 6: "m7b5"}
_MINOR = {0: "m", 1: "m7b5", 2: "", 3: "m7", 4: "7", 5: "maj7", 6: "7"}
_SCALE = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_PROGRESSIONS = ((0, 5, 3, 4), (0, 3, 4, 0), (1, 4, 0, 0), (0, 4, 5, 3), (0, 3, 0, 4), (5, 3, 0, 4),
                 (0, 0, 3, 3, 4, 4, 0, 4),
                 (0, 5, 1, 4), (0, 2, 5, 4), (3, 4, 0, 5))
_NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")


def chord_progression(rng: np.random.Generator, n_bars: int) -> list[str]:
    """``n_bars`` MMA chord names (one per bar) from a random common progression in a random key."""
    key = int(rng.integers(12))
    mode = "major" if rng.random() < 0.7 else "minor"
    quality = _MAJOR if mode == "major" else _MINOR
    prog = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    chords = []
    for bar in range(n_bars):
        degree = prog[bar % len(prog)]
        root = (key + _SCALE[mode][degree]) % 12
        chords.append(_NOTE_NAMES[root] + quality[degree])
    return chords


@dataclass(frozen=True)
class MmaSong:
    """The text of an MMA song and what it is: ``family``, ``grooves`` used, ``tempo_qpm`` (whole quarter notes a
    minute at the start), ``bars``, ``tempo_change`` (a description, or "")."""

    text: str
    family: GrooveFamily
    grooves: tuple[str, ...]
    tempo_qpm: float
    bars: int
    tempo_change: str


def make_song(rng: np.random.Generator, family: GrooveFamily, beat_bpm: float, bars: int, *,
              tempo_change_p: float = 0.2) -> MmaSong:
    """A song of ``bars`` bars in ``family`` at ``beat_bpm`` annotated beats a minute: sections of 4 or 8 bars, each
    on a random groove of the family (an intro groove only first), with a gradual tempo change with probability
    ``tempo_change_p``. MMA's own randomness (timing, velocity, skipped notes) is seeded from the song text."""
    qpm = float(round(beat_bpm * family.quarters_per_beat))  # mma truncates tempi to whole numbers
    mains = [g for g in family.grooves if "intro" not in g.lower()] or list(family.grooves)
    intros = [g for g in family.grooves if "intro" in g.lower()]
    chords = chord_progression(rng, bars)
    lines = [f"Tempo {qpm:.0f}", f"Use {family.use}"]  # "RndSeed" (MMA's own timing/velocity randomness) comes last
    used: list[str] = []
    change = ""
    change_bar = -1
    if rng.random() < tempo_change_p:
        change_bar = int(rng.integers(bars // 3, max(bars // 3 + 1, 2 * bars // 3)))
    bar = 0
    while bar < bars:
        section = int(rng.choice([4, 8]))
        groove = intros[int(rng.integers(len(intros)))] if bar == 0 and intros and rng.random() < 0.3 else \
            mains[int(rng.integers(len(mains)))]
        used.append(groove)
        lines.append(f"Groove {groove}")
        for b in range(bar, min(bar + section, bars)):
            if b == change_bar:
                factor = float(rng.uniform(0.88, 1.12))
                ramp = int(rng.integers(1, 5))
                lines.append(f"Tempo {qpm * factor:.0f} {ramp}")
                change = f"x{factor:.3f} over {ramp} bars from bar {b + 1}"
            lines.append(f"{b + 1} {chords[b]}")
        bar += section
    body = "\n".join(lines) + "\n"
    return MmaSong(f"RndSeed {zlib.crc32(body.encode())}\n" + body, family, tuple(used), qpm, bars, change)


def song_to_midi(song: MmaSong) -> mido.MidiFile:
    """Run ``mma`` on the song; returns the MIDI file it writes."""
    with tempfile.TemporaryDirectory(prefix="beatdata_mma_") as tmp:
        src = Path(tmp) / "song.mma"
        out = Path(tmp) / "song.mid"
        src.write_text(song.text)
        subprocess.run(["mma", str(src), "-f", str(out)], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return mido.MidiFile(out)


def song_beats(mid: mido.MidiFile, song: MmaSong) -> BeatGrid:
    """The beats of the MMA-written ``mid``: the groove's metre from tick 0 to the end of the last bar."""
    beat_ticks = mid.ticks_per_beat * song.family.quarters_per_beat
    span = MetreSpan(0, float(beat_ticks), song.family.beats_per_bar)
    return midi_beats(mid, [span], until_tick=song.bars * song.family.quarters_per_bar * mid.ticks_per_beat)


_METRE_WEIGHTS = {4: 0.55, 3: 0.25, 6: 0.08, 2: 0.06, 5: 0.06}  # by quarters a bar; rare metres sampled more


def random_song(rng: np.random.Generator, min_length_s: float, *, tempo_change_p: float = 0.2
                ) -> tuple[mido.MidiFile, BeatGrid, MmaSong, dict[str, str]]:
    """A random MMA song at least ``min_length_s`` seconds long: its MIDI, beats, song and manifest settings."""
    families = groove_families()
    metres = sorted({f.quarters_per_bar for f in families} & set(_METRE_WEIGHTS))
    weights = np.array([_METRE_WEIGHTS[m] for m in metres])
    quarters = metres[int(rng.choice(len(metres), p=weights / weights.sum()))]
    pool = [f for f in families if f.quarters_per_bar == quarters]
    family = pool[int(rng.integers(len(pool)))]
    low, high = (45.0, 130.0) if family.quarters_per_beat == 3 else (55.0, 215.0)
    bpm = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    bar_s = family.beats_per_bar * 60.0 / bpm
    bars = int(np.ceil(min_length_s * 1.15 / bar_s)) + 1  # margin for a tempo change up to +12 %
    song = make_song(rng, family, bpm, bars, tempo_change_p=tempo_change_p)
    mid = song_to_midi(song)
    compound = family.quarters_per_beat == 3
    metre = f"{family.beats_per_bar * 3}/8" if compound else f"{family.beats_per_bar}/4"
    settings = {"tempo_bpm": f"{song.tempo_qpm / family.quarters_per_beat:.1f}", "metre": metre,
                "generator": f"mma {family.use} grooves={','.join(dict.fromkeys(song.grooves))}"
                             + (f" tempo_change={song.tempo_change}" if song.tempo_change else "")}
    return mid, song_beats(mid, song), song, settings
