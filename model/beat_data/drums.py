"""Synthetic drum grooves written as General MIDI (channel 10) across metres and swing, with an optional bass line.

Metres: 2/4, 3/4, 4/4, 5/4, 7/4 and the compound 6/8, 12/8 (beat = dotted quarter). Each bar is grouped (4 = 2+2,
5 = 3+2 or 2+3, 7 = 2+2+3, ...): kick on group starts, snare on the following beat(s), hi-hat or ride on a
subdivision (1, 2, 3 or 4 a beat) with swing on duplets, random extra kicks and ghost notes, crashes at phrase
starts, fills at phrase ends, human timing jitter of a few milliseconds. The file carries its tempo and time
signature, so :func:`model.beat_data.annotations.midi_beats` reads its exact beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import mido
import numpy as np

from model.beat_data.render import DRUM_CHANNEL

TICKS: int = 480  # per quarter note
KITS: tuple[int, ...] = (0, 8, 16, 24, 25, 32, 40, 48)  # GM2/GS drum kits: standard, room, power, electronic, ...
KICK, SNARE, HAT, OPEN_HAT, RIDE, CRASH, TOMS = 36, 38, 42, 46, 51, 49, (45, 47, 48, 50)  # GM drum notes
BASS_PROGRAMS: tuple[int, ...] = (32, 33, 34, 35, 36, 38)
LICENCE = "generated (project code)"


@dataclass(frozen=True)
class Metre:
    """A time signature ``numerator/denominator`` with its beat grouping (sizes in beats)."""

    numerator: int
    denominator: int
    groups: tuple[int, ...]

    @property
    def compound(self) -> bool:
        """6/8 and 12/8: the beat is a dotted quarter split in three."""
        return self.denominator == 8

    @property
    def beats_per_bar(self) -> int:
        """Annotated beats a bar."""
        return sum(self.groups)

    @property
    def beat_ticks(self) -> int:
        """MIDI ticks per annotated beat."""
        return TICKS * 3 // 2 if self.compound else TICKS * 4 // self.denominator


METRES: tuple[tuple[Metre, float], ...] = (  # (metre, sampling weight)
    (Metre(4, 4, (2, 2)), 0.34), (Metre(3, 4, (3,)), 0.2), (Metre(2, 4, (2,)), 0.1), (Metre(5, 4, (3, 2)), 0.06),
    (Metre(5, 4, (2, 3)), 0.04), (Metre(6, 8, (2,)), 0.12), (Metre(12, 8, (2, 2)), 0.08),
    (Metre(7, 4, (2, 2, 3)), 0.03),
    (Metre(4, 4, (4,)), 0.03),
)


@dataclass(frozen=True)
class DrumStyle:
    """Random choices for one groove: ``subdivision`` hat notes a beat, ``swing`` (0.5 = straight: where the second
    of two subdivisions falls, as a fraction of their span), ``kit`` (GM drum program), ``four_on_floor``,
    ``ride`` (ride instead of hi-hat), ``bass_program`` (None = drums only), ``jitter_ms`` (timing s.d.)."""

    subdivision: int
    swing: float
    kit: int
    four_on_floor: bool
    ride: bool
    bass_program: int | None
    jitter_ms: float

    def describe(self) -> str:
        """A short text for the manifest."""
        bass = "none" if self.bass_program is None else str(self.bass_program)
        return (f"sub={self.subdivision} swing={self.swing:.2f} kit={self.kit} floor={int(self.four_on_floor)} "
                f"ride={int(self.ride)} bass={bass} jitter={self.jitter_ms:.1f}ms")


def random_metre(rng: np.random.Generator) -> Metre:
    """A metre drawn with the weights of :data:`METRES`."""
    weights = np.array([w for _, w in METRES])
    return METRES[int(rng.choice(len(METRES), p=weights / weights.sum()))][0]


def random_style(rng: np.random.Generator, metre: Metre, *, bass: bool = True) -> DrumStyle:
    """Random style choices suited to ``metre`` (a bass line half the time when ``bass``)."""
    subdivision = 3 if metre.compound else int(rng.choice([1, 2, 2, 2, 3, 4, 4]))
    swing = float(rng.uniform(0.55, 0.68)) if subdivision in (2, 4) and rng.random() < 0.35 else 0.5
    kit, floor, ride = int(rng.choice(KITS)), bool(rng.random() < 0.15), bool(rng.random() < 0.2)
    bass_program = int(rng.choice(BASS_PROGRAMS)) if bass and rng.random() < 0.5 else None
    return DrumStyle(subdivision, swing, kit, floor, ride, bass_program, float(rng.uniform(0.0, 6.0)))


def _sub_tick(metre: Metre, style: DrumStyle, beat: int, sub: int) -> int:
    """Tick of subdivision ``sub`` of ``beat`` (from the bar start), swung on pairs."""
    step = metre.beat_ticks / style.subdivision
    pair_pos = sub % 2
    offset = sub * step
    if style.swing != 0.5 and style.subdivision in (2, 4) and pair_pos == 1:
        offset = (sub - 1) * step + 2 * step * style.swing
    return int(round(beat * metre.beat_ticks + offset))


def drum_midi(rng: np.random.Generator, metre: Metre, style: DrumStyle, beat_bpm: float, bars: int) -> mido.MidiFile:
    """A type-0 MIDI file of ``bars`` bars of drums (and bass) at ``beat_bpm`` annotated beats a minute."""
    quarter_us = int(round(60e6 / beat_bpm * TICKS / metre.beat_ticks))
    notes: list[tuple[int, int, int, int, int]] = []  # (tick, channel, note, velocity, length ticks)
    ms_to_ticks = TICKS / (quarter_us / 1000.0)

    def hit(tick: float, note: int, vel: float, channel: int = DRUM_CHANNEL, length: int = TICKS // 8) -> None:
        jitter = rng.normal(0.0, style.jitter_ms) * ms_to_ticks if style.jitter_ms > 0 else 0.0
        notes.append((max(0, int(round(tick + jitter))), channel, note,
                      int(np.clip(vel + rng.normal(0, 6), 1, 127)), length))

    bar_ticks = metre.beats_per_bar * metre.beat_ticks
    phrase = int(rng.choice([4, 8]))
    extra_kick_p = float(rng.uniform(0.0, 0.3))
    ghost_p = float(rng.uniform(0.0, 0.25))
    root = int(rng.integers(28, 40))
    roots = [root + int(rng.choice([0, 0, 5, 7, -2, 3])) for _ in range(phrase)]
    group_starts = np.cumsum((0,) + metre.groups[:-1])
    for bar in range(bars):
        t0 = bar * bar_ticks
        fill = bar % phrase == phrase - 1 and rng.random() < 0.6
        if bar % phrase == 0 and (bar > 0 or rng.random() < 0.5):
            hit(t0, CRASH, 105)
        for beat in range(metre.beats_per_bar):
            in_fill = fill and beat >= metre.beats_per_bar - 1
            group_start = beat in group_starts
            accent = 20 if beat == 0 else 8 if group_start else 0
            if group_start or style.four_on_floor:
                hit(t0 + beat * metre.beat_ticks, KICK, 95 + accent)
            elif not in_fill:
                hit(t0 + beat * metre.beat_ticks, SNARE if metre.beats_per_bar > 1 else KICK, 92)
            for sub in range(style.subdivision):
                tick = t0 + _sub_tick(metre, style, beat, sub)
                if in_fill:
                    hit(tick, TOMS[(sub + beat) % len(TOMS)] if sub else SNARE, 90 + 5 * sub)
                    continue
                cymbal = RIDE if style.ride else (OPEN_HAT if style.four_on_floor and sub == style.subdivision // 2
                                                  and style.subdivision % 2 == 0 else HAT)
                hit(tick, cymbal, (80 if sub == 0 else 62) + accent // 2)
                if sub and rng.random() < extra_kick_p / style.subdivision:
                    hit(tick, KICK, 78)
                if sub and rng.random() < ghost_p / style.subdivision:
                    hit(tick, SNARE, 35)
            if style.bass_program is not None and (group_start or rng.random() < 0.3):
                length = int(metre.beat_ticks * (0.9 if not group_start else 1.6))
                hit(t0 + beat * metre.beat_ticks, roots[bar % phrase] + (7 if not group_start and rng.random() < 0.4
                                                                      else 0), 100, 1, length)
    programs = {DRUM_CHANNEL: style.kit} | ({} if style.bass_program is None else {1: style.bass_program})
    return pack_midi(notes, metre, quarter_us, programs, bars * bar_ticks)


def pack_midi(notes: list[tuple[int, int, int, int, int]], metre: Metre, quarter_us: int, programs: dict[int, int],
              end_tick: int) -> mido.MidiFile:
    """Pack ``notes`` ((tick, channel, note, velocity, length ticks), any order) into a type-0 MIDI file with tempo,
    time signature and ``programs`` (channel -> GM program, the drum kit on the drum channel) at tick 0."""
    events: list[tuple[int, int, mido.Message]] = []
    for tick, ch, note, vel, length in notes:
        events.append((tick, 1, mido.Message("note_on", channel=ch, note=note, velocity=vel)))
        events.append((tick + length, 0, mido.Message("note_off", channel=ch, note=note, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    mid = mido.MidiFile(type=0, ticks_per_beat=TICKS)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=quarter_us, time=0))
    track.append(mido.MetaMessage("time_signature", numerator=metre.numerator, denominator=metre.denominator, time=0))
    for channel, program in sorted(programs.items()):
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    last = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - last)))
    return mid


def random_drums(rng: np.random.Generator, min_length_s: float, *, beat_bpm: float | None = None,
                 metre: Metre | None = None, bass: bool = True) -> tuple[mido.MidiFile, dict[str, str]]:
    """A random drum groove at least ``min_length_s`` seconds long (``beat_bpm``/``metre`` drawn unless given): its
    MIDI and settings for the manifest (beats: :func:`model.beat_data.annotations.midi_beats`)."""
    metre = metre or random_metre(rng)
    bpm = beat_bpm or float(np.exp(rng.uniform(np.log(55.0), np.log(215.0))))
    style = random_style(rng, metre, bass=bass)
    bars = int(np.ceil(min_length_s / (metre.beats_per_bar * 60.0 / bpm))) + 1
    settings = {"tempo_bpm": f"{bpm:.1f}", "metre": f"{metre.numerator}/{metre.denominator}",
                "generator": f"drums {style.describe()}"}
    return drum_midi(rng, metre, style, bpm, bars), settings


def metre_for(beats_per_bar: int, compound: bool) -> Metre:
    """The first metre of :data:`METRES` with that many beats a bar and that beat division."""
    for metre, _ in METRES:
        if metre.beats_per_bar == beats_per_bar and metre.compound == compound:
            return metre
    raise ValueError(f"no drum metre with {beats_per_bar} beats a bar (compound={compound})")
