"""Pose interpolation between beats: eased per-joint slerp that lands exactly on the beat."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pose_db.animation import MIN_MOVE_S, Choreography, PoseAnimator, ease_in_out, slerp, to_quaternions


def pose_with(joint: int, rotvec: tuple[float, float, float]) -> np.ndarray:
    vector = np.zeros(82, np.float32)
    vector[10 + 3 * joint : 13 + 3 * joint] = rotvec
    return vector


def test_easing_starts_and_lands_at_rest():
    assert ease_in_out(0.0) == 0.0 and ease_in_out(1.0) == 1.0 and ease_in_out(0.5) == 0.5
    assert ease_in_out(1e-3) < 1e-5 and 1 - ease_in_out(1 - 1e-3) < 1e-5  # zero velocity at both ends
    assert ease_in_out(-1.0) == 0.0 and ease_in_out(2.0) == 1.0


def test_slerp_takes_the_short_arc_at_constant_speed():
    q0 = to_quaternions(np.zeros(72))
    q1 = to_quaternions(pose_with(3, (0.0, 0.0, 1.2))[10:])
    half = Rotation.from_quat(slerp(q0, -q1, 0.5)[3]).as_rotvec()  # -q1: same rotation, other hemisphere
    np.testing.assert_allclose(half, [0, 0, 0.6], atol=1e-9)


def test_animator_lands_on_the_beat_and_moves_smoothly():
    target = pose_with(16, (0.0, 0.0, -1.0)) + np.r_[np.ones(10, np.float32), np.zeros(72, np.float32)]
    animator = PoseAnimator()
    animator.move_to(target, start_s=1.0, arrive_s=1.5)
    np.testing.assert_array_equal(animator.sample(0.9), np.zeros(82))
    np.testing.assert_allclose(animator.sample(1.5), target, atol=1e-6)
    angles = [abs(animator.sample(t)[10 + 48 + 2]) for t in np.linspace(1.0, 1.5, 11)]
    assert np.all(np.diff(angles) >= 0) and angles[5] == pytest.approx(0.5, abs=1e-6)
    assert animator.sample(1.25)[0] == pytest.approx(0.5)  # betas linearly, with the same easing


def test_choreography_starts_each_move_when_the_last_lands():
    a, b = pose_with(1, (0.5, 0, 0)), pose_with(1, (-0.5, 0, 0))
    show = Choreography()
    show.add(a, show_at_s=1.0, now_s=0.5, tag=7)
    show.add(b, show_at_s=1.5, now_s=0.6, tag=8)
    show.sample(0.7)
    assert show.shown_tag() is None
    np.testing.assert_allclose(show.sample(1.0), a, atol=1e-6)
    assert show.shown_tag() == 7
    assert -0.5 < show.sample(1.1)[13] < 0.45  # on its way to b, not cut
    np.testing.assert_allclose(show.sample(1.5), b, atol=1e-6)
    assert show.shown_tag() == 8


def test_a_late_pose_glides_in_instead_of_cutting():
    show = Choreography()
    show.add(pose_with(2, (1.0, 0, 0)), show_at_s=1.0, now_s=2.0, tag=1)
    assert show.sample(2.0)[16] == pytest.approx(0.0)
    assert show.sample(2.0 + MIN_MOVE_S)[16] == pytest.approx(1.0)
