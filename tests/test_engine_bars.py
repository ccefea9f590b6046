"""The engine's bar phase follows the tracker's downbeats and metre (3/4, 5/4), and without a bar model keeps a bar
every 4 beats from the first: a fake tracker with an exact grid stands in for the real one, a noise file is played
at four times real time, and each window's bar phase is read where the encoder gets it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import soundfile

from common.constants import MODEL_SAMPLE_RATE
from live.beat_tracker import BeatTrackerConfig
from live.engine import BeatGrid, EngineConfig, LiveEngine
from live.events import BeatTick, PoseEvent
from live.file_source import FileSource
from live.queues import drain
from pose_db.search import TopK

PERIOD_S = 0.5
FIRST_BEAT_S = 0.26
DEADLINE_S = 120.0


@dataclass(frozen=True)
class FakeBeat:
    """A beat as the tracker reports it (the fields the engine reads)."""

    time_s: float
    reported_s: float
    tempo_bpm: float
    confidence: float
    is_downbeat: bool | None
    beat_in_bar: int | None
    beats_per_bar: int | None


class GridTracker:
    """An exact beat grid (a beat every ``PERIOD_S`` from ``FIRST_BEAT_S``), each beat reported in the block it falls
    in; beat ``k`` is ``(first_in_bar - 1 + k) % beats_per_bar + 1`` of its bar, or has no bar model when
    ``beats_per_bar`` is None."""

    def __init__(self, beats_per_bar: int | None, first_in_bar: int = 1) -> None:
        self.beats_per_bar, self.first_in_bar = beats_per_bar, first_in_bar
        self.clock_s, self.reported = 0.0, 0

    @property
    def period_s(self) -> float | None:
        return PERIOD_S if self.reported else None

    def process(self, block: np.ndarray) -> list[FakeBeat]:
        self.clock_s += len(block) / MODEL_SAMPLE_RATE
        beats = []
        while FIRST_BEAT_S + self.reported * PERIOD_S <= self.clock_s:
            beats.append(self._beat(self.reported))
            self.reported += 1
        return beats

    def _beat(self, k: int) -> FakeBeat:
        in_bar = None if self.beats_per_bar is None else (self.first_in_bar - 1 + k) % self.beats_per_bar + 1
        return FakeBeat(FIRST_BEAT_S + k * PERIOD_S, self.clock_s, 60.0 / PERIOD_S, 1.0,
                        None if in_bar is None else in_bar == 1, in_bar, self.beats_per_bar)

    def next_beat_s(self, now_s: float) -> float | None:
        if not self.reported:
            return None
        return FIRST_BEAT_S + (math.floor((now_s - FIRST_BEAT_S) / PERIOD_S) + 1) * PERIOD_S

    def positions_between(self, t0_s: float, t1_s: float, per_beat: int) -> np.ndarray:
        if not self.reported or t1_s <= t0_s:
            return np.zeros(0)
        step = PERIOD_S / per_beat
        first = max(math.ceil((t0_s - FIRST_BEAT_S) / step), 0)
        return FIRST_BEAT_S + np.arange(first, math.ceil((t1_s - FIRST_BEAT_S) / step)) * step


class PhaseRecorder:
    """A stand-in encoder that returns its call number as the best index and keeps the bar phase of each call."""

    encoder_name = "test"

    def __init__(self) -> None:
        self.bar_phases: list[float] = []

    def rank(self, windows: np.ndarray, bar_phase: np.ndarray, k: int) -> TopK:
        self.bar_phases.append(float(bar_phase[0]))
        call = len(self.bar_phases) - 1
        return TopK(indices=np.arange(call, call + k)[None, :], scores=np.zeros((1, k), np.float32))

    def reset(self) -> None:
        """Stateless."""


def play(tmp_path, tracker: GridTracker, **config) -> tuple[list, list[tuple[PoseEvent, float]]]:
    """Noise played through an engine that follows ``tracker``: (events, (pose event, its window's bar phase))."""
    path = tmp_path / "noise.wav"
    soundfile.write(path, 0.1 * np.random.default_rng(0).standard_normal(8 * MODEL_SAMPLE_RATE), MODEL_SAMPLE_RATE)
    recorder = PhaseRecorder()
    engine = LiveEngine(FileSource(path, speed=4.0), recorder,
                        EngineConfig(tracker=BeatTrackerConfig(backend="cumscore"), **config))
    engine.tracker, engine.grid = tracker, BeatGrid(tracker)  # replaced before the engine thread starts
    engine.start()
    assert engine.wait(DEADLINE_S), f"waited {DEADLINE_S:.0f} s for the engine to finish"
    events = drain(engine.events)
    poses = [e for e in events if isinstance(e, PoseEvent)]
    assert len(poses) > 10, f"only {len(poses)} poses"
    return events, [(e, recorder.bar_phases[e.indices[0]]) for e in poses]


def expected_bar_phase(event: PoseEvent, per_beat: int, beats_per_bar: int, first_in_bar: int) -> float:
    fraction = event.subdivision / per_beat
    beat = round((event.position_s - FIRST_BEAT_S) / PERIOD_S - fraction)
    return (first_in_bar - 1 + beat) % beats_per_bar + fraction


@pytest.mark.parametrize(("beats_per_bar", "first_in_bar", "mode"), [(3, 2, "predictive"), (5, 4, "predictive"),
                                                                      (3, 3, "centred")])
def test_window_bar_phase_follows_the_trackers_downbeats_and_metre(tmp_path, beats_per_bar, first_in_bar, mode):
    events, shown = play(tmp_path, GridTracker(beats_per_bar, first_in_bar), resolution="8th", mode=mode)
    for event, bar_phase in shown:
        assert bar_phase == pytest.approx(expected_bar_phase(event, 2, beats_per_bar, first_in_bar)), event
    assert {round(2 * phase) / 2 for _, phase in shown} == {n / 2 for n in range(2 * beats_per_bar)}
    ticks = [e for e in events if isinstance(e, BeatTick)]
    assert [t.beat_in_bar for t in ticks[:6]] == [(first_in_bar - 1 + k) % beats_per_bar + 1 for k in range(6)]
    assert {t.beats_per_bar for t in ticks} == {beats_per_bar}


def test_without_a_bar_model_a_bar_is_4_beats_from_the_first(tmp_path):
    events, shown = play(tmp_path, GridTracker(None), resolution="4th")
    for event, bar_phase in shown:
        assert bar_phase == expected_bar_phase(event, 1, 4, 1), event
    ticks = [e for e in events if isinstance(e, BeatTick)]
    assert ticks and all(t.beat_in_bar is None and t.beats_per_bar is None for t in ticks)
