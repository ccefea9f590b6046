"""``evaluate-dance``: the motion modes judged side by side against real dancers.

1. Each song of a SONGS folder (``NAME.flac`` + ``NAME.beats.txt``) is played through the real live engine
   (:class:`live.file_source.FileSource`, faster than real time) once: every event it emits and the music's level
   (:class:`motion.energy.AudioLevel`, measured on the engine's own 24 kHz chunks every :data:`LEVEL_STEP_S`) are
   logged with the time they arrived on the audio clock (:func:`record_song`). Pose events arrive when they are
   ready (``ready_at_s``), beat ticks when reported.
2. Every motion mode is fed that log at those times and sampled at :data:`SAMPLE_FPS` (:func:`play_log`), as the
   render loop would (through its :class:`~motion.player.MotionPlayer`, :class:`PlayedSource`); the frames become SMPL joint positions on the performer's skeleton (:func:`joint_positions`).
3. The real dances of DANCES (ballroom layout, fitted to SMPL by :mod:`motion.dances`) are split in two halves,
   alternately by name within each style (:func:`split_halves`). Every row is scored against half B by
   :func:`motion.metrics.score_dances` (the song's true beats for BAS): ``real`` is half A itself (the noise floor),
   ``random_clip`` is half A cut at random places into 2-6 s pieces laid end to end, ignoring the music (per song, as
   long as it), and ``graph`` plays a graph built from half A only, so no mode has seen the dances it is scored on.
   The ``real`` row's BAS is over the dances whose music beats are known (their ``.beats.txt``).
4. Each row also gives the peak and the 99.9th percentile of the joint acceleration (m/s^2, second differences at
   :data:`SAMPLE_FPS`): pops at transitions would show there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.constants import MODEL_SAMPLE_RATE
from common.errors import InputError
from motion.frame import MotionFrame
from motion.ik import Skeleton, forward_kinematics, local_matrices
from motion.metrics import DanceClip, resample, score_dances
from motion.source import MotionSource

SAMPLE_FPS = 30.0
"""Rate the pose stream is sampled at (frames per second)."""
LEVEL_STEP_S = 1.0 / 30.0
"""Audio measured per :class:`AudioLevel` (seconds), about one render-loop poll."""
RANDOM_PIECE_S = (2.0, 6.0)
"""Shortest and longest piece (seconds) of the ``random_clip`` baseline."""
METRIC_KEYS: tuple[str, ...] = ("FIDk", "FIDg", "Div_k", "Div_g", "BAS", "foot_skate", "jerk", "freeze")

LogEntry = tuple[float, object]


@dataclass(frozen=True)
class SongRun:
    """One song played through the engine: its ``name``, length ``duration_s`` (seconds), true beats ``beats_s``
    (seconds) and the ``log`` of (arrival time on the audio clock, event), in time order."""

    name: str
    duration_s: float
    beats_s: np.ndarray
    log: tuple[LogEntry, ...]


def list_songs(folder: str | Path) -> list[Path]:
    """The ``NAME.flac`` files of ``folder`` that have a ``NAME.beats.txt`` (name order); InputError when none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "is not a folder of songs (NAME.flac + NAME.beats.txt)")
    songs = [s for s in sorted(folder.glob("*.flac")) if s.with_suffix(".beats.txt").is_file()]
    if not songs:
        raise InputError(folder, "holds no NAME.flac with a NAME.beats.txt beside it")
    return songs


def arrival_s(event: object) -> float:
    """When an engine event reaches an observer, seconds on the audio clock."""
    from live.events import BeatTick, PoseEvent

    if isinstance(event, PoseEvent):
        return event.ready_at_s
    if isinstance(event, BeatTick):
        return event.reported_s
    return float(getattr(event, "at_s", 0.0))


