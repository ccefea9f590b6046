"""The live engine: audio source -> online beats -> one window per beat position -> worker -> pose events.

It runs headless on its own thread. Observers (the CLI's event writer, the Qt window) read :attr:`LiveEngine.events`,
a bounded queue of frozen events; when an observer falls behind, the oldest events are dropped, never the audio.

Window modes (all times on the audio clock, seconds):

- ``predictive`` (default): when the clock passes position ``p``, the window ending at ``p`` is ranked for the NEXT
  position ``p'`` (from the tracker's tempo and phase), and the pose is shown exactly at ``p'``.
- ``centred``: the paper's window, centred on ``p``; it is complete only at ``p + 1.01 s``, so the pose is late by
  that plus the inference time.

Normalisation: ``running`` (default) divides by running estimates of the stream's mean and variance (exponential,
``norm_time_s``), the live stand-in for the reference's whole-song statistics, which keeps loudness changes; ``window``
normalises each window on its own (what the parity fixture's rows are).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from common.constants import MODEL_SAMPLE_RATE, WINDOW_SAMPLES
from live.audio_file import normalise
from live.audio_input import AudioSource
from live.beat_tracker import BeatTrackerConfig, OnlineBeatTracker
from live.events import BeatTick, Event, StatusEvent, WindowMode
from live.history import AudioHistory
from live.queues import offer_newest
from live.ring_buffer import Chunk
from live.snippets import bar_position, positions_per_beat
from live.worker import InferenceWorker, WindowJob
from model.retrieval import PoseRetriever

HALF_WINDOW_S = WINDOW_SAMPLES / 2 / MODEL_SAMPLE_RATE
COMMANDS_SIZE = 64
"""Capacity of the engine's command queue; a command that does not fit is refused (the call returns False)."""
TAP_GAP_S = 2.0
"""Taps further apart than this (seconds) start a new tap sequence."""
TAPS_NEEDED = 4
"""Taps that set a tempo: their median interval is the beat period, the last tap a beat."""
TAP_BPM_RANGE = (40.0, 240.0)
"""Tapped tempi outside this range (BPM) are ignored."""
WALL_GRACE_S = 5.0
"""A run limited to ``seconds`` of audio also ends after ``seconds / speed + WALL_GRACE_S`` wall-clock seconds, so it
ends even when the input stops delivering audio (a device unplugged for good)."""


@dataclass(frozen=True)
class EngineConfig:
    """Live engine settings.

    Attributes:
        resolution: '4th', '8th' or '16th'.
        mode: 'predictive' or 'centred' (see the module docstring).
        top_k: poses per event.
        normalisation: 'running' or 'window'.
        norm_time_s: time constant of the running statistics, in seconds.
        history_s: seconds of 24 kHz audio kept for cutting windows.
        read_timeout_s: longest wait for new audio in one loop turn.
        events_size: capacity of the observers' event queue.
        tracker: online beat tracker settings.
    """

    resolution: str = "8th"
    mode: WindowMode = "predictive"
    top_k: int = 5
    normalisation: Literal["running", "window"] = "running"
    norm_time_s: float = 10.0
    history_s: float = 6.0
    read_timeout_s: float = 0.02
    events_size: int = 1024
    tracker: BeatTrackerConfig = BeatTrackerConfig()


class RunningNormaliser:
    """Exponentially weighted mean and variance of a stream; normalises windows with them."""

    def __init__(self, time_constant_s: float, sample_rate: int) -> None:
        self._samples_tc = time_constant_s * sample_rate
        self._mean = 0.0
        self._power = 0.0
        self._weight = 0.0

    def update(self, samples: np.ndarray) -> None:
        """Fold in the next samples of the stream (float32, (n,))."""
        if len(samples) == 0:
            return
        keep = math.exp(-len(samples) / self._samples_tc)
        self._mean = keep * self._mean + (1 - keep) * float(samples.mean())
        self._power = keep * self._power + (1 - keep) * float(np.dot(samples, samples) / len(samples))
        self._weight = keep * self._weight + (1 - keep)

    def __call__(self, window: np.ndarray) -> np.ndarray:
        mean = self._mean / self._weight
        var = max(self._power / self._weight - mean * mean, 0.0)
        return ((window - mean) / math.sqrt(var + 1e-7)).astype(np.float32)


