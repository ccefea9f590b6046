"""Kinematic descriptors of poses: a few named, interpretable numbers per pose, computed from SMPL joints.

Joints are (N, 24, 3) positions in metres in SMPL's frame (Y up, the body facing +Z, its left along +X), in SMPL
joint order. Before measuring, each pose is put in its own *body frame*: the pelvis at the origin and the heading
removed (turned about Y so that the hip axis, right hip to left hip, points along +X). Heights stay heights, so a
pose and its copy turned to face elsewhere get the same descriptors; a lying or tilted body keeps its tilt.

Columns (``DESCRIPTOR_NAMES``):

=====================  =====  ============================================================================
name                   unit   meaning
=====================  =====  ============================================================================
``arm_height``         m      mean height of the two wrists above their own shoulders (< 0: arms down)
``hand_above_head``    m      height of the higher wrist above the head joint (> 0: a hand raised overhead)
``arm_extension``      m      mean distance of the two wrists from the torso centre (midpoint pelvis-neck)
``leg_extension``      m      mean distance of the two ankles from the torso centre
``stance_width``       m      horizontal (XZ) distance between the ankles
``foot_lift``          m      height of the higher ankle above the lower one (a kick, a step, a leg raise)
``knee_bend``          rad    mean knee flexion, 0 = straight legs (pi minus the hip-knee-ankle angle)
``torso_lean``         rad    angle of the pelvis-to-neck line from vertical, 0 = upright
``asymmetry``          m      mean distance of the joints from their left/right mirror image, halved
=====================  =====  ============================================================================

:func:`pose_joints` turns (N, 82) pose vectors into the joints a body model gives them, fast enough for large banks.
"""

from __future__ import annotations

import numpy as np

from common.constants import NUM_BETAS, NUM_JOINTS, POSE_DIM
from pose_db.body import JOINT_NAMES, BodyModel
from pose_db.body.kinematics import forward_kinematics
from pose_db.mocap.retarget import SMPL_MIRROR
from pose_db.rotations import axis_angle_to_rotmat

DESCRIPTOR_NAMES: tuple[str, ...] = (
    "arm_height", "hand_above_head", "arm_extension", "leg_extension", "stance_width", "foot_lift", "knee_bend",
    "torso_lean", "asymmetry",
)  # fmt: skip
"""Names of the columns of :func:`pose_descriptors`, in order (units in the module docstring)."""

FK_BATCH: int = 16_384
"""Poses per forward-kinematics block in :func:`pose_joints` (bounds its temporary memory, about 30 MB)."""

_J = {name: i for i, name in enumerate(JOINT_NAMES)}
_WRISTS = [_J["L_wrist"], _J["R_wrist"]]
_SHOULDERS = [_J["L_shoulder"], _J["R_shoulder"]]
_ANKLES = [_J["L_ankle"], _J["R_ankle"]]
_KNEES = [_J["L_knee"], _J["R_knee"]]
_HIPS = [_J["L_hip"], _J["R_hip"]]


def body_frame(joints: np.ndarray) -> np.ndarray:
    """(N, 24, 3) joints moved to the body frame: pelvis at the origin, heading removed (hip axis along +X); float64."""
    centred = np.asarray(joints, np.float64) - np.asarray(joints, np.float64)[:, :1]
    hip_axis = centred[:, _J["L_hip"]] - centred[:, _J["R_hip"]]
    heading = np.arctan2(hip_axis[:, 2], hip_axis[:, 0])  # turning by +heading about Y puts the axis on +X
    cos, sin = np.cos(heading)[:, None], np.sin(heading)[:, None]
    turned = centred.copy()
    turned[..., 0] = cos * centred[..., 0] + sin * centred[..., 2]
    turned[..., 2] = -sin * centred[..., 0] + cos * centred[..., 2]
    return turned


