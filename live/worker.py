"""The inference worker: one thread that runs the encoder and the bank search on the newest window.

Its inbox holds one window. When a new window arrives before the worker took the last one, the old one is dropped
(newest wins), so a slow encoder never builds up lag; the gap in sequence numbers tells observers how many positions
were dropped. An exception in the encoder is logged, reported as a status event, and the worker goes on with the
next window.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from common.constants import WINDOW_SAMPLES
from live.events import Event, Latency, PoseEvent, StatusEvent, WindowMode
from live.queues import offer_newest
from model.retrieval import PoseRetriever

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WindowJob:
    """One window to rank.

    Attributes:
        seq: consecutive position number (gaps mean dropped positions).
        window: (48480,) float32 read-only samples at 24 kHz, normalised as the encoder expects.
        position_s, subdivision, bar_phase, show_at_s, tempo_bpm: the position it is for (audio clock, seconds;
            bar phase in beats).
        window_start_s, window_end_s: the audio it covers.
        complete_s: audio-clock time at which the window was complete and queued.
        context_s: position-to-window-end delay (0 predictive, 1.01 s centred).
        mode: the window mode.
    """

    seq: int
    window: np.ndarray
    position_s: float
    subdivision: int
    bar_phase: float
    show_at_s: float
    tempo_bpm: float
    window_start_s: float
    window_end_s: float
    complete_s: float
    context_s: float
    mode: WindowMode


class InferenceWorker:
    """Ranks submitted windows on its own thread and puts :class:`PoseEvent` (or error status) on ``events``."""

    def __init__(self, retriever: PoseRetriever, top_k: int, clock_s: Callable[[], float],
                 events: queue.Queue[Event]) -> None:
        """``clock_s`` returns the current audio-clock time in seconds; ``events`` is the engine's bounded output."""
        self.retriever = retriever
        self.top_k = top_k
        self._clock_s = clock_s
        self._events = events
        self._inbox: queue.Queue[WindowJob | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name="dancepose-inference", daemon=True)
        self._last_seq = -1
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def warm_up(self) -> None:
        """Rank one silent window and forget it (call before :meth:`start`)."""
        self.retriever.rank(np.zeros((1, WINDOW_SAMPLES), np.float32), np.zeros(1), self.top_k)
        self.retriever.reset()

    def submit(self, job: WindowJob) -> None:
        """Queue ``job``, replacing a window the worker has not started yet. Never blocks."""
        offer_newest(self._inbox, job)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Finish the window in hand (a queued one is dropped), then stop the thread."""
        offer_newest(self._inbox, None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while (job := self._inbox.get()) is not None:
            started_clock = self._clock_s()
            started = time.perf_counter()
            try:
                ranking = self.retriever.rank(job.window[None, :], np.array([job.bar_phase]), self.top_k)
            except Exception as err:  # the stream must go on whatever the encoder does
                self._report_error(job, err)
                continue
            rank_s = time.perf_counter() - started
            offer_newest(self._events, self._pose_event(job, ranking.indices[0], ranking.scores[0],
                                                        started_clock, self._clock_s(), rank_s))

    def _pose_event(self, job: WindowJob, indices: np.ndarray, scores: np.ndarray, started_clock: float,
                    ready_clock: float, rank_s: float) -> PoseEvent:
        """The event for a ranked job; clock arguments are audio-clock seconds, ``rank_s`` wall seconds."""
        dropped = job.seq - self._last_seq - 1 if self._last_seq >= 0 else 0
        self._last_seq = job.seq
        return PoseEvent(
            seq=job.seq, position_s=job.position_s, subdivision=job.subdivision,
            window_start_s=job.window_start_s, window_end_s=job.window_end_s, show_at_s=job.show_at_s,
            ready_at_s=ready_clock, indices=tuple(int(i) for i in indices),
            scores=tuple(float(s) for s in scores), encoder=self.retriever.encoder_name, mode=job.mode,
            tempo_bpm=job.tempo_bpm, dropped_before=max(dropped, 0),
            latency=Latency(context_s=job.context_s, queue_s=max(started_clock - job.complete_s, 0.0), rank_s=rank_s),
        )

    def _report_error(self, job: WindowJob, err: Exception) -> None:
        self.errors += 1
        log.exception("encoder failed on position %d; worker continues with the next window", job.seq)
        self.retriever.reset()
        offer_newest(self._events, StatusEvent(
            at_s=self._clock_s(), kind="encoder-error",
            message=f"encoder {self.retriever.encoder_name} failed on position {job.seq}: "
                    f"{type(err).__name__}: {err}; worker restarted, stream continues"))
