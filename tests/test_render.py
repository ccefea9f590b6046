"""Off-screen rendering of posed bodies (pyrender, OSMesa without a GPU)."""

from __future__ import annotations

import numpy as np
import pytest

from pose_db.body import JOINT_NAMES, load_body
from pose_db.body.default_body import DEFAULT_BODY_PATH
from pose_db.render import PoseRenderer

SIZE = (160, 128)  # width, height


@pytest.fixture(scope="module")
def renderer():
    with PoseRenderer(load_body(DEFAULT_BODY_PATH), *SIZE) as r:
        yield r


def arm_raised() -> np.ndarray:
    pose = np.zeros(72, np.float32)
    pose[3 * JOINT_NAMES.index("L_shoulder") + 2] = 1.2
    return pose


def test_render_draws_a_body(renderer: PoseRenderer) -> None:
    image = renderer.render_pose(np.zeros(72, np.float32))
    assert image.shape == (SIZE[1], SIZE[0], 3) and image.dtype == np.uint8
    background = image[0, 0].astype(int)
    body = np.abs(image.astype(int) - background).sum(axis=2) > 30
    assert 0.02 < body.mean() < 0.9
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # shaded, not flat


def test_different_poses_give_different_pictures(renderer: PoseRenderer) -> None:
    t_pose = renderer.render_pose(np.zeros(72, np.float32))
    raised = renderer.render_pose(arm_raised())
    changed = np.abs(t_pose.astype(int) - raised.astype(int)).sum(axis=2) > 30
    assert changed.sum() > 100
    assert changed[: SIZE[1] // 3].sum() > 20  # the raised hand shows up in the top third


def test_render_takes_the_82_vector(renderer: PoseRenderer) -> None:
    betas = np.zeros(10, np.float32)
    betas[0] = 1.0
    vector = np.concatenate([betas, arm_raised()])
    np.testing.assert_array_equal(renderer.render(vector), renderer.render_pose(arm_raised(), betas))
