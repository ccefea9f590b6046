"""Dance metrics (motion/metrics.py) on constructed motion whose true values are known."""

from __future__ import annotations

import numpy as np
import pytest

from motion import metrics
from motion.metrics import DanceClip, score_dances
from pose_db.body import JOINT_NAMES, load_body

FPS = 30.0


@pytest.fixture(scope="module")
def rest() -> np.ndarray:
    """(24, 3) rest joints of the bundled body with its lowest joint on the floor (y = 0)."""
    joints = load_body().forward(np.zeros((1, 72), np.float32)).joints[0].astype(np.float64)
    return joints - [0.0, joints[:, 1].min(), 0.0]


def times(seconds: float, fps: float = FPS) -> np.ndarray:
    return np.arange(int(round(seconds * fps))) / fps


def random_dance(rest: np.ndarray, seed: int, seconds: float = 20.0) -> np.ndarray:
    """(T, 24, 3): every joint swings around its rest place in a random mix of 0.5-3 Hz sinusoids."""
    rng = np.random.default_rng(seed)
    t = times(seconds)
    motion = np.zeros((len(t), 24, 3))
    for _ in range(4):
        amplitude = rng.uniform(0.0, 0.12, (1, 24, 3))
        motion += amplitude * np.sin(2 * np.pi * rng.uniform(0.5, 3.0) * t + rng.uniform(0, 6.3))[:, None, None]
    return rest + motion


def dance_set(rest: np.ndarray, seeds: range) -> list[DanceClip]:
    return [DanceClip(random_dance(rest, s), FPS) for s in seeds]


def test_frozen_body_has_zero_kinetic_energy(rest: np.ndarray) -> None:
    frozen = np.repeat(rest[None], 150, axis=0)
    assert np.array_equal(metrics.kinetic_features(frozen), np.zeros(72, np.float32))


def test_kinetic_features_of_a_glide_are_its_squared_speed(rest: np.ndarray) -> None:
    glide = rest + np.array([0.6, 0.0, 0.8]) * times(5.0)[:, None, None]  # 1 m/s horizontally
    features = metrics.kinetic_features(glide).reshape(24, 3)
    np.testing.assert_allclose(features[:, 0], 1.0, rtol=1e-6)  # horizontal (m/s)^2
    np.testing.assert_allclose(features[:, 1:], 0.0, atol=1e-9)  # no vertical speed, no acceleration


def test_frozen_body_is_far_from_real_motion_in_fidk(rest: np.ndarray) -> None:
    reference = dance_set(rest, range(0, 8))
    other_dancers = score_dances(dance_set(rest, range(8, 16)), reference)
    frozen = score_dances([DanceClip(np.repeat(rest[None], 600, axis=0), FPS)], reference)
    assert frozen.FIDk > 5 * other_dancers.FIDk, (frozen.FIDk, other_dancers.FIDk)
    assert frozen.freeze == 1.0 and other_dancers.freeze == 0.0


def test_fid_of_a_set_against_itself_is_zero(rest: np.ndarray) -> None:
    reference = dance_set(rest, range(0, 8))
    scores = score_dances(reference, reference)
    assert scores.FIDk == pytest.approx(0.0, abs=1e-6) and scores.FIDg == pytest.approx(0.0, abs=1e-6)
    assert scores.Div_k > 1.0  # windows differ


def test_speed_minima_on_the_beats_give_bas_near_one_and_off_beat_near_zero(rest: np.ndarray) -> None:
    beats = np.arange(0.0, 20.0, 0.5)  # 120 bpm
    t = times(20.0)
    on_beat = rest + 0.1 * (1 - np.cos(2 * np.pi * t))[:, None, None]  # speed ~ |sin(2 pi t)|: zero at k / 2 s
    off_beat = rest + 0.1 * (1 - np.cos(2 * np.pi * (t - 0.25)))[:, None, None]
    assert metrics.beat_align_score(on_beat, FPS, beats) > 0.9
    assert metrics.beat_align_score(off_beat, FPS, beats) < 0.1


def test_sliding_planted_foot_is_measured_at_its_true_speed(rest: np.ndarray) -> None:
    t = times(10.0)
    sliding = rest + np.array([0.3, 0.0, 0.0]) * t[:, None, None]  # the whole body glides at 0.3 m/s
    skate, frames = metrics.foot_skate(sliding, FPS)
    assert skate == pytest.approx(0.3, rel=1e-3) and frames == 4 * len(t)
    assert metrics.foot_skate(np.repeat(rest[None], len(t), axis=0), FPS)[0] == pytest.approx(0.0, abs=1e-9)


def test_a_foot_swinging_above_the_floor_is_not_planted(rest: np.ndarray) -> None:
    t = times(4.0)
    motion = np.repeat(rest[None], len(t), axis=0)
    left = [JOINT_NAMES.index("L_ankle"), JOINT_NAMES.index("L_foot")]
    swing = t >= 2.0
    motion[np.ix_(swing, left)] += [0.0, 0.3, 0.0]  # lifted 30 cm for the last 2 s
    contact = metrics.planted(motion, FPS)
    left_columns = [metrics.FOOT_JOINTS.index(j) for j in left]
    right_columns = [c for c in range(4) if c not in left_columns]
    assert contact[~swing].all() and contact[:, right_columns].all()
    assert not contact[np.ix_(swing, left_columns)].any()


def test_jerk_of_a_cubic_path_is_its_third_derivative(rest: np.ndarray) -> None:
    t = times(3.0)
    cubic = rest + np.array([0.0, 0.0, 0.5]) * (t ** 3)[:, None, None]  # d3/dt3 = 3 m/s^3
    assert metrics.jerk(cubic, FPS)[0] == pytest.approx(3.0, rel=1e-6)
    assert metrics.jerk(rest + np.array([1.0, 0, 0]) * t[:, None, None], FPS)[0] == pytest.approx(0.0, abs=1e-6)


def test_freeze_share_counts_still_two_second_windows(rest: np.ndarray) -> None:
    moving = random_dance(rest, seed=3, seconds=6.0)
    still = np.repeat(moving[:1], int(4 * FPS), axis=0)
    frozen = metrics.frozen_windows(np.concatenate([still, moving]), FPS)
    assert frozen.tolist() == [True, True, False, False, False]


def test_resampling_keeps_the_span_and_the_path(rest: np.ndarray) -> None:
    t = np.arange(51) / 25.0  # 2 s at 25 fps
    path = rest + np.array([1.0, 0.0, 0.0]) * t[:, None, None]
    at_30 = metrics.resample(path, 25.0, 30.0)
    assert at_30.shape == (61, 24, 3)
    np.testing.assert_allclose(at_30[:, 0, 0] - rest[0, 0], np.arange(61) / 30.0, atol=1e-9)


def test_geometric_features_see_a_fast_root(rest: np.ndarray) -> None:
    glide = rest + np.array([0.5, 0.0, 0.0]) * times(5.0)[:, None, None]  # above 2.3 humerus lengths / 2 per s
    assert metrics.geometric_features(glide)[-1] == 1.0
    assert metrics.geometric_features(np.repeat(rest[None], 150, axis=0))[-1] == 0.0
