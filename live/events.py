"""What the live engine tells its observers: small immutable events with audio-clock timestamps.

All times are seconds on the audio clock: samples received since the input started divided by the sample rate, so
they are comparable with the music's own beat times.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

WindowMode = Literal["predictive", "centred"]
StatusKind = Literal[
    "started", "stopped", "silence", "music", "encoder-error",
    "input-started", "input-lost", "input-resumed", "input-ended", "input-stopped",
]
"""Engine status kinds; the ``input-*`` ones relay the audio source's own status (see ``live.audio_input``)."""


@dataclass(frozen=True)
class Latency:
    """Where the time went between a position and its pose, in seconds.

    Attributes:
        context_s: from the position to the end of its window (0 in predictive mode, 1.01 s centred).
        queue_s: from the window being complete to the worker taking it.
        rank_s: encoder plus bank search.
    """

    context_s: float
    queue_s: float
    rank_s: float

    @property
    def total_s(self) -> float:
        return self.context_s + self.queue_s + self.rank_s


@dataclass(frozen=True)
class PoseEvent:
    """A pose to show.

    Attributes:
        seq: running number of the position since the engine started (gaps are dropped positions).
        position_s: the beat or subdivision this pose is for.
        subdivision: 0 on a beat, 1..per_beat-1 between beats.
        window_start_s, window_end_s: the audio the encoder heard.
        show_at_s: when to show it (the predicted position time in predictive mode; as soon as ready when centred).
        ready_at_s: when the result was ready.
        indices: bank indices, best first; scores: their scores.
        encoder: which encoder produced it ('edsa', 'reactive').
        mode: the window mode.
        tempo_bpm: the tracker's tempo when the window was cut.
        dropped_before: positions dropped since the previous pose event (the worker could not keep up).
        latency: the parts of the delay.
    """

    seq: int
    position_s: float
    subdivision: int
    window_start_s: float
    window_end_s: float
    show_at_s: float
    ready_at_s: float
    indices: tuple[int, ...]
    scores: tuple[float, ...]
    encoder: str
    mode: WindowMode
    tempo_bpm: float
    dropped_before: int
    latency: Latency

    @property
    def late(self) -> bool:
        """True when the result was ready only after its show time."""
        return self.ready_at_s > self.show_at_s


@dataclass(frozen=True)
class BeatTick:
    """A beat the online tracker reported: ``beat_s`` is the beat, ``reported_s`` when it was known.

    ``beat_in_bar`` (1-based, 1 = downbeat) and ``beats_per_bar`` are the tracker's bar model at this beat; None when
    it has none (trackers without downbeats, a tapped tempo): see :func:`live.snippets.bar_position`.
    """

    beat_s: float
    reported_s: float
    tempo_bpm: float
    beat_in_bar: int | None = None
    beats_per_bar: int | None = None


@dataclass(frozen=True)
class StatusEvent:
    """Something observers should know: input lost or back, silence, encoder errors, dropped positions."""

    at_s: float
    kind: StatusKind
    message: str


Event = PoseEvent | BeatTick | StatusEvent


def event_record(event: Event) -> dict:
    """A JSON-ready dict of an event, with its type under ``"type"``."""
    record = {"type": type(event).__name__} | asdict(event)
    if isinstance(event, PoseEvent):
        record["late"] = event.late
    return record
