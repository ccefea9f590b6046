"""The rig's pieces that need no network: the audio-clock estimate, the beat follower, the latency settings."""

from __future__ import annotations

import argparse

import pytest

from common.errors import InputError
from live.events import BeatTick, StatusEvent
from rig.beat_follower import BeatFollower
from rig.clock import MAX_LEAD_S, AudioClock
from rig.latency import Latencies, add_latency_options, latencies_from_args, send_time_s


class Steps:
    """An engine clock that moves in blocks, and a wall clock, both set by the test."""

    def __init__(self) -> None:
        self.raw, self.wall = 0.0, 100.0

    def clock(self, speed: float | None) -> AudioClock:
        return AudioClock(lambda: self.raw, speed, lambda: self.wall)


def test_clock_runs_smoothly_between_blocks_at_the_sources_speed():
    steps = Steps()
    clock = steps.clock(2.0)
    steps.wall += 5.0  # start-up work before the first sample: not audio time
    assert clock.now_s() == 0.0
    for block in range(1, 50):  # a 40 ms block of audio every 20 ms, read 0..15 ms late
        steps.wall = 105.0 + 0.02 * block
        clock.now_s()
        steps.raw = 0.04 * block
        steps.wall += 0.001 * (block % 16)
        clock.now_s()
    steps.wall = 105.0 + 0.02 * 49 + 0.01  # half-way to the next block
    assert clock.now_s() == pytest.approx(0.04 * 49 + 0.02, abs=0.002)
    assert clock.wall_s_until(0.04 * 49 + 0.06) == pytest.approx(0.02, abs=0.002)


def test_clock_stops_after_a_stall_and_never_goes_back():
    steps = Steps()
    clock = steps.clock(1.0)
    for block in range(1, 20):
        steps.raw, steps.wall = 0.01 * block, 100.0 + 0.01 * block
        clock.now_s()
    before = clock.now_s()
    steps.wall += 3.0  # the input stalls for 3 s
    held = clock.now_s()
    assert held == pytest.approx(steps.raw + MAX_LEAD_S) and held > before
    steps.raw += 0.01  # it comes back: the missed samples are not on the clock; the estimate waits for it
    assert clock.now_s() == held
    steps.raw += 1.0
    steps.wall += 0.01
    assert clock.now_s() == pytest.approx(steps.raw, abs=0.001)


def test_clock_without_a_speed_is_the_engines_clock():
    steps = Steps()
    clock = steps.clock(None)
    steps.raw = 1.5
    assert clock.now_s() == 1.5 and clock.wall_s_until(1.4) == 0.0 and 0 < clock.wall_s_until(1.6) < 0.01


def tick(beat_s: float, bpm: float = 120.0) -> BeatTick:
    return BeatTick(beat_s, beat_s + 0.02, bpm)


def test_follower_extrapolates_counts_bars_and_phase_from_ticks():
    follower = BeatFollower()
    assert follower.at(1.0) is None
    for n in range(5):
        follower.on_event(tick(1.0 + 0.5 * n))
    position = follower.at(4.25)  # two beats and a half after the last tick (beat 4 at 3.0)
    assert (position.beat, position.phase, position.beat_s) == (6, pytest.approx(0.5), pytest.approx(4.0))
    assert (position.bar, position.beat_in_bar, position.downbeat) == (1, 2, False)
    assert follower.at(3.0).downbeat and follower.at(3.0).beat == 4
    assert follower.beat_time_s(8) == pytest.approx(5.0)
    follower.on_event(StatusEvent(3.5, "silence", "no beats"))
    assert follower.at(4.0) is None and not follower.live
    follower.on_event(tick(10.0, bpm=100.0))  # beat 5: music again, at its own tempo
    assert follower.at(10.6).beat == 6 and follower.tempo_bpm == pytest.approx(100.0)


def bar_tick(beat_s: float, beat_in_bar: int, beats_per_bar: int) -> BeatTick:
    return BeatTick(beat_s, beat_s + 0.02, 120.0, beat_in_bar, beats_per_bar)


@pytest.mark.parametrize(("beats_per_bar", "first_in_bar"), [(3, 2), (5, 4)])
def test_follower_counts_bars_on_the_trackers_downbeats_in_its_metre(beats_per_bar, first_in_bar):
    follower = BeatFollower()
    places = [(first_in_bar - 1 + n) % beats_per_bar for n in range(12)]  # 0-based place in the bar of beat n
    for n in range(4):
        follower.on_event(bar_tick(1.0 + 0.5 * n, places[n] + 1, beats_per_bar))
    positions = [follower.at(1.0 + 0.5 * n + 0.1) for n in range(12)]  # ticked, then extrapolated
    assert [p.beat_in_bar for p in positions] == places
    assert [p.downbeat for p in positions] == [place == 0 for place in places]
    assert {p.beats_per_bar for p in positions} == {beats_per_bar}
    bars = [p.bar for p in positions]  # 0 for the first (partial) bar, one more on each downbeat
    assert bars == [sum(place == 0 for place in places[1 : n + 1]) for n in range(12)]


def test_follower_bar_count_goes_on_through_a_change_of_metre_and_phase():
    follower = BeatFollower()
    for n, (in_bar, per_bar) in enumerate([(1, 4), (2, 4), (3, 4), (4, 4), (1, 3), (2, 3), (2, 3), (3, 3)]):
        follower.on_event(bar_tick(0.5 * n, in_bar, per_bar))
        position = follower.at(0.5 * n)
        assert (position.beat_in_bar, position.beats_per_bar) == (in_bar - 1, per_bar)
        assert position.bar == [0, 0, 0, 0, 1, 1, 2, 2][n]  # a place in the bar that repeats starts a new bar
    assert (follower.at(4.0).bar, follower.at(4.0).downbeat) == (3, True)  # the next downbeat, in 3


def test_latency_moves_send_times_and_is_checked():
    assert send_time_s(10.0, 150.0) == pytest.approx(9.85) and send_time_s(10.0, -200.0) == pytest.approx(10.2)
    parser = argparse.ArgumentParser()
    add_latency_options(parser)
    assert latencies_from_args(parser.parse_args(["--latency-osc-ms", "80", "--latency-midi-ms", "-20"])) == \
        Latencies(screen_ms=0.0, osc_ms=80.0, midi_ms=-20.0)
    for option, value in (("--latency-screen-ms", "-501"), ("--latency-midi-ms", "1000.5"),
                          ("--latency-osc-ms", "nan")):
        with pytest.raises(InputError, match=f"^{option} must be between -500 and 1000 ms"):
            latencies_from_args(parser.parse_args([option, value]))
