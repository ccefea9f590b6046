"""``ease``, the baseline motion (ported from the old ``pose_db.animation`` tests): eased per-joint slerp that lands
exactly on the beat, each move starting when the last has landed, a late pose gliding in."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from live.events import BeatTick, Latency, PoseEvent
from motion.ease import MIN_MOVE_S, EaseSource, Move, ease_in_out, slerp, to_quaternions
from motion.ik import skeleton_of
from pose_db.body import JOINT_NAMES, load_body

L_SHOULDER = JOINT_NAMES.index("L_shoulder")


@pytest.fixture(scope="module")
def skeleton():
    return skeleton_of(load_body())


def pose_with(joint: int, rotvec: tuple[float, float, float]) -> np.ndarray:
    pose = np.zeros((24, 3))
    pose[joint] = rotvec
    return pose


def pose_event(index: int, show_at_s: float) -> PoseEvent:
    return PoseEvent(seq=index, position_s=show_at_s, subdivision=0, window_start_s=0.0, window_end_s=0.0,
                     show_at_s=show_at_s, ready_at_s=0.0, indices=(index,), scores=(1.0,), encoder="test",
                     mode="predictive", tempo_bpm=120.0, dropped_before=0, latency=Latency(0.0, 0.0, 0.0))


def test_easing_starts_and_lands_at_rest():
    assert ease_in_out(0.0) == 0.0 and ease_in_out(1.0) == 1.0 and ease_in_out(0.5) == 0.5
    assert ease_in_out(1e-3) < 1e-5 and 1 - ease_in_out(1 - 1e-3) < 1e-5  # zero velocity at both ends
    assert ease_in_out(-1.0) == 0.0 and ease_in_out(2.0) == 1.0


def test_slerp_takes_the_short_arc_at_constant_speed():
    q0 = to_quaternions(np.zeros((24, 3)))
    q1 = to_quaternions(pose_with(3, (0.0, 0.0, 1.2)))
    half = Rotation.from_quat(slerp(q0, -q1, 0.5)[3]).as_rotvec()  # -q1: same rotation, other hemisphere
    np.testing.assert_allclose(half, [0, 0, 0.6], atol=1e-9)


def test_a_move_lands_on_the_beat_and_moves_smoothly():
    target = pose_with(L_SHOULDER, (0.0, 0.0, -1.0))
    move = Move(to_quaternions(np.zeros((24, 3))), to_quaternions(target), start_s=1.0, arrive_s=1.5)

    def rotvecs(t: float) -> np.ndarray:
        return Rotation.from_quat(move.quaternions_at(t)).as_rotvec()

    np.testing.assert_allclose(rotvecs(0.9), np.zeros((24, 3)), atol=1e-12)
    np.testing.assert_allclose(rotvecs(1.5), target, atol=1e-6)
    angles = [abs(rotvecs(t)[L_SHOULDER, 2]) for t in np.linspace(1.0, 1.5, 11)]
    assert np.all(np.diff(angles) >= 0) and angles[5] == pytest.approx(0.5, abs=1e-6)


def test_each_move_starts_when_the_last_lands(skeleton):
    poses = np.stack([pose_with(1, (0.5, 0, 0)), pose_with(1, (-0.5, 0, 0))])
    show = EaseSource(poses, skeleton)
    show.on_event(pose_event(0, 1.0), now_s=0.5)
    show.on_event(pose_event(1, 1.5), now_s=0.6)
    show.advance(0.7)
    assert show.shown_tag(0.7) is None
    show.advance(1.0)
    np.testing.assert_allclose(show.frame_at(1.0).rotvecs(), poses[0], atol=1e-6)
    assert show.shown_tag(1.0) == 0
    show.advance(1.1)
    assert -0.5 < show.frame_at(1.1).rotvecs()[1, 0] < 0.45  # on its way to the second pose, not cut
    show.advance(1.5)
    np.testing.assert_allclose(show.frame_at(1.5).rotvecs(), poses[1], atol=1e-6)
    assert show.shown_tag(1.5) == 1


def test_a_late_pose_glides_in_instead_of_cutting(skeleton):
    show = EaseSource(pose_with(2, (1.0, 0, 0))[None], skeleton)
    show.on_event(pose_event(0, 1.0), now_s=2.0)
    show.advance(2.0)
    assert show.frame_at(2.0).rotvecs()[2, 0] == pytest.approx(0.0)
    show.advance(2.0 + MIN_MOVE_S)
    assert show.frame_at(2.0 + MIN_MOVE_S).rotvecs()[2, 0] == pytest.approx(1.0)


def test_ease_puts_the_feet_on_the_floor_and_reads_the_beat(skeleton):
    crouch = sum(pose_with(j, (1.2, 0, 0)) for j in (4, 5)) + sum(pose_with(j, (-1.0, 0, 0)) for j in (1, 2))
    show = EaseSource(crouch[None], skeleton)
    show.on_event(BeatTick(0.0, 0.05, 120.0), now_s=0.05)
    show.on_event(pose_event(0, 0.5), now_s=0.1)
    show.advance(0.5)
    frame = show.frame_at(0.75)
    assert frame.root_m[1] < -0.05  # a crouch sits lower
    assert frame.beat_phase == pytest.approx(0.5) and frame.bar_phase == pytest.approx(1.5 / 4)
