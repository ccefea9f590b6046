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
from dataclasses import dataclass
from typing import Literal

import numpy as np

from common.constants import MODEL_SAMPLE_RATE, WINDOW_SAMPLES
from live.audio_file import normalise
from live.audio_input import AudioSource
from live.beat_tracker import BeatTrackerConfig, OnlineBeatTracker
from live.events import BeatTick, Event, StatusEvent, WindowMode
from live.history import AudioHistory
from live.queues import offer_newest
from live.snippets import BEATS_PER_BAR, positions_per_beat
from live.worker import InferenceWorker, WindowJob
from model.retrieval import PoseRetriever

HALF_WINDOW_S = WINDOW_SAMPLES / 2 / MODEL_SAMPLE_RATE


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


class LiveEngine:
    """Headless live engine; see the module docstring."""

    def __init__(self, source: AudioSource, retriever: PoseRetriever, config: EngineConfig = EngineConfig()) -> None:
        self.source = source
        self.config = config
        self.per_beat = positions_per_beat(config.resolution)
        self.events: queue.Queue[Event] = queue.Queue(maxsize=config.events_size)
        self.reader = source.reader(MODEL_SAMPLE_RATE)
        self.tracker = OnlineBeatTracker(MODEL_SAMPLE_RATE, config.tracker)
        self.worker = InferenceWorker(retriever, config.top_k, lambda: self.reader.clock_s, self.events)
        self.encoder_name = retriever.encoder_name
        self._history = AudioHistory(int(config.history_s * MODEL_SAMPLE_RATE))
        self._normaliser = RunningNormaliser(config.norm_time_s, MODEL_SAMPLE_RATE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_position_s = -math.inf
        self._seq = 0
        self._beats = 0
        self._grid_live = False
        self.events_dropped = 0

    # -- control -------------------------------------------------------------------------------------------------
    def start(self, seconds: float | None = None) -> None:
        """Start the source, the worker and the engine thread; stop by itself after ``seconds`` of audio.

        The encoder runs once on silence first, so its one-off start-up costs (lazy imports, JIT, allocator warm-up)
        are not paid on the first beat.
        """
        self.worker.warm_up()
        self.worker.start()
        self.source.start()
        self._emit(StatusEvent(0.0, "started", f"listening to {self.source.name}; encoder {self.encoder_name}, "
                                                f"{self.config.resolution}, {self.config.mode}"))
        self._thread = threading.Thread(target=self._run, args=(seconds,), name="dancepose-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the engine thread, the source and the worker."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the engine to end by itself (source finished or time limit); True if it has."""
        if self._thread is not None:
            self._thread.join(timeout_s)
        return self._thread is None or not self._thread.is_alive()

    # -- the loop ------------------------------------------------------------------------------------------------
    def _run(self, seconds: float | None) -> None:
        try:
            while not self._stop.is_set() and not self.reader.done:
                if seconds is not None and self.reader.clock_s >= seconds:
                    break
                self._step()
        finally:
            self.source.stop()
            self._relay_source_status()
            self.worker.stop()
            self._emit(StatusEvent(self.reader.clock_s, "stopped", f"stopped at {self.reader.clock_s:.2f} s"))

    def _step(self) -> None:
        chunk = self.reader.read(self.config.read_timeout_s)
        self._relay_source_status()
        if len(chunk.samples) == 0:
            return
        self._history.append(chunk.samples)
        self._normaliser.update(chunk.samples)
        for beat in self.tracker.process(chunk.samples):
            self._beats += 1
            self._emit(BeatTick(beat.time_s, beat.reported_s, beat.tempo_bpm))
        self._schedule(chunk.end / MODEL_SAMPLE_RATE)

    def _schedule(self, now_s: float) -> None:
        """Queue a window for every position that became due since the last one served.

        Positions come from the tracker's current grid, which moves as its phase is corrected: scanning from the last
        position served (plus half a step) rather than from the last clock time means a grid that moved back cannot
        skip a position and one that moved forward cannot serve the same position twice. At most one step of
        backlog is served (after start-up or silence there is no burst of stale positions).
        """
        self._note_grid(now_s)
        period = self.tracker.period_s
        if period is None:
            return
        step = period / self.per_beat
        lag = HALF_WINDOW_S if self.config.mode == "centred" else 0.0
        start = max(self._last_position_s + 0.5 * step, now_s - lag - step)
        for position in self.tracker.positions_between(start, now_s - lag, self.per_beat):
            self._last_position_s = float(position)
            job = self._job(float(position), now_s)
            self._seq += 1
            if job is not None:
                self.worker.submit(job)

    def _job(self, position_s: float, now_s: float) -> WindowJob | None:
        step = self.tracker.period_s / self.per_beat
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
            bar_phase=(self._beats % BEATS_PER_BAR) + subdivision / self.per_beat,
            show_at_s=target_s if self.config.mode == "predictive" else end_s,
            tempo_bpm=float(self.tracker.tempo_bpm), window_start_s=end_s - 2 * HALF_WINDOW_S, window_end_s=end_s,
            complete_s=now_s, context_s=context_s, mode=self.config.mode,
        )

    def _subdivision(self, position_s: float, step_s: float) -> int:
        """0 on a beat, else which subdivision of its beat ``position_s`` is."""
        beat_after = self.tracker.next_beat_s(position_s - step_s / 2)
        if beat_after is None:
            return 0
        return round((position_s - beat_after) / step_s) % self.per_beat

    def _note_grid(self, now_s: float) -> None:
        """Tell observers when the beat grid goes (silence: the last pose holds) and comes back."""
        live = self.tracker.next_beat_s(now_s) is not None
        if live == self._grid_live:
            return
        self._grid_live = live
        self._emit(StatusEvent(now_s, "music", f"beats at {self.tracker.tempo_bpm:.1f} BPM") if live else
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
