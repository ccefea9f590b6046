"""``generate``: a trained 3D Dance Revolution model dances live to the engine's audio (``--motion generate
--dance-checkpoint FILE``).

The session posts the engine's 24 kHz audio chunks (:class:`live.ring_buffer.Chunk`, on the audio clock) to the
motion player while the mode is one of :data:`AUDIO_MODES`; :class:`GenerateSource` hands them to a
:class:`DanceWorker` thread, which runs :class:`model.dance_revolution.stream.AudioDancer` (streaming features ->
causal encoder -> one decoder step per 15-fps model frame, torch limited to one thread there: two threads made a step
82 ms instead of 6.5 ms on the loaded 2-core CPU) and hands back keyframes on the audio clock.

The body is shown :attr:`GenerateConfig.delay_s` behind the audio clock (the features need 0.73 s of audio after a
row, :class:`~model.dance_revolution.features.StreamConfig`), slerped between the 15-fps keyframes. When the next
keyframe is not there in time the body holds the last one (a late frame, counted in :class:`GenerateStats`); when
keyframes arrive again the source is blended in from what was shown (inertialization, :mod:`motion.inertialize`), so
the stream never jumps.

:class:`StreamingGenerator` is the frame-by-frame protocol such models follow
(:class:`~model.dance_revolution.stream.StreamingDanceGenerator`).
"""

from __future__ import annotations

import atexit
import bisect
import functools
import queue
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from common.errors import InputError
from live.queues import drain, offer_newest
from live.ring_buffer import Chunk
from motion.cli_options import NO_DANCE_CHECKPOINT
from motion.ease import slerp
from motion.frame import MotionFrame, frame_from_quaternions, rest_frame
from motion.inertialize import DEFAULT_HALFLIFE_S, Blend, capture
from model.dance_revolution.smoothing import LIVE_CUTOFF_HZ

if TYPE_CHECKING:
    from model.dance_revolution.checkpoint import LoadedModel
    from motion.source import MotionSetup

AUDIO_MODES: tuple[str, ...] = ("generate",)
"""Motion modes that are posted the engine's raw audio chunks (besides its events)."""


class StreamingGenerator(Protocol):
    """A generation model run frame by frame: ``features`` (D,) of the music at the frame, ``beat_phase`` in beats
    [0, 1) -> the next :class:`MotionFrame`. Frame-by-frame output equals whole-sequence output."""

    def step(self, features: np.ndarray, beat_phase: float) -> MotionFrame: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class GenerateConfig:
    """Settings of :class:`GenerateSource`.

    Attributes:
        delay_s: seconds the shown dance trails the audio clock: the features' 0.73 s latency plus the work on a
            block of 8 keyframes (measured lag p95 1.1 s on the loaded 2-core CPU,
            ``bench/bench_dance_revolution_live.py``) plus the pose filter's delay (0.3 s at ``smooth_hz`` 0.75).
        halflife_s: half-life (seconds) of the blend when keyframes arrive after a hold.
        smooth_hz: cutoff (Hz) of the causal low-pass over the model's poses
            (:class:`model.dance_revolution.smoothing.CausalSmoother`; chosen on the training dances'
            jerk, :data:`~model.dance_revolution.smoothing.LIVE_CUTOFF_HZ`); its delay (0.30 s at 0.75 Hz) is taken
            off the keyframes' times, so it uses that much of ``delay_s``; 0: none.
        keep_s: seconds of keyframes kept behind the shown time.
        inbox_chunks: capacity of the worker's chunk queue (oldest dropped when full).
        max_gap_s: a hole in the audio up to this long is filled with silence; a longer one restarts the dance.
        seed: seed of the model's initial LSTM states.
        threaded: run the model on a worker thread (live); False: in :meth:`GenerateSource.advance` (tests, replays
            that must be exact).
    """

    delay_s: float = 1.5
    halflife_s: float = DEFAULT_HALFLIFE_S
    smooth_hz: float = LIVE_CUTOFF_HZ
    keep_s: float = 4.0
    inbox_chunks: int = 1024
    max_gap_s: float = 2.0
    seed: int = 0
    threaded: bool = True


