"""One instant of the pose stream: :class:`MotionFrame`, named fields with units, and its conversions.

Rotations are axis-angle vectors in radians (SMPL's convention: joint ``j`` rotates relative to its parent, the root's
rotation is ``global_orient``). ``root_m`` is where the pelvis is moved from its place in the standing rest pose, in
metres (Y up, the body facing +Z, its left along +X; the floor is the rest pose's floor), so a body that crouches or
bounces has a negative ``root_m[1]``. Betas belong to the performer, not to the frame.

82-vectors (10 betas, then 72 axis-angle values) exist only at the edges (the bank, the renderer):
:func:`frame_from_vector` and :func:`pose72`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from common.constants import NUM_BETAS, NUM_JOINTS, POSE_DIM

BODY_JOINTS = NUM_JOINTS - 1
"""Joints below the root (23), the rows of ``MotionFrame.body_pose``."""


@dataclass(frozen=True)
class MotionFrame:
    """The body at ``t_s`` (seconds, audio clock).

    Attributes:
        t_s: the time this frame shows.
        root_m: (3,) pelvis translation from its standing rest place, metres.
        global_orient: (3,) root rotation, axis-angle radians.
        body_pose: (23, 3) rotations of joints 1..23 relative to their parents, axis-angle radians.
        beat_phase: position in the beat, in beats, [0, 1) (0 on the beat); 0 without a beat grid.
        bar_phase: position in the bar, in bars, [0, 1) (0 on the downbeat); 0 without a beat grid.
    """

    t_s: float
    root_m: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    beat_phase: float = 0.0
    bar_phase: float = 0.0

    def pose72(self) -> np.ndarray:
        """The SMPL pose vector (72,) float32: global orientation then the 23 joints, axis-angle radians."""
        return np.concatenate([self.global_orient, self.body_pose.reshape(-1)]).astype(np.float32)

    def rotvecs(self) -> np.ndarray:
        """All 24 rotations (24, 3) float64, axis-angle radians, root first."""
        return np.vstack([self.global_orient[None], self.body_pose]).astype(np.float64)

    def quaternions(self) -> np.ndarray:
        """All 24 rotations as (24, 4) unit quaternions (x, y, z, w), root first."""
        return Rotation.from_rotvec(self.rotvecs()).as_quat()


def frame_from_rotvecs(t_s: float, rotvecs: np.ndarray, root_m: np.ndarray | None = None, beat_phase: float = 0.0,
                       bar_phase: float = 0.0) -> MotionFrame:
    """A frame from (24, 3) axis-angle rotations (root first) and an optional (3,) root translation in metres."""
    rotvecs = np.asarray(rotvecs, np.float64).reshape(NUM_JOINTS, 3)
    root = np.zeros(3) if root_m is None else np.asarray(root_m, np.float64).reshape(3)
    return MotionFrame(float(t_s), root, rotvecs[0].copy(), rotvecs[1:].copy(), float(beat_phase), float(bar_phase))


def frame_from_quaternions(t_s: float, quaternions: np.ndarray, root_m: np.ndarray | None = None,
                           beat_phase: float = 0.0, bar_phase: float = 0.0) -> MotionFrame:
    """A frame from (24, 4) unit quaternions (x, y, z, w), root first."""
    return frame_from_rotvecs(t_s, Rotation.from_quat(quaternions).as_rotvec(), root_m, beat_phase, bar_phase)


def frame_from_vector(t_s: float, vector: np.ndarray) -> MotionFrame:
    """A frame (root at its rest place) from a bank pose vector (82,): its 72 pose values; its betas are dropped."""
    vector = np.asarray(vector, np.float64).reshape(POSE_DIM)
    return frame_from_rotvecs(t_s, vector[NUM_BETAS:])


def rest_frame(t_s: float = 0.0) -> MotionFrame:
    """The rest pose (all rotations zero, root at its rest place) at ``t_s``."""
    return frame_from_rotvecs(t_s, np.zeros((NUM_JOINTS, 3)))


def bank_rotvecs(vectors: np.ndarray) -> np.ndarray:
    """The poses of bank pose vectors (N, 82) as (N, 24, 3) axis-angle radians (the betas dropped)."""
    rows = np.asarray(vectors, np.float64).reshape(-1, POSE_DIM)
    return rows[:, NUM_BETAS:].reshape(-1, NUM_JOINTS, 3)


def renderer_root(frame: MotionFrame) -> np.ndarray:
    """The root translation (3,) metres to hand a renderer that puts the body's lowest point on the floor itself
    (:class:`pose_db.render.PoseRenderer`): the horizontal part of ``root_m`` (the feet are on the floor in every
    mode, so the grounding gives the height)."""
    return np.array([frame.root_m[0], 0.0, frame.root_m[2]])
