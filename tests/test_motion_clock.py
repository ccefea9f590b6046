"""The motion layer's beat clock reads the bar from the ticks' bar model (the tracker's downbeats and metre), and
without one keeps a bar every 4 beats from the first tick; the motion sources' frames carry it. Synthetic ticks at
explicit times."""

from __future__ import annotations

import numpy as np
import pytest

from live.events import BeatTick
from motion.clock import BeatClock
from motion.ik import skeleton_of
from motion.source import MotionSetup, make_source
from pose_db.body import load_body

BPM = 120.0
PERIOD = 60.0 / BPM


def ticked(places: list[int | None], beats_per_bar: int | None) -> BeatClock:
    """A clock after a tick on each beat k at ``k * PERIOD`` s, beat k at ``places[k]`` (1-based) in its bar."""
    clock = BeatClock()
    for k, place in enumerate(places):
        clock = clock.tick(k * PERIOD, BPM, place, beats_per_bar)
    return clock


@pytest.mark.parametrize(("beats_per_bar", "places"), [(3, [2, 3, 1]), (5, [4, 5])])
def test_bar_phase_follows_the_ticks_downbeats_and_metre(beats_per_bar, places):
    clock = ticked(places, beats_per_bar)
    last = len(places) - 1
    for beats_after in (0.0, 0.5, 1.0, 1.25, 2.0, 3.5, 4.0):  # at the last tick, then extrapolated
        expected = ((places[-1] - 1 + beats_after) % beats_per_bar) / beats_per_bar
        assert clock.bar_phase((last + beats_after) * PERIOD) == pytest.approx(expected, abs=1e-9)
    downbeat_s = (last + beats_per_bar - places[-1] + 1) * PERIOD  # the next downbeat after the last tick
    assert clock.bar_phase(downbeat_s) == pytest.approx(0.0, abs=1e-9)


def test_without_a_bar_model_a_bar_is_4_beats_from_the_first_tick():
    clock = ticked([None, None, None], None)
    phases = [clock.bar_phase(k * PERIOD) for k in range(2, 9)]
    np.testing.assert_allclose(phases, [0.5, 0.75, 0.0, 0.25, 0.5, 0.75, 0.0], atol=1e-9)
    assert BeatClock().bar_phase(1.0) == 0.0  # no grid yet


@pytest.mark.parametrize("mode", ["ease", "groove"])
def test_motion_frames_carry_the_ticks_bar_phase(mode):
    source = make_source(mode, MotionSetup(np.zeros((1, 24, 3)), skeleton_of(load_body())))
    for k, place in enumerate([3, 1, 2]):  # 3/4, the first tick on the third beat of its bar
        source.on_event(BeatTick(k * PERIOD, k * PERIOD + 0.05, BPM, place, 3), now_s=k * PERIOD + 0.05)
    source.advance(2.25)
    assert source.frame_at(1.5).bar_phase == pytest.approx(2 / 3)  # beat 3: the last of its bar
    assert source.frame_at(2.0).bar_phase == pytest.approx(0.0, abs=1e-9)  # beat 4: a downbeat
    assert source.frame_at(2.25).bar_phase == pytest.approx(0.5 / 3)