@dataclass
class GenerateStats:
    """What a source measured: keyframes received; frames shown (one per advance to a new time) and of those the late
    ones (the body held); milliseconds of work per keyframe (features + model step, per chunk fed); chunks the
    worker's inbox dropped."""

    keyframes: int = 0
    late_frames: int = 0
    shown_frames: int = 0
    work_ms: list[float] = field(default_factory=list)
    dropped_chunks: int = 0


@functools.lru_cache(maxsize=2)
def load_live_model(path: Path) -> LoadedModel:
    """The checkpoint at ``path`` if it can drive the body live (3D, causal); InputError (one line) otherwise."""
    from model.dance_revolution.checkpoint import load_dance_model

    loaded = load_dance_model(path)
    config = loaded.network.config
    if config.pose_kind != "smpl6d":
        raise InputError(path, f"is a 2D ({config.pose_kind}) dance model: it cannot drive the 3D body "
                               f"(train-dance --pose smpl6d --causal)")
    if not config.causal:
        raise InputError(path, "its music encoder looks ahead (not --causal): it cannot dance live")
    return loaded


class ChunkDancer:
    """Engine chunks (on the audio clock, consecutive or with holes) -> keyframes on the audio clock."""

    def __init__(self, loaded: LoadedModel, sample_rate: int, config: GenerateConfig) -> None:
        self.loaded, self.sample_rate, self.config = loaded, sample_rate, config
        self._dancer = None
        self._origin = 0
        self._next = 0
        self._released = False

    def release(self) -> None:
        """Drop the model's stream (its native resampler) for good; later chunks make nothing."""
        self._released, self._dancer = True, None

    def warm_up(self) -> None:
        """Import and compile what the first chunk would (librosa, numba, torch), on a second of silence."""
        from model.dance_revolution.stream import AudioDancer

        self._new_dancer().push(np.zeros(self.sample_rate, np.float32))

    def _new_dancer(self):
        from model.dance_revolution.stream import AudioDancer

        return AudioDancer(self.loaded, self.sample_rate, seed=self.config.seed, smooth_hz=self.config.smooth_hz)

    def feed(self, chunk: Chunk) -> list[MotionFrame]:
        """The keyframes that became final with ``chunk`` (``t_s`` in seconds on the audio clock)."""
        if self._released:
            return []
        samples = chunk.samples
        gap = chunk.start - self._next
        if self._dancer is None or gap > self.config.max_gap_s * self.sample_rate:
            self._dancer = self._new_dancer()
            self._origin, gap = chunk.start, 0
        if gap < 0:  # audio already heard: keep only the new part
            samples = samples[-gap:]
        elif gap > 0:
            samples = np.concatenate([np.zeros(gap, np.float32), samples])
        self._next = max(self._next, chunk.end)
        origin_s = self._origin / self.sample_rate
        return [_shifted(frame, origin_s) for frame in self._dancer.push(samples)] if len(samples) else []


def feed_timed(dancer: ChunkDancer, chunk: Chunk, stats: GenerateStats) -> list[MotionFrame]:
    """``dancer.feed(chunk)``, its milliseconds per keyframe added to ``stats.work_ms``."""
    started = time.perf_counter()
    frames = dancer.feed(chunk)
    if frames:
        stats.work_ms.append(1000.0 * (time.perf_counter() - started) / len(frames))
    return frames


def _shifted(frame: MotionFrame, by_s: float) -> MotionFrame:
    return MotionFrame(frame.t_s + by_s, frame.root_m, frame.global_orient, frame.body_pose, frame.beat_phase,
                       frame.bar_phase)