class BeatGrid:
    """The tracker's beat grid with the performer's corrections: a phase nudge and a tapped tempo.

    With no correction it is exactly the tracker's grid. ``offset_s`` shifts the tracker's grid later (seconds,
    negative: earlier). After :data:`TAPS_NEEDED` taps the grid is the tapped one (its anchor a tap, its period
    their median interval, plus ``offset_s``), which holds through silence until :meth:`clear`. All times are seconds
    on the audio clock. Used by the engine thread only.
    """

    def __init__(self, tracker: OnlineBeatTracker) -> None:
        self.tracker = tracker
        self.offset_s = 0.0
        self.tapped: tuple[float, float] | None = None
        self._taps: list[float] = []

    @property
    def period_s(self) -> float | None:
        """Beat period in seconds; None without a grid."""
        return self.tapped[1] if self.tapped is not None else self.tracker.period_s

    @property
    def tempo_bpm(self) -> float | None:
        """Tempo in BPM; None without a grid."""
        period = self.period_s
        return None if period is None else 60.0 / period

    def next_beat_s(self, now_s: float) -> float | None:
        """First beat after ``now_s``; None without a live grid."""
        if self.tapped is None:
            beat = self.tracker.next_beat_s(now_s - self.offset_s)
            return None if beat is None else beat + self.offset_s
        anchor, period = self.tapped[0] + self.offset_s, self.tapped[1]
        return anchor + (math.floor((now_s - anchor) / period) + 1) * period

    def positions_between(self, t0_s: float, t1_s: float, per_beat: int) -> np.ndarray:
        """Positions in [t0_s, t1_s) on the grid divided ``per_beat`` times (seconds, ascending)."""
        if self.tapped is None:
            return self.tracker.positions_between(t0_s - self.offset_s, t1_s - self.offset_s, per_beat) + self.offset_s
        if t1_s <= t0_s:
            return np.zeros(0)
        anchor, step = self.tapped[0] + self.offset_s, self.tapped[1] / per_beat
        first, last = math.ceil((t0_s - anchor) / step), math.ceil((t1_s - anchor) / step)
        return anchor + np.arange(first, last) * step

    def tap(self, at_s: float) -> None:
        """A tap at ``at_s``: after enough taps in a row, their tempo and phase become the grid."""
        if self._taps and at_s - self._taps[-1] > TAP_GAP_S:
            self._taps = []
        self._taps.append(at_s)
        if len(self._taps) < TAPS_NEEDED:
            return
        period = float(np.median(np.diff(self._taps[-8:])))
        if TAP_BPM_RANGE[0] <= 60.0 / period <= TAP_BPM_RANGE[1]:
            self.tapped, self.offset_s = (at_s, period), 0.0

    def clear(self) -> None:
        """Back to the tracker's grid, no nudge."""
        self.offset_s, self.tapped, self._taps = 0.0, None, []


