"""Synthetic electronic dance grooves as General MIDI: the off-beat parts that pull a beat tracker off the beat.

House, techno and trance put open hi-hats, bass notes and chord stabs on the off-beats (the "and" between beats),
breakbeat and half-time grooves leave beats without a kick, dembow and tresillo grooves syncopate, and breakdowns
drop the drums for bars on end. Each groove is built on a 16th-note grid in 4/4 (some in 3/4) from random parts:

- kick: every beat, broken (breakbeat), half-time, or none;
- snare or clap: back beat, half-time, dembow;
- hats: 8ths, 16ths or off-beat 8ths only, open hat on the off-beats, 16th swing sometimes;
- bass: off-beat, rolling 16ths after the kick, on the beat, syncopated (3+3+2) or random 16ths ("acid");
- chord stabs: off-beat, 3+3+2, back beat (a skank) or none; a pad holding each bar's chord sometimes;
- arrangement: 4- or 8-bar sections, each full, without kick, or a breakdown (pad and stabs alone).

The file carries its tempo and time signature, so :func:`model.beat_data.annotations.midi_beats` reads its beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import mido
import numpy as np

from model.beat_data.drums import CRASH, HAT, KICK, OPEN_HAT, SNARE, TICKS, Metre, pack_midi
from model.beat_data.render import DRUM_CHANNEL

CLAP = 39
SIXTEENTH: int = TICKS // 4
KITS: tuple[int, ...] = (24, 25, 25, 16, 0, 8)  # electronic, TR-808 (twice as likely), power, standard, room
BASS_PROGRAMS: tuple[int, ...] = (38, 39, 81, 87, 33)  # synth basses, saw lead, bass+lead, finger bass
STAB_PROGRAMS: tuple[int, ...] = (80, 81, 61, 62, 0, 4, 5, 50, 90, 16)  # leads, brass, pianos, strings, pad, organ
PAD_PROGRAMS: tuple[int, ...] = (88, 89, 90, 91, 94, 95, 48, 49)
BASS_CHANNEL, STAB_CHANNEL, PAD_CHANNEL = 1, 2, 3
LICENCE = "generated (project code)"

KICKS: dict[str, tuple[int, ...]] = {  # 16th positions in a 4/4 bar (0 = downbeat, 4 = beat 2, 2 = the first "and")
    "floor": (0, 4, 8, 12), "broken": (0, 6, 10), "broken2": (0, 3, 10), "halftime": (0, 10), "none": ()}
SNARES: dict[str, tuple[int, ...]] = {"backbeat": (4, 12), "halftime": (8,), "dembow": (3, 6, 11, 14), "none": ()}
BASSES: dict[str, tuple[int, ...]] = {"offbeat": (2, 6, 10, 14), "rolling": (1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15),
                                      "beat": (0, 4, 8, 12), "syncopated": (0, 3, 6, 8, 11, 14)}
STABS: dict[str, tuple[int, ...]] = {"offbeat": (2, 6, 10, 14), "syncopated": (0, 3, 6, 8, 11, 14),
                                     "skank": (4, 12), "none": ()}
PROGRESSIONS: tuple[tuple[int, ...], ...] = ((0, 8, 3, 10), (0, 5, 8, 7), (0, 0, 8, 10), (0, 3, 5, 3), (0, 10, 8, 7))
"""Chord roots in semitones above the key (minor keys: i VI III VII, i iv VI V, ...)."""


@dataclass(frozen=True)
class Groove:
    """Random choices for one groove (pattern names index the tables above; ``swing`` 0.5 = straight 16ths)."""

    beats_per_bar: int
    kick: str
    snare: str
    hats: str
    open_hat: bool
    bass: str
    stabs: str
    pad: bool
    swing: float
    kit: int
    programs: tuple[int, int, int]

    def describe(self) -> str:
        """A short text for the manifest."""
        return (f"{self.beats_per_bar}/4 kick={self.kick} snare={self.snare} hats={self.hats} open={int(self.open_hat)} "
                f"bass={self.bass} stabs={self.stabs} pad={int(self.pad)} swing={self.swing:.2f} kit={self.kit}")


def random_groove(rng: np.random.Generator) -> Groove:
    """Random parts for one groove (off-beat parts favoured)."""
    def pick(names: list[str], weights: list[float]) -> str:
        return names[int(rng.choice(len(names), p=np.array(weights) / sum(weights)))]

    return Groove(
        beats_per_bar=3 if rng.random() < 0.08 else 4,
        kick=pick(list(KICKS), [0.55, 0.12, 0.08, 0.15, 0.1]),
        snare=pick(list(SNARES), [0.55, 0.2, 0.15, 0.1]),
        hats=pick(["8ths", "16ths", "offbeat"], [0.3, 0.35, 0.35]),
        open_hat=bool(rng.random() < 0.55),
        bass=pick(list(BASSES) + ["acid"], [0.35, 0.15, 0.15, 0.2, 0.15]),
        stabs=pick(list(STABS), [0.35, 0.2, 0.15, 0.3]),
        pad=bool(rng.random() < 0.4),
        swing=float(rng.uniform(0.54, 0.62)) if rng.random() < 0.3 else 0.5,
        kit=int(rng.choice(KITS)),
        programs=(int(rng.choice(BASS_PROGRAMS)), int(rng.choice(STAB_PROGRAMS)), int(rng.choice(PAD_PROGRAMS))),
    )


def _tick(bar_tick: int, pos: int, swing: float) -> int:
    """Tick of 16th ``pos`` of the bar starting at ``bar_tick``, the second 16th of each pair swung."""
    pair, second = divmod(pos, 2)
    return bar_tick + pair * 2 * SIXTEENTH + (int(round(2 * SIXTEENTH * swing)) if second else 0)


def _section_kinds(rng: np.random.Generator, bars: int) -> list[str]:
    """One arrangement kind per bar: 4- or 8-bar sections, each ``full``, ``no_kick`` or ``breakdown``."""
    kinds: list[str] = []
    while len(kinds) < bars:
        kind = str(rng.choice(["full", "no_kick", "breakdown"], p=[0.6, 0.25, 0.15]))
        kinds += [kind] * int(rng.choice([4, 8]))
    return kinds[:bars]


def groove_midi(rng: np.random.Generator, groove: Groove, beat_bpm: float, bars: int) -> mido.MidiFile:
    """A type-0 MIDI file of ``bars`` bars of ``groove`` at ``beat_bpm`` quarter-note beats a minute."""
    notes: list[tuple[int, int, int, int, int]] = []  # (tick, channel, note, velocity, length ticks)

    def hit(tick: int, note: int, vel: float, channel: int = DRUM_CHANNEL, length: int = SIXTEENTH) -> None:
        notes.append((tick, channel, note, int(np.clip(vel + rng.normal(0, 5), 1, 127)), length))

    positions = 4 * groove.beats_per_bar
    bar_ticks = positions * SIXTEENTH
    key = int(rng.integers(33, 45))
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    acid = tuple(int(p) for p in np.flatnonzero(rng.random(16) < 0.5))
    bass_positions = acid if groove.bass == "acid" else BASSES[groove.bass]
    for bar, kind in enumerate(_section_kinds(rng, bars)):
        t0 = bar * bar_ticks
        root = key + progression[bar % len(progression)]
        chord = [root + 24, root + 27, root + 31]
        if bar % 8 == 0 and kind == "full":
            hit(t0, CRASH, 100)
        if groove.pad or kind == "breakdown":
            for note in chord:
                hit(t0, note - 12 if kind == "breakdown" else note, 70, PAD_CHANNEL, bar_ticks - 10)
        for pos in range(positions):
            tick = _tick(t0, pos, groove.swing)
            if kind == "full" and pos in KICKS[groove.kick]:
                hit(tick, KICK, 110)
            if kind != "breakdown":
                if pos in SNARES[groove.snare]:
                    hit(tick, CLAP if groove.kit in (24, 25) else SNARE, 100)
                _hats(hit, groove, tick, pos)
                if pos in bass_positions:
                    hit(tick, root + (12 if groove.bass == "acid" and rng.random() < 0.3 else 0), 100, BASS_CHANNEL,
                        int(SIXTEENTH * (1.6 if groove.bass == "beat" else 0.9)))
            if pos in STABS[groove.stabs]:
                for note in chord:
                    hit(tick, note, 88, STAB_CHANNEL, int(SIXTEENTH * 0.8))
    quarter_us = int(round(60e6 / beat_bpm))
    programs = {DRUM_CHANNEL: groove.kit, BASS_CHANNEL: groove.programs[0], STAB_CHANNEL: groove.programs[1],
                PAD_CHANNEL: groove.programs[2]}
    metre = Metre(groove.beats_per_bar, 4, (groove.beats_per_bar,))
    return pack_midi(notes, metre, quarter_us, programs, bars * bar_ticks)


def _hats(hit, groove: Groove, tick: int, pos: int) -> None:
    """The hi-hats of 16th ``pos``: closed on the chosen grid, open on the off-beat 8ths when ``open_hat``."""
    offbeat = pos % 4 == 2
    if groove.open_hat and offbeat:
        hit(tick, OPEN_HAT, 85)
    elif (groove.hats == "16ths" or (groove.hats == "8ths" and pos % 2 == 0)
          or (groove.hats == "offbeat" and offbeat)):
        hit(tick, HAT, 75 if pos % 2 == 0 else 60)


def random_groove_midi(rng: np.random.Generator, min_length_s: float) -> tuple[mido.MidiFile, dict[str, str]]:
    """A random groove at least ``min_length_s`` seconds long at 85-180 beats a minute: its MIDI and settings for the
    manifest (beats: :func:`model.beat_data.annotations.midi_beats`)."""
    groove = random_groove(rng)
    bpm = float(np.exp(rng.uniform(np.log(85.0), np.log(180.0))))
    bars = int(np.ceil(min_length_s / (groove.beats_per_bar * 60.0 / bpm))) + 1
    settings = {"tempo_bpm": f"{bpm:.1f}", "metre": f"{groove.beats_per_bar}/4",
                "generator": f"electronic {groove.describe()}", "licence": LICENCE}
    return groove_midi(rng, groove, bpm, bars), settings