def record_song(song: Path, retriever: object, *, speed: float, keep_audio: bool = False) -> SongRun:
    """Play ``song`` through a :class:`live.engine.LiveEngine` with ``retriever`` at ``speed`` times real time and
    log its events and the music's level (module docstring); with ``keep_audio`` also the engine's 24 kHz chunks (at
    their end on the audio clock), which the ``generate`` mode dances to."""
    from live.engine import LiveEngine
    from live.file_source import FileSource
    from live.queues import drain
    from motion.dances import read_beats
    from motion.energy import LevelMeter

    source = FileSource(song, speed=speed)
    engine = LiveEngine(source, retriever)
    audio = engine.tap_audio(capacity=1 << 16)
    meter = LevelMeter(MODEL_SAMPLE_RATE)
    step = int(LEVEL_STEP_S * MODEL_SAMPLE_RATE)
    log: list[LogEntry] = []
    pending: list = []

    def collect() -> None:
        log.extend((arrival_s(e), e) for e in drain(engine.events))
        for chunk in drain(audio):
            log.extend([(chunk.end / MODEL_SAMPLE_RATE, chunk)] if keep_audio else [])
            pending.append(chunk)
            if pending[-1].end - pending[0].end + len(pending[0].samples) >= step:
                level = meter.measure(pending)
                pending.clear()
                if level is not None:
                    log.append((level.at_s, level))

    retriever.reset()
    engine.start()
    try:
        while not engine.wait(0.05):
            collect()
    finally:
        engine.stop()
    collect()
    log.sort(key=lambda entry: entry[0])
    return SongRun(song.stem, source.duration_s, read_beats(song.with_suffix(".beats.txt")), tuple(log))


def play_log(source: MotionSource, log: Sequence[LogEntry], duration_s: float,
             fps: float = SAMPLE_FPS) -> list[MotionFrame]:
    """``source`` reset, fed ``log`` at its times and sampled at ``fps`` from 0 to ``duration_s`` seconds."""
    source.reset()
    frames, i = [], 0
    for t in np.arange(int(np.floor(duration_s * fps)) + 1) / fps:
        while i < len(log) and log[i][0] <= t:
            source.advance(log[i][0])
            source.on_event(log[i][1], log[i][0])
            i += 1
        source.advance(float(t))
        frames.append(source.frame_at(float(t)))
    return frames


class PlayedSource:
    """A :class:`~motion.player.MotionPlayer` seen as a :class:`~motion.source.MotionSource`, so a mode is scored as
    the render loop shows it (with the player's layers, e.g. groove's idle layer before the first beat);
    ``make_player`` builds a fresh player at each :meth:`reset`."""

    def __init__(self, make_player: Callable[[], object]) -> None:
        self._make_player = make_player
        self.reset()

    @property
    def name(self) -> str:
        return self.player.mode

    def reset(self) -> None:
        self.player = self._make_player()

    def on_event(self, event: object, now_s: float) -> None:
        self.player.apply(event, now_s)

    def advance(self, t_s: float) -> None:
        self.player.source.advance(t_s)

    def frame_at(self, t_s: float) -> MotionFrame:
        return self.player.frame_at(t_s)

    def shown_tag(self, t_s: float) -> int | None:
        return self.player.shown_tag(t_s)


def joint_positions(frames: Sequence[MotionFrame], skeleton: Skeleton) -> np.ndarray:
    """(T, 24, 3) joint positions (metres, Y up) of ``frames`` on ``skeleton``."""
    return np.stack([forward_kinematics(local_matrices(f.rotvecs()), f.root_m, skeleton)[1] for f in frames])


def split_halves(dances: Sequence) -> tuple[list, list]:
    """Dances split alternately by name within each style: (half A, half B)."""
    first, second = [], []
    for style in sorted({d.style for d in dances}):
        for k, dance in enumerate(sorted((d for d in dances if d.style == style), key=lambda d: d.name)):
            (first if k % 2 == 0 else second).append(dance)
    return first, second


def random_clip(pieces: Sequence[np.ndarray], duration_s: float, rng: np.random.Generator,
                fps: float = SAMPLE_FPS) -> np.ndarray:
    """Real motion cut at random: pieces of :data:`RANDOM_PIECE_S` seconds from random places of ``pieces`` ((T, 24,
    3) each, at ``fps``), laid end to end (each moved on the floor to start where the last ended) for ``duration_s``
    seconds: (T', 24, 3)."""
    frames = int(np.floor(duration_s * fps)) + 1
    out: list[np.ndarray] = []
    where = None
    while sum(len(p) for p in out) < frames:
        clip = pieces[rng.integers(len(pieces))]
        length = min(len(clip), int(rng.uniform(*RANDOM_PIECE_S) * fps))
        start = int(rng.integers(0, len(clip) - length + 1))
        piece = clip[start:start + length].copy()
        if where is not None:
            piece[..., [0, 2]] += where - piece[0, 0, [0, 2]]
        where = piece[-1, 0, [0, 2]]
        out.append(piece)
    return np.concatenate(out)[:frames]


