"""The online beat tracker: locking on click tracks, predicted subdivisions, a real clip, silence, causality, CLI."""

from __future__ import annotations

import argparse
import io
import time

import mir_eval
import numpy as np
import pytest
import soundfile

from common.errors import InputError
from conftest import click_track
from live.beat_tracker import BeatEvent, OnlineBeatTracker
from live.beats_cli import add_beats_command

RATE = 44_100
BLOCK = 512


def run(samples: np.ndarray, rate: int = RATE, block: int = BLOCK) -> tuple[OnlineBeatTracker, list[BeatEvent]]:
    """Feed ``samples`` to a fresh tracker block by block; the tracker and all its events."""
    tracker = OnlineBeatTracker(rate)
    events = [e for i in range(0, len(samples), block) for e in tracker.process(samples[i : i + block])]
    return tracker, events


@pytest.mark.parametrize("bpm", [120.0, 97.0])
def test_locks_on_click_track(bpm: float) -> None:
    audio, clicks = click_track(bpm, 15.0, RATE)
    tracker, events = run(audio, block=300)
    times = np.array([e.time_s for e in events])
    assert 0 < times[0] <= 3.0
    inside = times[times <= clicks[-1] + 0.01]
    errors = np.abs(inside[:, None] - clicks[None, :]).min(axis=1)
    assert errors.max() <= 0.020
    assert len(inside) == np.count_nonzero(clicks >= times[0] - 0.02)  # no beat missed or doubled
    assert tracker.tempo_bpm == pytest.approx(bpm, rel=0.01)
    assert all(e.tempo_bpm == pytest.approx(bpm, rel=0.01) and 0 <= e.confidence <= 1 for e in events)
    assert all(0 <= e.reported_s - e.time_s <= BLOCK / RATE for e in events)
    assert all(e.is_downbeat is None for e in events)


def test_predicted_positions_follow_tempo_and_phase() -> None:
    bpm = 120.0
    audio, clicks = click_track(bpm, 10.0, RATE)
    tracker, _ = run(audio[: int(8.2 * RATE)])
    now = tracker.clock_s
    period = 60.0 / bpm
    assert tracker.period_s == pytest.approx(period, rel=0.01)
    next_beat = tracker.next_beat_s(now)
    assert now < next_beat <= now + tracker.period_s
    assert np.abs(clicks - next_beat).min() <= 0.02
    for per_beat in (2, 4):
        positions = tracker.positions_between(now, now + 1.0, per_beat)
        assert len(positions) == 2 * per_beat
        assert np.all((positions >= now) & (positions < now + 1.0))
        assert np.allclose(np.diff(positions), period / per_beat, rtol=0.01)
        grid = np.arange(clicks[0], 12.0, period / per_beat)
        assert np.abs(positions[:, None] - grid[None, :]).min(axis=1).max() <= 0.02
    assert tracker.positions_between(now, now - 1.0, 2).size == 0


def test_real_clip_scores_well(shared_dir) -> None:
    clip = shared_dir / "data" / "beats" / "hydrogen_tutorial_georgyporgy.flac"
    samples, rate = soundfile.read(clip, dtype="float32")
    start = time.perf_counter()
    _, events = run(samples, rate=rate)
    assert time.perf_counter() - start < 1.0  # a 30 s clip, well under real time
    reference = np.loadtxt(clip.with_suffix(".beats.txt"))
    estimate = np.array([e.time_s for e in events])
    f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(reference), mir_eval.beat.trim_beats(estimate), 0.07)
    assert f >= 0.9


def test_silence_gives_no_beats_and_no_tempo() -> None:
    tracker, events = run(np.zeros(10 * RATE, np.float32))
    assert events == []
    assert tracker.tempo_bpm is None and tracker.next_beat_s(5.0) is None
    assert tracker.positions_between(0.0, 10.0, 4).size == 0


def test_beats_stop_when_the_input_goes_silent() -> None:
    audio, _ = click_track(120.0, 8.0, RATE)
    _, events = run(np.concatenate([audio, np.zeros(6 * RATE, np.float32)]))
    assert events and max(e.time_s for e in events) < 8.0 + 2.5


def test_output_is_causal_and_block_size_free() -> None:
    audio, _ = click_track(97.0, 12.0, RATE)
    half = 6 * RATE
    _, full = run(audio, block=256)
    _, first_half = run(audio[:half], block=1000)
    assert first_half and first_half == [e for e in full if e.reported_s <= half / RATE]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_beats_command(parser.add_subparsers(required=True))
    return parser.parse_args(argv)


def test_cli_prints_beat_times(tmp_path) -> None:
    audio, clicks = click_track(120.0, 8.0, RATE)
    path = tmp_path / "clicks.wav"
    soundfile.write(path, audio, RATE)
    args = parse(["beats", str(path), "--block", "441"])
    out = io.StringIO()
    assert args.run(args, out=out) == 0
    lines = out.getvalue().split()
    assert lines and all(len(line.split(".")[1]) == 3 for line in lines)
    times = np.array(lines, float)
    times = times[times <= clicks[-1] + 0.01]  # the grid goes on past the last click
    assert np.abs(times[:, None] - clicks[None, :]).min(axis=1).max() <= 0.02


def test_cli_bad_file_raises_input_error(tmp_path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    args = parse(["beats", str(bad)])
    with pytest.raises(InputError):
        args.run(args, out=io.StringIO())