def pose_descriptors(joints: np.ndarray) -> np.ndarray:
    """Kinematic descriptors of each pose.

    Args:
        joints: (N, 24, 3) SMPL joint positions in metres (Y up, facing +Z), any root position and heading.

    Returns:
        (N, len(DESCRIPTOR_NAMES)) float32, columns as in ``DESCRIPTOR_NAMES`` (metres or radians).
    """
    body = body_frame(joints)
    height = body[..., 1]
    centre = 0.5 * (body[:, _J["pelvis"]] + body[:, _J["neck"]])
    wrists, ankles = body[:, _WRISTS], body[:, _ANKLES]
    columns = {
        "arm_height": (height[:, _WRISTS] - height[:, _SHOULDERS]).mean(axis=1),
        "hand_above_head": height[:, _WRISTS].max(axis=1) - height[:, _J["head"]],
        "arm_extension": np.linalg.norm(wrists - centre[:, None], axis=-1).mean(axis=1),
        "leg_extension": np.linalg.norm(ankles - centre[:, None], axis=-1).mean(axis=1),
        "stance_width": np.linalg.norm((ankles[:, 0] - ankles[:, 1])[:, [0, 2]], axis=-1),
        "foot_lift": np.abs(height[:, _ANKLES[0]] - height[:, _ANKLES[1]]),
        "knee_bend": np.pi - _angle(body[:, _HIPS] - body[:, _KNEES], ankles - body[:, _KNEES]).mean(axis=1),
        "torso_lean": _angle(body[:, _J["neck"]] - body[:, _J["pelvis"]], np.array([0.0, 1.0, 0.0])),
        "asymmetry": 0.5 * np.linalg.norm(body - _mirrored(body), axis=-1).mean(axis=1),
    }
    return np.stack([columns[name] for name in DESCRIPTOR_NAMES], axis=1).astype(np.float32)


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in radians between vectors ``a`` and ``b`` (..., 3), broadcast; 0 for a zero vector."""
    cos = (a * b).sum(axis=-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def _mirrored(body: np.ndarray) -> np.ndarray:
    """The left/right mirror image of body-frame joints (N, 24, 3): X negated, left and right joints swapped."""
    return body[:, SMPL_MIRROR] * np.array([-1.0, 1.0, 1.0])


def pose_joints(vectors: np.ndarray, body: BodyModel) -> np.ndarray:
    """Joint positions of pose vectors, as ``body.forward(pose, betas).joints`` gives them, without skinning a mesh.

    SMPL's joints are its rest joints, linear in the betas, moved by forward kinematics of the pose: the rest joints
    come from ``body.forward`` once (the mean shape and one unit change per beta), the kinematics run here in NumPy
    in blocks of ``FK_BATCH``, orders of magnitude faster than posing the mesh of every entry.

    Args:
        vectors: (N, 82) pose vectors (10 betas, then 72 axis-angle values in radians).
        body: the body model.

    Returns:
        (N, 24, 3) float32 joint positions in metres (root not translated, as ``BodyModel.forward``).
    """
    rows = np.asarray(vectors).reshape(-1, POSE_DIM)
    basis = body.forward(np.zeros((NUM_BETAS + 1, 3 * NUM_JOINTS), np.float32),
                         np.vstack([np.zeros(NUM_BETAS), np.eye(NUM_BETAS)]).astype(np.float32)).joints
    mean_rest, rest_per_beta = basis[0].astype(np.float64), (basis[1:] - basis[:1]).astype(np.float64)
    out = np.empty((len(rows), NUM_JOINTS, 3), np.float32)
    for start in range(0, len(rows), FK_BATCH):
        block = np.asarray(rows[start : start + FK_BATCH], np.float64)
        rest = mean_rest + np.einsum("nk,kjc->njc", block[:, :NUM_BETAS], rest_per_beta)
        local = axis_angle_to_rotmat(block[:, NUM_BETAS:].reshape(-1, NUM_JOINTS, 3))  # (n,24,3,3)
        out[start : start + FK_BATCH] = forward_kinematics(local, rest)[1]
    return out
