"""Exact beats and bar positions from a MIDI file's own tempo map and time signatures.

Beats are computed in MIDI ticks on the metrical grid, then converted to seconds through the file's tempo map, so they
are exact for the very file that is rendered (tempo changes included). Convention (madmom's ``.beats``): one beat a
line, ``time_s<TAB>position``, position 1-based in the bar, 1 = downbeat. Compound metres (6/8, 9/8, 12/8) count the
dotted quarter as the beat (2, 3, 4 beats a bar).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import mido
import numpy as np

DEFAULT_TEMPO_US: int = 500_000  # MIDI's default: 120 quarter notes a minute


@dataclass(frozen=True)
class BeatGrid:
    """Beats of one item: ``times_s`` (B,) float64 seconds from the file start, ``positions`` (B,) int 1-based."""

    times_s: np.ndarray
    positions: np.ndarray

    def window(self, start_s: float, end_s: float) -> BeatGrid:
        """The beats in [start_s, end_s), re-timed so that ``start_s`` becomes 0."""
        keep = (self.times_s >= start_s) & (self.times_s < end_s)
        return BeatGrid(self.times_s[keep] - start_s, self.positions[keep])

    def shifted(self, offset_s: float) -> BeatGrid:
        """The same beats ``offset_s`` seconds later."""
        return BeatGrid(self.times_s + offset_s, self.positions)


@dataclass(frozen=True)
class MetreSpan:
    """A constant metre from ``start_tick`` on: beats of ``beat_ticks`` ticks, ``beats_per_bar`` a bar, the first
    beat of the span at position ``first_position`` (1 = the span starts on a bar line)."""

    start_tick: int
    beat_ticks: float
    beats_per_bar: int
    first_position: int = 1


def tempo_map(mid: mido.MidiFile) -> list[tuple[int, int]]:
    """``[(tick, microseconds per quarter), ...]`` sorted by tick, from every track; starts at tick 0."""
    changes: dict[int, int] = {0: DEFAULT_TEMPO_US}
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                changes[tick] = msg.tempo
    return sorted(changes.items())


def ticks_to_seconds(ticks: np.ndarray, tempos: list[tuple[int, int]], ticks_per_beat: int) -> np.ndarray:
    """Seconds (float64, same shape) of absolute ``ticks`` under the tempo map ``tempos`` (see :func:`tempo_map`)."""
    ticks = np.asarray(ticks, dtype=np.float64)
    starts = np.array([t for t, _ in tempos], dtype=np.float64)
    sec_per_tick = np.array([us for _, us in tempos], dtype=np.float64) * 1e-6 / ticks_per_beat
    seg_seconds = np.concatenate([[0.0], np.cumsum(np.diff(starts) * sec_per_tick[:-1])])
    idx = np.searchsorted(starts, ticks, side="right") - 1
    idx = np.clip(idx, 0, len(starts) - 1)
    return seg_seconds[idx] + (ticks - starts[idx]) * sec_per_tick[idx]


def time_signature_spans(mid: mido.MidiFile) -> list[MetreSpan]:
    """Metre spans from the file's time-signature events (4/4 when there is none), each assumed to start on a bar."""
    sigs: dict[int, tuple[int, int]] = {0: (4, 4)}
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "time_signature":
                sigs[tick] = (msg.numerator, msg.denominator)
    spans = []
    for tick, (num, den) in sorted(sigs.items()):
        beat_ticks = mid.ticks_per_beat * 4.0 / den
        beats_per_bar = num
        if den >= 8 and num % 3 == 0 and num > 3:  # compound metre: the dotted note is the beat
            beat_ticks *= 3
            beats_per_bar = num // 3
        spans.append(MetreSpan(tick, beat_ticks, beats_per_bar))
    return spans


def end_tick(mid: mido.MidiFile) -> int:
    """The tick of the last event of the longest track."""
    return max((sum(msg.time for msg in track) for track in mid.tracks), default=0)


def midi_beats(mid: mido.MidiFile, spans: list[MetreSpan] | None = None, until_tick: int | None = None) -> BeatGrid:
    """All beats of ``mid`` before ``until_tick`` (default: the tick of its last event, usually the end of the last
    bar), on the metre ``spans`` (default: from its time signatures), timed through its tempo map."""
    spans = spans if spans is not None else time_signature_spans(mid)
    last = end_tick(mid) if until_tick is None else until_tick
    ticks: list[float] = []
    positions: list[int] = []
    for i, span in enumerate(spans):
        stop = spans[i + 1].start_tick if i + 1 < len(spans) else last
        n = int(np.ceil((stop - span.start_tick) / span.beat_ticks - 1e-9))
        k = np.arange(max(n, 0))
        ticks.extend(span.start_tick + k * span.beat_ticks)
        positions.extend((span.first_position - 1 + k) % span.beats_per_bar + 1)
    tick_arr = np.asarray(ticks, dtype=np.float64)
    keep = tick_arr < last - 1e-9
    times = ticks_to_seconds(tick_arr[keep], tempo_map(mid), mid.ticks_per_beat)
    return BeatGrid(times, np.asarray(positions, dtype=np.int64)[keep])


def format_beats(grid: BeatGrid) -> str:
    """The ``.beats`` text: ``time_s<TAB>position`` a line, time with 4 decimals."""
    return "".join(f"{t:.4f}\t{int(p)}\n" for t, p in zip(grid.times_s, grid.positions, strict=True))


def read_beats(path: str | os.PathLike[str]) -> BeatGrid:
    """Read a ``.beats`` file written by :func:`format_beats`."""
    data = np.loadtxt(path, ndmin=2)
    return BeatGrid(data[:, 0].astype(np.float64), data[:, 1].astype(np.int64))
