"""Pieces of the ``music21`` corpus (BSD-3 library; its scores are public domain or freely licensed, see music21's
corpus licence notes) written to MIDI at a chosen tempo with random General MIDI instruments.

Beats come from the score's measures and time signatures (music21 knows the beat of 6/8, 9/8, ... and pickup
bars), as quarter-note offsets, converted to seconds through the tempo map of the very MIDI file music21 writes.
Most of these scores have no drums, which is the point: beats carried by harmony and melody alone.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import mido
import numpy as np

from model.beat_data.annotations import BeatGrid, tempo_map, ticks_to_seconds

LICENCE = "music21 corpus (public domain / freely licensed scores)"
# corpus folders used, with sampling weights (renaissance folders without a modern metre are left out)
# (big multi-tune opus files such as essenFolksong take minutes to parse, so they are left out too)
POOLS: dict[str, float] = {"bach": 0.45, "ryansMammoth": 0.3, "classical": 0.15, "monteverdi": 0.1}
_CLASSICAL = ("beethoven", "mozart", "haydn", "schumann_robert", "schumann_clara", "joplin", "schubert", "handel",
              "corelli", "chopin", "cpebach", "weber", "verdi", "beach", "liliuokalani", "johnson_j_r")
PROGRAMS: tuple[int, ...] = (0, 1, 4, 6, 11, 12, 19, 21, 22, 24, 25, 40, 41, 42, 46, 48, 49, 52, 56, 60, 61, 65, 68,
                             70, 71, 73, 74, 105)


@lru_cache(maxsize=1)
def corpus_pools() -> dict[str, tuple[str, ...]]:
    """Corpus file paths (sorted) of each pool of :data:`POOLS`."""
    from music21 import corpus

    pools: dict[str, list[str]] = {name: [] for name in POOLS}
    for path in sorted(str(p) for p in corpus.getPaths()):
        folder = path.split("/corpus/")[1].split("/")[0]
        pool = "classical" if folder in _CLASSICAL else folder
        if pool in pools:
            pools[pool].append(path)
    return {name: tuple(paths) for name, paths in pools.items() if paths}


def first_part(score):  # noqa: ANN001, ANN201 (music21 streams)
    """The first part of a score (the stream itself when it has no parts)."""
    return score.parts[0] if hasattr(score, "parts") and len(score.parts) else score


def score_beats_quarters(score) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001 (music21 Score)
    """Beats of a music21 score (repeats expanded) as (quarter-note offsets (B,), 1-based positions (B,)) from its
    first part's measures: each bar's time signature gives beat length and count; pickup beats are skipped."""
    part = first_part(score)
    offsets: list[float] = []
    positions: list[int] = []
    ts = None
    for measure in part.getElementsByClass("Measure"):
        ts = measure.timeSignature or ts
        if ts is None:
            continue
        beat_q, count = float(ts.beatDuration.quarterLength), int(ts.beatCount)
        if count == 1:  # 3/8, 3/16 ...: music21 counts one beat a bar; count the written note values instead
            beat_q, count = 4.0 / ts.denominator, int(ts.numerator)
        length = float(measure.duration.quarterLength)
        pad = float(measure.paddingLeft or 0.0)
        for k in range(count):
            q = k * beat_q - pad
            if -1e-6 <= q < length - 1e-6:
                offsets.append(float(measure.offset) + q)
                positions.append(k + 1)
    return np.asarray(offsets), np.asarray(positions, dtype=np.int64)


def _pick_score(rng: np.random.Generator):  # noqa: ANN202 (music21 Score)
    """A random score with measures and a time signature (an opus gives one random score of it)."""
    from music21 import converter, stream

    pools = corpus_pools()
    names = sorted(pools)
    weights = np.array([POOLS[n] for n in names])
    for _ in range(20):
        pool = pools[names[int(rng.choice(len(names), p=weights / weights.sum()))]]
        path = pool[int(rng.integers(len(pool)))]
        try:
            parsed = converter.parse(path)
        except Exception:  # noqa: BLE001 (some corpus files do not parse; draw another)
            continue
        if isinstance(parsed, stream.Opus):
            scores = list(parsed.scores)
            if not scores:
                continue
            parsed = scores[int(rng.integers(len(scores)))]
        try:  # music21 expands repeats when it writes MIDI: expand them first so beats and MIDI agree
            parsed = parsed.expandRepeats()
        except Exception:  # noqa: BLE001 (badly formed repeats: draw another)
            continue
        offsets, _ = score_beats_quarters(parsed)
        if len(offsets) >= 24:  # >= 28.8 s at the slowest tempo
            return path, parsed
    raise RuntimeError("no usable music21 corpus score found in 20 draws")


def random_piece(rng: np.random.Generator, min_length_s: float) -> tuple[mido.MidiFile, BeatGrid, dict[str, str]]:
    """A random corpus piece at a random tempo (55-180 beats a minute, slowed if the piece is short, sometimes one
    tempo change) with random instruments: its MIDI, beats and manifest settings."""
    from music21 import tempo

    path, score = _pick_score(rng)
    quarters, positions = score_beats_quarters(score)
    beat_q = float(np.median(np.diff(quarters)))
    bpm = float(np.exp(rng.uniform(np.log(55.0), np.log(180.0))))
    piece_beats = len(quarters)
    bpm = max(50.0, min(bpm, piece_beats * 60.0 / min_length_s))  # long enough when possible
    for mark in list(score.recurse().getElementsByClass(tempo.TempoIndication)):
        mark.activeSite.remove(mark)
    qpm = bpm * beat_q
    target = first_part(score)
    first = target.getElementsByClass("Measure").first()
    first.insert(0, tempo.MetronomeMark(number=qpm, referent=1.0))
    change = ""
    measures = list(target.getElementsByClass("Measure"))
    if rng.random() < 0.2 and len(measures) > 8:
        m = measures[int(rng.integers(len(measures) // 3, 2 * len(measures) // 3))]
        factor = max(float(rng.uniform(0.88, 1.12)), 50.0 / bpm)  # never below 50 beats a minute
        m.insert(0, tempo.MetronomeMark(number=qpm * factor, referent=1.0))
        change = f" tempo_change=x{factor:.3f} at bar {m.number}"
    with tempfile.TemporaryDirectory(prefix="beatdata_m21_") as tmp:
        out = Path(tmp) / "piece.mid"
        score.write("midi", fp=str(out))
        mid = mido.MidiFile(out)
    _set_programs(mid, rng)
    times = ticks_to_seconds(quarters * mid.ticks_per_beat, tempo_map(mid), mid.ticks_per_beat)
    fields = {"tempo_bpm": f"{bpm:.1f}", "metre": first.timeSignature.ratioString if first.timeSignature else "-",
              "generator": f"music21 {path.split('/corpus/')[1]}{change}", "licence": LICENCE}
    return mid, BeatGrid(times, positions), fields


def _set_programs(mid: mido.MidiFile, rng: np.random.Generator) -> None:
    """Give every non-drum channel a random General MIDI program (in place: program changes rewritten)."""
    programs: dict[int, int] = {}
    for track in mid.tracks:
        for i, msg in enumerate(track):
            if msg.type == "program_change" and msg.channel != 9:
                programs.setdefault(msg.channel, int(rng.choice(PROGRAMS)))
                track[i] = msg.copy(program=programs[msg.channel])
