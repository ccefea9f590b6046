"""The online beat tracker: the learned back end on injected activations (bars, grid, reset, silence), the cumscore
fallback on click tracks and a real clip, causality, the CLI."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import time

import mir_eval
import numpy as np
import pytest
import soundfile

from common.errors import InputError
from conftest import REPO, click_track
from live.beat_activation import DEFAULT_WEIGHTS
from live.beat_tracker import BeatEvent, BeatTrackerConfig, OnlineBeatTracker
from live.beats_cli import add_beats_command, tracker_config
from synthetic_beats import GridActivation, beat_grid, grid_activations

RATE = 44_100
BLOCK = 512
CUMSCORE = BeatTrackerConfig(backend="cumscore")
LEARNED = BeatTrackerConfig(backend="learned")
needs_weights = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason=f"{DEFAULT_WEIGHTS} is not trained yet")


def feed(tracker: OnlineBeatTracker, samples: np.ndarray, block: int = BLOCK) -> list[BeatEvent]:
    """Feed ``samples`` to ``tracker`` block by block; all its events."""
    return [e for i in range(0, len(samples), block) for e in tracker.process(samples[i : i + block])]


def run(samples: np.ndarray, rate: int = RATE, block: int = BLOCK) -> tuple[OnlineBeatTracker, list[BeatEvent]]:
    """Feed ``samples`` to a fresh cumscore tracker block by block; the tracker and all its events."""
    tracker = OnlineBeatTracker(rate, CUMSCORE)
    return tracker, feed(tracker, samples, block)


def learned_tracker(
    bpm: float, seconds: float, beats_per_bar: int, seed: int = 0
) -> tuple[OnlineBeatTracker, np.ndarray, np.ndarray]:
    """A learned-back-end tracker whose activation is a synthetic beat grid; (tracker, beat times, bar positions)."""
    times, positions = beat_grid(bpm, seconds, beats_per_bar)
    rows = grid_activations(times, positions, seconds, 100.0, np.random.default_rng(seed))
    return OnlineBeatTracker(RATE, LEARNED, activation=GridActivation(rows, RATE)), times, positions


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    """Quiet white noise (not digital silence), float32 at RATE."""
    return (0.01 * np.random.default_rng(seed).standard_normal(int(seconds * RATE))).astype(np.float32)


def test_learned_tracker_reports_beats_with_their_place_in_the_bar() -> None:
    tracker, times, positions = learned_tracker(110.0, 20.0, 3)
    events = feed(tracker, noise(20.0))
    late = [e for e in events if e.time_s > 5.0]
    assert len(late) >= 0.95 * np.count_nonzero(times > 5.0)
    for e in late:
        nearest = np.argmin(np.abs(times - e.time_s))
        assert abs(times[nearest] - e.time_s) <= 0.02
        assert (e.beat_in_bar, e.beats_per_bar, e.is_downbeat) == (positions[nearest], 3, positions[nearest] == 1)
    assert all(0 <= e.reported_s - e.time_s <= 0.03 + BLOCK / RATE for e in events)
    assert tracker.beats_per_bar == 3 and tracker.tempo_bpm == pytest.approx(110.0, rel=0.02)


def test_learned_tracker_predicts_the_grid() -> None:
    tracker, times, _ = learned_tracker(120.0, 20.0, 4)
    feed(tracker, noise(12.2))
    now = tracker.clock_s
    next_beat = tracker.next_beat_s(now)
    assert now < next_beat <= now + tracker.period_s + 0.01
    assert np.abs(times - next_beat).min() <= 0.02
    sixteenths = tracker.positions_between(now, now + 1.0, 4)
    assert len(sixteenths) == 8 and np.allclose(np.diff(sixteenths), 0.125, rtol=0.02)
    assert tracker.beats_per_bar == 4


def test_reset_starts_a_new_stream() -> None:
    tracker, _, _ = learned_tracker(100.0, 10.0, 4)
    audio = noise(10.0)
    first = feed(tracker, audio)
    tracker.reset()
    assert tracker.clock_s == 0.0 and tracker.tempo_bpm is None and tracker.beats_per_bar is None
    assert feed(tracker, audio) == first


def test_silence_resets_the_learned_tracker() -> None:
    tracker, _, _ = learned_tracker(100.0, 10.0, 4)
    feed(tracker, noise(8.0))
    assert tracker.tempo_bpm is not None
    feed(tracker, np.zeros(3 * RATE, np.float32))
    assert tracker.tempo_bpm is None and tracker.beats_per_bar is None and tracker.next_beat_s(11.0) is None


def test_unknown_backend_and_stray_parts_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown beat tracker backend"):
        OnlineBeatTracker(RATE, BeatTrackerConfig(backend="btrack"))
    with pytest.raises(ValueError, match="cumscore"):
        OnlineBeatTracker(RATE, CUMSCORE, activation=GridActivation(np.zeros((1, 2)), RATE))


def test_learned_tracker_does_not_import_aubio() -> None:
    code = (
        "import sys, numpy as np\n"
        "sys.path.insert(0, 'tests')\n"
        "from live.beat_tracker import BeatTrackerConfig, OnlineBeatTracker\n"
        "from synthetic_beats import GridActivation\n"
        "tracker = OnlineBeatTracker(44100, BeatTrackerConfig(backend='learned'),\n"
        "                           activation=GridActivation(np.zeros((10, 2)), 44100))\n"
        "tracker.process(np.zeros(4410, np.float32))\n"
        "assert 'aubio' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


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
    args = parse(["beats", str(path), "--block", "441", "--backend", "cumscore"])
    out = io.StringIO()
    assert args.run(args, out=out) == 0
    lines = out.getvalue().split()
    assert lines and all(len(line.split(".")[1]) == 3 for line in lines)
    times = np.array(lines, float)
    times = times[times <= clicks[-1] + 0.01]  # the grid goes on past the last click
    assert np.abs(times[:, None] - clicks[None, :]).min(axis=1).max() <= 0.02


def test_cli_output_closed_early_is_not_an_error(tmp_path) -> None:
    """``beats SONG | head -1``: the reader closes the pipe before the beats come; exit 0 and nothing on stderr."""
    audio, _ = click_track(120.0, 8.0, RATE)
    path = tmp_path / "clicks.wav"
    soundfile.write(path, audio, RATE)
    proc = subprocess.Popen([sys.executable, str(REPO / "main.py"), "beats", str(path), "--backend", "cumscore"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and err == b"", err.decode()


def test_cli_bad_file_raises_input_error(tmp_path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    args = parse(["beats", str(bad)])
    with pytest.raises(InputError):
        args.run(args, out=io.StringIO())


def test_cli_downbeats_need_a_back_end_with_bars(tmp_path) -> None:
    args = parse(["beats", str(tmp_path / "any.wav"), "--downbeats", "--backend", "cumscore"])
    with pytest.raises(InputError, match="--downbeats"):
        args.run(args, out=io.StringIO())


@needs_weights
def test_cli_prints_beats_and_bar_positions(tmp_path) -> None:
    audio, clicks = click_track(120.0, 12.0, RATE)
    path = tmp_path / "clicks.wav"
    soundfile.write(path, audio, RATE)
    args = parse(["beats", str(path), "--downbeats"])
    out = io.StringIO()
    assert args.run(args, out=out) == 0
    rows = [line.split("\t") for line in out.getvalue().splitlines()]
    assert len(rows) >= 15 and all(len(row) == 2 and len(row[0].split(".")[1]) == 3 for row in rows)
    times = np.array([row[0] for row in rows], float)
    positions = np.array([row[1] for row in rows], int)
    assert np.all(np.diff(times) > 0) and set(positions) <= {1, 2, 3, 4, 5}
    late = times[(times > 4.0) & (times <= clicks[-1] + 0.01)]
    assert np.abs(late[:, None] - clicks[None, :]).min(axis=1).max() <= 0.03


@needs_weights
def test_learned_tracker_gives_no_beats_in_silence() -> None:
    tracker = OnlineBeatTracker(RATE, LEARNED)
    assert feed(tracker, np.zeros(10 * RATE, np.float32)) == []
    assert tracker.tempo_bpm is None and tracker.next_beat_s(5.0) is None and tracker.beats_per_bar is None


@pytest.mark.parametrize("backend", ["cumscore", pytest.param("learned", marks=needs_weights)])
def test_beats_after_a_silent_start_are_on_the_stream_clock(backend: str) -> None:
    """3 s of digital silence reset the back end (at 2 s); the beats of the clicks after it keep the stream's clock."""
    audio, clicks = click_track(120.0, 12.0, RATE)
    tracker = OnlineBeatTracker(RATE, BeatTrackerConfig(backend=backend))
    events = feed(tracker, np.concatenate([np.zeros(3 * RATE, np.float32), audio]))
    late = np.array([e.time_s for e in events if 8.0 < e.time_s < 3.0 + clicks[-1]])
    assert len(late) >= 6
    assert np.abs(late[:, None] - (clicks + 3.0)[None, :]).min(axis=1).max() <= 0.03
    assert all(-1e-9 <= e.reported_s - e.time_s <= 0.1 for e in events)


@pytest.mark.parametrize(("argv", "backend"), [([], "learned"), (["--beat-tracker", "cumscore"], "cumscore"),
                                                (["--beat-tracker", "aubio"], "aubio")])
def test_engine_commands_choose_their_beat_tracker(argv: list[str], backend: str) -> None:
    """``live`` and ``show`` take ``--beat-tracker``; the engine's tracker settings follow it (default learned)."""
    from live.live_cli import add_live_command
    from ui.cli import add_show_options

    commands = argparse.ArgumentParser().add_subparsers(required=True)
    add_live_command(commands)
    show = argparse.ArgumentParser()
    add_show_options(show)
    for args in (commands._name_parser_map["live"].parse_args(argv), show.parse_args(argv)):
        config = tracker_config(args)
        assert config.backend == backend
        OnlineBeatTracker(RATE, config).process(np.zeros(RATE, np.float32))  # each back end builds and runs
