"""Exporting a pose stream: SMPL-skeleton BVH that the ``bvh`` package parses and that reads back to the same joint
angles, and an npz of SMPL arrays; bad export paths get one clear line."""

from __future__ import annotations

import numpy as np
import pytest
from bvh import Bvh
from scipy.spatial.transform import Rotation

from common.errors import InputError
from motion.export import export_stream, read_bvh_rotations
from motion.frame import frame_from_rotvecs
from motion.ik import skeleton_of
from motion.source import MotionSetup
from pose_db.body import JOINT_NAMES, load_body


@pytest.fixture(scope="module")
def setup():
    return MotionSetup(np.zeros((0, 24, 3)), skeleton_of(load_body()))


def stream(frames: int = 12):
    """Frames with large, varied rotations (up to 2.5 rad, some near gimbal lock) and a moving root."""
    rng = np.random.default_rng(3)
    rotvecs = rng.normal(0.0, 0.8, (frames, 24, 3))
    rotvecs[0, 5] = [np.pi / 2, 0.0, 0.0]  # ZXY gimbal lock on the knee: X = 90 degrees
    root = np.cumsum(rng.normal(0.0, 0.01, (frames, 3)), axis=0)
    return [frame_from_rotvecs(i / 30, rotvecs[i], root[i]) for i in range(frames)]


def test_bvh_round_trips_joint_angles_and_the_root(tmp_path, setup):
    frames = stream()
    path = tmp_path / "dance.bvh"
    export_stream(path, frames, setup, fps=30.0)
    rotations, root = read_bvh_rotations(path)
    original = np.stack([f.rotvecs() for f in frames])
    angle = (Rotation.from_rotvec(rotations.reshape(-1, 3)).inv() * Rotation.from_rotvec(original.reshape(-1, 3)))
    assert angle.magnitude().max() < 1e-4
    np.testing.assert_allclose(root, setup.skeleton.rest_joints[0] + np.stack([f.root_m for f in frames]), atol=1e-6)


def test_bvh_has_the_smpl_skeleton_a_bvh_reader_expects(tmp_path, setup):
    path = tmp_path / "dance.bvh"
    export_stream(path, stream(5), setup, fps=30.0)
    mocap = Bvh(path.read_text())
    assert mocap.get_joints_names() == [JOINT_NAMES[j] for j in (0, 1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12, 15, 13,
                                                                 16, 18, 20, 22, 14, 17, 19, 21, 23)]
    assert mocap.nframes == 5 and mocap.frame_time == pytest.approx(1 / 30)
    assert mocap.joint_channels("pelvis")[:3] == ["Xposition", "Yposition", "Zposition"]
    knee = np.array(mocap.joint_offset("L_knee")) / 100.0
    np.testing.assert_allclose(knee, setup.skeleton.offsets[JOINT_NAMES.index("L_knee")], atol=1e-6)
    assert mocap.joint_parent("L_wrist").name == "L_elbow"


def test_npz_holds_smpl_pose_root_fps_and_betas(tmp_path, setup):
    frames = stream(7)
    path = tmp_path / "dance.npz"
    export_stream(path, frames, setup, fps=30.0)
    with np.load(path) as data:
        assert data["pose"].shape == (7, 72) and data["root"].shape == (7, 3) and data["betas"].shape == (10,)
        assert float(data["fps"]) == 30.0
        np.testing.assert_allclose(data["pose"][3], frames[3].pose72(), atol=1e-6)


@pytest.mark.parametrize("name, problem", [("dance.mp4", "must be a .bvh or .npz"),
                                           ("missing/dance.bvh", "folder does not exist")])
def test_a_bad_export_path_gets_one_line_and_no_file(tmp_path, setup, name, problem):
    with pytest.raises(InputError, match=problem):
        export_stream(tmp_path / name, stream(2), setup)
    assert list(tmp_path.iterdir()) == []