class DanceWorker:
    """A daemon thread running a :class:`ChunkDancer`: :meth:`post` chunks (never blocks), :meth:`take` keyframes."""

    def __init__(self, dancer: ChunkDancer, stats: GenerateStats, inbox_chunks: int) -> None:
        self.dancer, self.stats = dancer, stats
        self._inbox: queue.Queue[Chunk | None] = queue.Queue(maxsize=inbox_chunks)
        self._outbox: queue.Queue[MotionFrame] = queue.Queue(maxsize=OUTBOX_KEYFRAMES)
        self._stop = threading.Event()
        self.ready = threading.Event()
        """Set once the thread has warmed up (imports, compilation) and takes chunks at full speed."""
        self._thread = threading.Thread(target=self._run, name="dance-generate", daemon=True)
        self._thread.start()
        _WORKERS.add(self)

    def post(self, chunk: Chunk) -> None:
        if self._inbox.full():
            self.stats.dropped_chunks += 1
        offer_newest(self._inbox, chunk)

    def take(self) -> list[MotionFrame]:
        return drain(self._outbox)

    def close(self, join_s: float = 0.0) -> None:
        """Stop the thread (it ends after the chunk in hand); wait up to ``join_s`` seconds for it, and once it has
        ended release the model's stream."""
        self._stop.set()
        offer_newest(self._inbox, None)
        self._thread.join(join_s)
        if not self._thread.is_alive():
            self.dancer.release()

    def _run(self) -> None:
        import torch

        torch.set_num_threads(1)
        self.dancer.warm_up()
        self.ready.set()
        while (chunk := self._inbox.get()) is not None and not self._stop.is_set():
            for frame in feed_timed(self.dancer, chunk, self.stats):
                offer_newest(self._outbox, frame)


OUTBOX_KEYFRAMES = 900
"""Keyframes a worker holds for the render loop (a minute at 15 fps; the oldest dropped when nobody takes them)."""
_WORKERS: weakref.WeakSet[DanceWorker] = weakref.WeakSet()


@atexit.register
def _stop_workers() -> None:
    """At exit, stop the workers still running, so no native stream outlives the interpreter."""
    for worker in list(_WORKERS):
        worker.close(join_s=2.0)