class LiveEngine:
    """Headless live engine; see the module docstring."""

    def __init__(self, source: AudioSource, retriever: PoseRetriever, config: EngineConfig = EngineConfig()) -> None:
        self.source = source
        self.config = config
        self.per_beat = positions_per_beat(config.resolution)
        self.events: queue.Queue[Event] = queue.Queue(maxsize=config.events_size)
        self.reader = source.reader(MODEL_SAMPLE_RATE)
        self.tracker = OnlineBeatTracker(MODEL_SAMPLE_RATE, config.tracker)
        self.grid = BeatGrid(self.tracker)
        self._commands: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=COMMANDS_SIZE)
        self._audio_taps: list[queue.Queue[Chunk]] = []
        self.worker = InferenceWorker(retriever, config.top_k, lambda: self.reader.clock_s, self.events)
        self.encoder_name = retriever.encoder_name
        self._history = AudioHistory(int(config.history_s * MODEL_SAMPLE_RATE))
        self._normaliser = RunningNormaliser(config.norm_time_s, MODEL_SAMPLE_RATE)
        self._stop = threading.Event()
        self._finished = threading.Event()  # set by the engine thread once its last event is out
        self._thread: threading.Thread | None = None
        self._last_position_s = -math.inf
        self._seq = 0
        self._beats = 0
        self._last_tick: tuple[int, BeatTick] | None = None  # (its beat number, 0-based; the tick)
        self._grid_live = False
        self.events_dropped = 0

    # -- control -------------------------------------------------------------------------------------------------
    def start(self, seconds: float | None = None) -> None:
        """Start the source, the worker and the engine thread; stop by itself after ``seconds`` of audio (or, when
        the audio stops coming, after ``seconds / source.speed + WALL_GRACE_S`` wall-clock seconds).

        The encoder runs once on silence first, so its one-off start-up costs (lazy imports, JIT, allocator warm-up)
        are not paid on the first beat. When the source cannot start, the worker is stopped again before the error
        propagates.
        """
        self.worker.warm_up()
        self.worker.start()
        try:
            self.source.start()
        except BaseException:
            self.worker.stop()
            raise
        speed = self.source.speed
        wall_limit = None if seconds is None or speed is None else seconds / speed + WALL_GRACE_S
        self._emit(StatusEvent(0.0, "started", f"listening to {self.source.name}; encoder {self.encoder_name}, "
                                                f"{self.config.resolution}, {self.config.mode}"))
        self._thread = threading.Thread(target=self._run, args=(seconds, wall_limit), name="dancepose-engine",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the engine thread, the source and the worker, and wait for them (safe to call more than once)."""
        self._stop.set()
        if self._thread is not None:
            self._finished.wait()
            self._thread.join()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the engine to end by itself (source finished or time limit); True if it has.

        Waits on an event, not on ``Thread.join``: a Ctrl-C that interrupts a join leaves CPython believing the
        thread has ended, so a later :meth:`stop` would not wait for the final events.
        """
        return self._thread is None or self._finished.wait(timeout_s)

    # -- commands (any thread) ---------------------------------------------------------------------------------------
    def set_resolution(self, resolution: str) -> bool:
        """Serve '4th', '8th' or '16th' positions from the next position on. False if the command queue is full."""
        per_beat = positions_per_beat(resolution)
        return self._command(lambda: self._reconfigure(per_beat=per_beat, resolution=resolution))

    def set_top_k(self, top_k: int) -> bool:
        """Poses per event from the next ranking on (``top_k`` >= 1)."""
        if top_k < 1:
            raise ValueError(f"top_k must be positive, got {top_k}")
        return self._command(lambda: self._reconfigure(top_k=top_k))

    def set_mode(self, mode: WindowMode) -> bool:
        """Switch the window mode ('predictive' or 'centred')."""
        if mode not in ("predictive", "centred"):
            raise ValueError(f"unknown window mode {mode!r}")
        return self._command(lambda: self._reconfigure(mode=mode))

    def nudge(self, seconds: float) -> bool:
        """Shift the beat grid by ``seconds`` (positive: later) for when the tracker's phase is wrong."""
        return self._command(lambda: setattr(self.grid, "offset_s", self.grid.offset_s + seconds))

    def tap(self) -> bool:
        """A tap-tempo tap, now on the audio clock (see :class:`BeatGrid`)."""
        at_s = self.reader.clock_s
        return self._command(lambda: self.grid.tap(at_s))

    def clear_taps(self) -> bool:
        """Forget tapped tempo and nudges: follow the tracker again."""
        return self._command(self.grid.clear)

    def tap_audio(self, capacity: int = 4096) -> queue.Queue[Chunk]:
        """A queue that receives every 24 kHz chunk the engine reads from now on (oldest dropped when full).

        Call before :meth:`start` or from the observer's thread; chunks carry their place on the audio clock.
        """
        tap: queue.Queue[Chunk] = queue.Queue(maxsize=capacity)
        self._audio_taps = [*self._audio_taps, tap]
        return tap

    def _command(self, action: Callable[[], None]) -> bool:
        try:
            self._commands.put_nowait(action)
            return True
        except queue.Full:
            return False

    def _reconfigure(self, per_beat: int | None = None, **changes: object) -> None:
        self.config = replace(self.config, **changes)
        self.per_beat = per_beat or self.per_beat
        self.worker.top_k = self.config.top_k

    def _run_commands(self) -> None:
        while True:
            try:
                self._commands.get_nowait()()
            except queue.Empty:
                return

    # -- the loop ------------------------------------------------------------------------------------------------
    def _run(self, seconds: float | None, wall_limit_s: float | None) -> None:
        deadline = math.inf if wall_limit_s is None else time.monotonic() + wall_limit_s
        try:
            while not self._stop.is_set() and not self.reader.done:
                if seconds is not None and self.reader.clock_s >= seconds:
                    break
                if time.monotonic() >= deadline:
                    clock_s = self.reader.clock_s
                    self._emit(StatusEvent(clock_s, "input-timeout",
                                           f"only {clock_s:.2f} s of audio arrived in {wall_limit_s:.1f} s"))
                    break
                self._step()
        finally:
            try:
                self.source.stop()
                self._relay_source_status()
                self.worker.stop()
                self._emit(StatusEvent(self.reader.clock_s, "stopped", f"stopped at {self.reader.clock_s:.2f} s"))
            finally:
                self._finished.set()

    def _step(self) -> None:
        self._run_commands()
        chunk = self.reader.read(self.config.read_timeout_s)
        self._relay_source_status()
        if len(chunk.samples) == 0:
            return
        for tap in self._audio_taps:
            offer_newest(tap, chunk)
        self._history.append(chunk.samples)
        self._normaliser.update(chunk.samples)
        for beat in self.tracker.process(chunk.samples):
            bar = (beat.beat_in_bar, beat.beats_per_bar) if self.grid.tapped is None else (None, None)
            tick = BeatTick(beat.time_s + self.grid.offset_s, beat.reported_s, self.grid.tempo_bpm or beat.tempo_bpm,
                            *bar)
            self._last_tick = (self._beats, tick)
            self._beats += 1
            self._emit(tick)
        self._schedule(chunk.end / MODEL_SAMPLE_RATE)

    def _schedule(self, now_s: float) -> None:
        """Queue a window for every position that became due since the last one served.

        Positions come from the tracker's current grid, which moves as its phase is corrected: scanning from the last
        position served (plus half a step) rather than from the last clock time means a grid that moved back cannot
        skip a position and one that moved forward cannot serve the same position twice. At most one step of
        backlog is served (after start-up or silence there is no burst of stale positions).
        """
        self._note_grid(now_s)
        period = self.grid.period_s
        if period is None:
            return
        step = period / self.per_beat
        lag = HALF_WINDOW_S if self.config.mode == "centred" else 0.0
        start = max(self._last_position_s + 0.5 * step, now_s - lag - step)
        for position in self.grid.positions_between(start, now_s - lag, self.per_beat):
            self._last_position_s = float(position)
            job = self._job(float(position), now_s)
            self._seq += 1
            if job is not None:
                self.worker.submit(job)

    def _job(self, position_s: float, now_s: float) -> WindowJob | None:
        step = self.grid.period_s / self.per_beat
        if self.config.mode == "predictive":
            end_s, target_s, context_s = position_s, position_s + step, 0.0
        else:
            end_s, target_s, context_s = position_s + HALF_WINDOW_S, position_s, HALF_WINDOW_S
        raw = self._history.window(round(end_s * MODEL_SAMPLE_RATE), WINDOW_SAMPLES)
        if raw is None:
            return None
        window = normalise(raw) if self.config.normalisation == "window" else self._normaliser(raw)
        window.flags.writeable = False
        subdivision = self._subdivision(target_s, step)
        return WindowJob(
            seq=self._seq, window=window, position_s=target_s, subdivision=subdivision,
            bar_phase=self._bar_phase(target_s, subdivision),
            show_at_s=target_s if self.config.mode == "predictive" else end_s,
            tempo_bpm=float(self.grid.tempo_bpm), window_start_s=end_s - 2 * HALF_WINDOW_S, window_end_s=end_s,
            complete_s=now_s, context_s=context_s, mode=self.config.mode,
        )

    def _bar_phase(self, position_s: float, subdivision: int) -> float:
        """Position in the bar of the grid position at ``position_s`` (seconds), in beats (0 on the downbeat): whole
        beats counted on the grid from the newest tick, placed in the bar by its bar model (the tracker's downbeats
        and metre; without one, a bar every 4 beats from the first)."""
        fraction = subdivision / self.per_beat
        if self._last_tick is None:
            return float(bar_position(0, fraction)[0])
        number, tick = self._last_tick
        whole = round((position_s - tick.beat_s) / self.grid.period_s - fraction)
        return float(bar_position(number, whole + fraction, tick.beat_in_bar, tick.beats_per_bar)[0])

    def _subdivision(self, position_s: float, step_s: float) -> int:
        """0 on a beat, else which subdivision of its beat ``position_s`` is."""
        beat_after = self.grid.next_beat_s(position_s - step_s / 2)
        if beat_after is None:
            return 0
        return round((position_s - beat_after) / step_s) % self.per_beat

    def _note_grid(self, now_s: float) -> None:
        """Tell observers when the beat grid goes (silence: the last pose holds) and comes back."""
        live = self.grid.next_beat_s(now_s) is not None
        if live == self._grid_live:
            return
        self._grid_live = live
        self._emit(StatusEvent(now_s, "music", f"beats at {self.grid.tempo_bpm:.1f} BPM") if live else
                   StatusEvent(now_s, "silence", "no beats: holding the last pose"))

    def _relay_source_status(self) -> None:
        while True:
            try:
                status = self.source.status.get_nowait()
            except queue.Empty:
                return
            self._emit(StatusEvent(self.reader.clock_s, f"input-{status.kind}", f"{status.source}: {status.detail}"))

    def _emit(self, event: Event) -> None:
        self.events_dropped += offer_newest(self.events, event)
