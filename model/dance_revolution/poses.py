"""Pose representations of the model and the 15 -> 30 fps upsampling of generated dances.

- 2D (``openpose2d``, 50 values): BODY_25 (x, y) in [-1, 1] (x = 2 px / 1280 - 1, y = 2 py / 720 - 1, y down), model
  form root-relative (see :mod:`model.dance_revolution.network`).
- 3D (``smpl6d``, 147 values): root translation (3, metres) then 24 SMPL joint rotations as 6D (the first two
  columns of the rotation matrix, Zhou et al. 2019), which is continuous, unlike axis-angle (a 2 pi wrap) and
  quaternions (a sign flip): an L1 regression target without jumps. :func:`sixd_to_matrix` re-orthogonalises by
  Gram-Schmidt, so any 6 numbers decode to a valid rotation.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

SMPL_JOINTS: int = 24
CANVAS: tuple[int, int] = (1280, 720)
"""Width and height in pixels of the reference's OpenPose coordinates."""
SCORE: float = 0.8
"""Confidence the reference writes for generated keypoints."""


def matrix_to_sixd(matrices: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 6): the first two columns, column-major ``[r00, r10, r20, r01, r11, r21]``."""
    matrices = np.asarray(matrices, np.float64)
    return np.concatenate([matrices[..., :, 0], matrices[..., :, 1]], axis=-1)


def sixd_to_matrix(sixd: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3, 3) rotations (Gram-Schmidt on the two columns, third = cross product)."""
    sixd = np.asarray(sixd, np.float64)
    a, b = sixd[..., :3], sixd[..., 3:]
    x = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-8)
    b = b - (x * b).sum(-1, keepdims=True) * x
    y = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-8)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def smpl_to_vector(pose: np.ndarray, transl: np.ndarray) -> np.ndarray:
    """SMPL pose (T, 72) axis-angle radians and root translation (T, 3) metres -> (T, 147) model vectors."""
    rotations = Rotation.from_rotvec(np.asarray(pose, np.float64).reshape(-1, 3)).as_matrix()
    sixd = matrix_to_sixd(rotations).reshape(len(pose), SMPL_JOINTS * 6)
    return np.concatenate([np.asarray(transl, np.float64), sixd], axis=1).astype(np.float32)


def vector_to_smpl(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 147) model vectors -> SMPL pose (T, 72) axis-angle radians and translation (T, 3) metres."""
    vectors = np.asarray(vectors, np.float64)
    matrices = sixd_to_matrix(vectors[:, 3:].reshape(-1, SMPL_JOINTS, 6))
    pose = Rotation.from_matrix(matrices.reshape(-1, 3, 3)).as_rotvec().reshape(len(vectors), SMPL_JOINTS * 3)
    return pose.astype(np.float32), vectors[:, :3].astype(np.float32)


def double_rate_2d(keypoints: np.ndarray) -> np.ndarray:
    """15 -> 30 fps as the reference (``interpolate_to30fps.py``): f0, mid(f0, f1), f1, ..., f_{T-1}, f_{T-1}.

    Args:
        keypoints: (T, 25, 3) absolute x, y and score.
    Returns:
        (2T, 25, 3): midpoints of every field (x, y and score), the last frame duplicated.
    """
    keypoints = np.asarray(keypoints)
    out = np.repeat(keypoints, 2, axis=0)
    out[1:-1:2] = (keypoints[:-1] + keypoints[1:]) / 2
    return out


def double_rate_smpl(pose: np.ndarray, transl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """15 -> 30 fps for SMPL: slerp halfway for each joint rotation, midpoint for the translation; the last frame
    is duplicated like the 2D path. (T, 72), (T, 3) -> (2T, 72), (2T, 3)."""
    frames = len(pose)
    rotations = Rotation.from_rotvec(np.asarray(pose, np.float64).reshape(frames, SMPL_JOINTS, 3).transpose(1, 0, 2)
                                     .reshape(-1, 3))
    out_pose = np.repeat(np.asarray(pose, np.float64), 2, axis=0)
    if frames > 1:
        halves = []
        for joint in range(SMPL_JOINTS):
            track = rotations[joint * frames : (joint + 1) * frames]
            halves.append(Slerp(np.arange(frames), track)(np.arange(frames - 1) + 0.5).as_rotvec())
        out_pose[1:-1:2] = np.stack(halves, axis=1).reshape(frames - 1, SMPL_JOINTS * 3)
    out_transl = np.repeat(np.asarray(transl, np.float64), 2, axis=0)
    out_transl[1:-1:2] = (transl[:-1] + transl[1:]) / 2
    return out_pose.astype(np.float32), out_transl.astype(np.float32)


def keypoints_from_model(poses: np.ndarray) -> np.ndarray:
    """(T, 50) model-form 2D poses -> (T, 25, 3) absolute x, y in [-1, 1] with the reference's score 0.8."""
    from model.dance_revolution.network import relative_to_absolute

    xy = relative_to_absolute(poses).reshape(len(poses), 25, 2)
    return np.concatenate([xy, np.full((len(poses), 25, 1), SCORE)], axis=2).astype(np.float32)


def to_pixels(keypoints: np.ndarray) -> np.ndarray:
    """(..., 25, 3) [-1, 1] coordinates -> pixels on the 1280 x 720 canvas (score unchanged)."""
    out = np.array(keypoints, np.float64)
    out[..., 0] = (out[..., 0] + 1) / 2 * CANVAS[0]
    out[..., 1] = (out[..., 1] + 1) / 2 * CANVAS[1]
    return out