class GenerateSource:
    """The ``generate`` mode (module docstring). Built from ``setup.checkpoint``; InputError without a usable one.

    ``sample_rate``: Hz of the chunks it is posted (the engine's 24 kHz).
    """

    name = "generate"

    def __init__(self, setup: MotionSetup, config: GenerateConfig = GenerateConfig(),
                 sample_rate: int | None = None) -> None:
        from common.constants import MODEL_SAMPLE_RATE

        if setup.checkpoint is None:
            raise InputError(None, NO_DANCE_CHECKPOINT)
        self.loaded = load_live_model(Path(setup.checkpoint))
        self.config = config
        self.sample_rate = sample_rate or MODEL_SAMPLE_RATE
        self.stats = GenerateStats()
        self._worker: DanceWorker | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the audio and the dance (a new worker thread, warming up at once, when threaded)."""
        if self._worker is not None:
            self._worker.close()
        self._dancer = ChunkDancer(self.loaded, self.sample_rate, self.config)
        weakref.finalize(self, self._dancer.release)  # also at exit: no native stream outlives the interpreter
        self._worker = DanceWorker(self._dancer, self.stats, self.config.inbox_chunks) if self.config.threaded \
            else None
        self._pending: list[Chunk] = []
        self._times: list[float] = []
        self._keys: list[np.ndarray] = []  # (24, 4) quaternions per keyframe
        self._roots: list[np.ndarray] = []
        self._blend: Blend | None = None
        self._starved = True
        self._last_t_s = -np.inf

    @property
    def ready(self) -> bool:
        """Whether the model runs at full speed (the worker has warmed up; always, when not threaded)."""
        return self._worker is None or self._worker.ready.is_set()

    def close(self) -> None:
        """Stop the worker thread."""
        if self._worker is not None:
            self._worker.close()

    def on_event(self, event: object, now_s: float) -> None:
        """Audio chunks go to the model; other events do not steer it."""
        if not isinstance(event, Chunk):
            return
        if not self.config.threaded:
            self._pending.append(event)
            return
        self._worker.post(event)

    def advance(self, t_s: float) -> None:
        """Take the keyframes made so far; blend them in if the body was holding; count a late frame when the
        keyframe for ``t_s`` is not there."""
        new = self._keyed(self._take())
        if new:
            if self._starved:
                self._blend = capture(self._frozen_view(), self._view(new), t_s, self.config.halflife_s)
            self._store(new, t_s)
        self._starved = not self._times or self._times[-1] < t_s - self.config.delay_s
        if t_s > self._last_t_s:
            self._last_t_s = t_s
            self.stats.shown_frames += 1
            self.stats.late_frames += int(self._starved and bool(self._times))

    def frame_at(self, t_s: float) -> MotionFrame:
        """The keyframes at ``t_s - delay_s`` (slerped; the last one held), with what is left of a blend (pure)."""
        frame = self._raw_at(self._times, self._keys, self._roots, t_s)
        return frame if self._blend is None else self._blend.apply(frame)

    def shown_tag(self, t_s: float) -> int | None:
        """No bank pose is on show."""
        return None

    # -- internals ---------------------------------------------------------------------------------------------------
    def _take(self) -> list[MotionFrame]:
        if self.config.threaded:
            return [] if self._worker is None else self._worker.take()
        pending, self._pending = self._pending, []
        return [frame for chunk in pending for frame in feed_timed(self._dancer, chunk, self.stats)]

    @staticmethod
    def _keyed(new: list[MotionFrame]) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """New keyframes as (t_s, (24, 4) quaternions, (3,) root)."""
        return [(frame.t_s, frame.quaternions(), frame.root_m) for frame in new]

    def _store(self, new: list[tuple[float, np.ndarray, np.ndarray]], t_s: float) -> None:
        self.stats.keyframes += len(new)
        for time_s, quats, root in new:
            self._times.append(time_s)
            self._keys.append(quats)
            self._roots.append(root)
        keep = bisect.bisect_left(self._times, t_s - self.config.delay_s - self.config.keep_s)
        keep = min(keep, len(self._times) - 2) if len(self._times) > 2 else 0
        del self._times[:keep], self._keys[:keep], self._roots[:keep]

    def _view(self, new: list[tuple[float, np.ndarray, np.ndarray]]):
        """What would be shown with ``new`` keyframes added (no blend)."""
        times = self._times + [k[0] for k in new]
        keys = self._keys + [k[1] for k in new]
        roots = self._roots + [k[2] for k in new]
        return lambda t: self._raw_at(times, keys, roots, t)

    def _frozen_view(self):
        """What is shown now (keyframes and blend as they are), as a function of time."""
        times, keys, roots, blend = list(self._times), list(self._keys), list(self._roots), self._blend

        def shown(t: float) -> MotionFrame:
            frame = self._raw_at(times, keys, roots, t)
            return frame if blend is None else blend.apply(frame)

        return shown

    def _raw_at(self, times: list[float], keys: list[np.ndarray], roots: list[np.ndarray], t_s: float) -> MotionFrame:
        if not times:
            return rest_frame(t_s)
        m = t_s - self.config.delay_s
        i = bisect.bisect_right(times, m)
        if i == 0 or i == len(times):
            j = 0 if i == 0 else len(times) - 1
            return frame_from_quaternions(t_s, keys[j], roots[j])
        u = (m - times[i - 1]) / (times[i] - times[i - 1])
        root = (1.0 - u) * roots[i - 1] + u * roots[i]
        return frame_from_quaternions(t_s, slerp(keys[i - 1], keys[i], u), root)
