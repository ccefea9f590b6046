"""The default bank's motion sources: BVH parsing, DeepMimic frames, retargeting to SMPL, mirroring, dedup, the bank."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from common.paths import DEFAULT_BANK
from pose_db.bank import PoseBank
from pose_db.body import BodyModel, load_body
from pose_db.mocap.bvh_source import load_bvh
from pose_db.mocap.dedup import select_distinct
from pose_db.mocap.deepmimic_source import FRAME_VALUES, load_deepmimic
from pose_db.mocap.retarget import (
    SMPL_JOINT_NAMES,
    SMPL_MIRROR,
    SMPL_TEMPLATE_JOINTS,
    MotionClip,
    mirror_poses,
    retarget,
    smpl_joint_positions,
)

BVH_DIR = Path("/usr/share/assimp/models/BVH")
BOXING_LEFT_PUNCH_FRAME = 925
"""A frame of Boxing_Toes.bvh (100 fps) at full extension of a left jab."""
J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


def bvh_clip(file: str, target_fps: float | None = None) -> MotionClip:
    path = BVH_DIR / file
    if not path.is_file():
        pytest.skip(f"{path} missing (Debian package assimp-testmodels: `make assets-sources`)")
    return load_bvh(path, name=path.stem, source=file, target_fps=target_fps)


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return load_body()


@pytest.fixture(scope="module")
def boxing() -> MotionClip:
    return bvh_clip("Boxing_Toes.bvh")


def joints_of(body: BodyModel, poses: np.ndarray) -> np.ndarray:
    """(N, 24, 3) body joints in metres for (N, 72) poses."""
    return body.forward(np.asarray(poses, np.float32).reshape(-1, 72)).joints


def deepmimic_frame(tmp_path: Path, **joints: np.ndarray | float) -> MotionClip:
    """A one-frame DeepMimic motion file: identity rotations except the given joints (quaternion w,x,y,z or angle)."""
    layout = {"root": 4, "chest": 8, "neck": 12, "right_knee": 20, "right_shoulder": 25, "left_shoulder": 39}
    frame = np.zeros(FRAME_VALUES)
    frame[[0, 2]] = 1 / 30, 0.9
    frame[[4, 8, 12, 16, 21, 25, 30, 35, 39]] = 1.0  # identity quaternions
    for name, value in joints.items():
        start = layout[name]
        frame[start : start + np.size(value)] = value
    path = tmp_path / "humanoid3d_test.txt"
    path.write_text(json.dumps({"Loop": "none", "Frames": [frame.tolist()]}))
    return load_deepmimic(path, name="test", source="test")


def test_cmu_bvh_parses_at_120_fps_with_31_joints() -> None:
    clip = bvh_clip("01_01.bvh", target_fps=20)
    assert clip.fps == pytest.approx(120.0, abs=0.01)
    assert len(clip.skeleton.names) == 31
    assert clip.frame_ids[:3].tolist() == [0, 6, 12]
    assert clip.local_rotations.shape == (len(clip.frame_ids), 31, 4)


def test_cmu_t_pose_frame_retargets_close_to_smpl_rest() -> None:
    pose = retarget(bvh_clip("01_01.bvh", target_fps=20))[0].reshape(24, 3)
    assert np.linalg.norm(pose, axis=1).max() < 0.3  # radians: every joint within ~17 degrees of SMPL's T-pose
    joints = smpl_joint_positions(pose.reshape(1, 72), SMPL_TEMPLATE_JOINTS)[0]
    assert np.linalg.norm(joints - SMPL_TEMPLATE_JOINTS, axis=1).mean() < 0.04  # metres


def test_boxing_jab_extends_the_left_arm_forward(boxing: MotionClip, body: BodyModel) -> None:
    joints = joints_of(body, retarget(boxing)[BOXING_LEFT_PUNCH_FRAME])[0]
    reach_left = joints[J["L_wrist"], 2] - joints[J["L_shoulder"], 2]
    reach_right = joints[J["R_wrist"], 2] - joints[J["R_shoulder"], 2]
    arm = np.linalg.norm(joints[J["L_wrist"]] - joints[J["L_shoulder"]])
    assert reach_left > 0.8 * arm  # the body faces +Z: the jabbing wrist is far in front of its shoulder
    assert reach_left > reach_right + 0.15


def test_retargeted_poses_face_the_camera(boxing: MotionClip) -> None:
    poses = retarget(boxing)[::300]
    root = Rotation.from_rotvec(poses[:, :3]).as_quat()
    np.testing.assert_allclose(root[:, 1], 0.0, atol=1e-6)  # no twist about Y left: pitch and roll only


def test_deepmimic_rest_hangs_the_arms_and_ignores_heading(tmp_path: Path, body: BodyModel) -> None:
    rest = retarget(deepmimic_frame(tmp_path))
    yawed = Rotation.from_euler("y", 70, degrees=True).as_quat(scalar_first=True)
    turned = retarget(deepmimic_frame(tmp_path, root=yawed))
    np.testing.assert_allclose(turned, rest, atol=1e-5)
    joints = joints_of(body, rest)[0]
    for side in "LR":
        assert joints[J[f"{side}_wrist"], 1] < joints[J[f"{side}_shoulder"], 1] - 0.35  # arms down, not a T-pose
    skeleton = smpl_joint_positions(rest, SMPL_TEMPLATE_JOINTS)[0]  # SMPL's proportions: straight legs hang plumb
    np.testing.assert_allclose(skeleton[J["L_ankle"], [0, 2]], skeleton[J["L_hip"], [0, 2]], atol=0.02)


def test_deepmimic_knee_and_shoulder_signs(tmp_path: Path, body: BodyModel) -> None:
    raised = Rotation.from_euler("x", 90, degrees=True).as_quat(scalar_first=True)  # DeepMimic: +X forward, -Z left
    joints = joints_of(body, retarget(deepmimic_frame(tmp_path, right_knee=-1.2, left_shoulder=raised)))[0]
    assert joints[J["R_ankle"], 2] < joints[J["R_knee"], 2] - 0.2  # a bent knee folds the shin backwards
    assert joints[J["L_wrist"], 0] > joints[J["L_shoulder"], 0] + 0.35  # left arm raised sideways, to SMPL's +X


def test_mirroring_twice_is_identity_and_swaps_sides(boxing: MotionClip, body: BodyModel) -> None:
    poses = retarget(boxing)[::500]
    mirrored = mirror_poses(poses)
    np.testing.assert_allclose(mirror_poses(mirrored), poses, atol=1e-7)
    original, flipped = joints_of(body, poses), joints_of(body, mirrored)
    np.testing.assert_allclose(flipped[:, SMPL_MIRROR, 1], original[:, :, 1], atol=0.01)  # heights swap sides
    assert np.abs(original[:, J["L_wrist"], 1] - original[:, J["R_wrist"], 1]).max() > 0.05  # a real asymmetry


def test_dedup_drops_exact_duplicates_and_keeps_distinct_poses() -> None:
    rng = np.random.default_rng(0)
    distinct = rng.normal(scale=0.3, size=(4, 24, 3))
    joints = np.concatenate([distinct, distinct[[1, 3]], distinct[[0]] + 0.001])
    kept = select_distinct(joints, threshold_m=0.05)
    assert kept.tolist() == [0, 1, 2, 3]


def test_built_bank_opens_and_is_finite() -> None:
    bank = PoseBank.open(DEFAULT_BANK)
    vectors = np.asarray(bank.vectors)
    assert 300 <= len(bank) <= 3000
    assert np.isfinite(vectors).all() and not vectors[:, :10].any()  # zero betas
    provenance = bank.header["created"]["provenance"]
    assert set(bank.sources) <= set(provenance)
    assert any(s.startswith("CMU mocap") for s in bank.sources) and any(s.startswith("DeepMimic") for s in bank.sources)
    assert bank.name(0).count(":f") == 1 and bank.image_path(0).parent == bank.root / "images"