def acceleration_peaks(clips: Sequence[DanceClip]) -> tuple[float, float]:
    """(peak, 99.9th percentile) of the joint acceleration (m/s^2) over ``clips``, at :data:`SAMPLE_FPS`."""
    values = []
    for clip in clips:
        p = resample(clip.joints, clip.fps, SAMPLE_FPS)
        values.append(np.linalg.norm(p[2:] - 2 * p[1:-1] + p[:-2], axis=-1).ravel() * SAMPLE_FPS ** 2)
    joined = np.concatenate(values)
    return float(joined.max()), float(np.percentile(joined, 99.9))


def score_row(name: str, clips: Sequence[DanceClip], reference: Sequence[DanceClip]) -> dict:
    """One row of the table: ``motion`` name, the metrics, and the acceleration peaks."""
    scores = score_dances(clips, reference).as_dict()
    peak, p999 = acceleration_peaks(clips)
    return {"motion": name, **scores, "peak_accel": peak, "p999_accel": p999}


@dataclass(frozen=True)
class EvaluationSetup:
    """The modes to play (name -> a factory of a fresh source), the performer's skeleton, the song runs, and the
    reference halves ((A, B) lists of :class:`motion.dances.Dance`)."""

    modes: dict[str, Callable[[], MotionSource]]
    skeleton: Skeleton
    runs: list[SongRun]
    halves: tuple[list, list]


def evaluate(setup: EvaluationSetup, *, seed: int = 0,
             progress: Callable[[str], None] | None = None) -> dict:
    """Every row (``real``, ``random_clip``, then each mode) scored against half B; returns the JSON document."""
    say = progress or (lambda _: None)
    half_a, half_b = setup.halves
    reference = [d.clip() for d in half_b]
    real = score_row("real", [d.clip() for d in half_a], reference)
    with_beats = [d.clip() for d in (*half_a, *half_b) if d.beats_s is not None]
    real["BAS"] = score_dances(with_beats, reference).BAS if with_beats else float("nan")
    rows = [real]
    rng = np.random.default_rng(seed)
    pieces = [resample(d.motion.joints, d.motion.fps, SAMPLE_FPS) for d in half_a]
    rows.append(score_row("random_clip", [DanceClip(random_clip(pieces, r.duration_s, rng), SAMPLE_FPS, r.beats_s)
                                          for r in setup.runs], reference))
    for mode, make in setup.modes.items():
        started = time.perf_counter()
        clips = [DanceClip(joint_positions(play_log(make(), r.log, r.duration_s), setup.skeleton), SAMPLE_FPS,
                           r.beats_s) for r in setup.runs]
        rows.append(score_row(mode, clips, reference))
        say(f"{mode}: {len(clips)} songs played and scored in {time.perf_counter() - started:.0f} s")
    return {
        "rows": rows,
        "songs": [r.name for r in setup.runs],
        "reference_a": [d.name for d in half_a],
        "reference_b": [d.name for d in half_b],
        "sample_fps": SAMPLE_FPS,
    }


def format_table(document: dict) -> str:
    """The rows as a fixed-width text table."""
    keys = (*METRIC_KEYS, "peak_accel", "p999_accel")
    lines = [f"{'motion':<12}" + "".join(f"{k:>11}" for k in keys)]
    for row in document["rows"]:
        lines.append(f"{row['motion']:<12}" + "".join(f"{row[k]:>11.3f}" for k in keys))
    return "\n".join(lines)


def write_json(path: Path, document: dict) -> None:
    """Write ``document`` to ``path`` (NaN written as null), atomically."""
    def clean(value: object) -> object:
        if isinstance(value, float) and not np.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(clean(document), indent=1), encoding="utf-8")
    partial.replace(path)
