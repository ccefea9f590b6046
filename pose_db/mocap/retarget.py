"""Retarget skeletal motion onto SMPL's 24 joints, mirror SMPL poses, and pose SMPL's skeleton (joint positions).

Method: a source bone's world rotation (relative to the source's rest pose) is carried into SMPL's frame and
composed with a fixed *rest correction* that turns SMPL's rest bone onto the source's rest bone (arms down in
DeepMimic, splayed legs in CMU), so the SMPL bone points where the source bone points. SMPL local rotations follow as
``local = parent_world^T * world``; the root keeps its pitch and roll but loses its heading, so every pose faces +Z.

Frames: SMPL has Y up, the body facing +Z, its left along +X. Quaternions are scipy's (x, y, z, w).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from common.constants import NUM_JOINTS

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "L_hip", "R_hip", "spine1", "L_knee", "R_knee", "spine2", "L_ankle", "R_ankle", "spine3",
    "L_foot", "R_foot", "neck", "L_collar", "R_collar", "head", "L_shoulder", "R_shoulder", "L_elbow", "R_elbow",
    "L_wrist", "R_wrist", "L_hand", "R_hand",
)  # fmt: skip
SMPL_PARENTS: np.ndarray = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21], dtype=np.int64
)
SMPL_MIRROR: np.ndarray = np.array(
    [SMPL_JOINT_NAMES.index(n.replace("L_", "#").replace("R_", "L_").replace("#", "R_")) for n in SMPL_JOINT_NAMES]
)
"""Index of each joint's left/right counterpart (itself for the midline joints)."""

SMPL_TEMPLATE_JOINTS: np.ndarray = np.array(
    [
        [0.000, 0.000, 0.000], [0.069, -0.091, -0.006], [-0.069, -0.091, -0.006], [0.000, 0.118, -0.053],
        [0.104, -0.476, -0.012], [-0.104, -0.476, -0.012], [0.000, 0.256, -0.025], [0.088, -0.883, -0.065],
        [-0.088, -0.883, -0.065], [0.000, 0.308, 0.000], [0.120, -0.939, 0.058], [-0.120, -0.939, 0.058],
        [0.000, 0.518, -0.057], [0.074, 0.428, -0.045], [-0.074, 0.428, -0.045], [0.000, 0.594, -0.004],
        [0.157, 0.465, -0.059], [-0.157, 0.465, -0.059], [0.420, 0.448, -0.081], [-0.420, 0.448, -0.081],
        [0.672, 0.457, -0.083], [-0.672, 0.457, -0.083], [0.755, 0.449, -0.097], [-0.755, 0.449, -0.097],
    ]
)  # fmt: skip
"""SMPL proportions: (24, 3) rest joints in metres, pelvis at the origin, close to the official neutral SMPL model's
(zero betas), left/right symmetrised. Poses are retargeted against it, so bank values mean what they mean on SMPL
whichever body later displays them."""

LIMB_BONES: dict[str, str] = {
    side + joint: side + child
    for side in ("L_", "R_")
    for joint, child in (
        ("hip", "knee"), ("knee", "ankle"), ("ankle", "foot"), ("collar", "shoulder"), ("shoulder", "elbow"),
        ("elbow", "wrist"),
    )
}  # fmt: skip
"""SMPL bones (joint -> child) whose rest direction is matched to the source's: the torso is upright in both."""


@dataclass(frozen=True)
class Skeleton:
    """A source skeleton: joint names, parents (each before its children) and rest offsets from the parent."""

    names: tuple[str, ...]
    parents: np.ndarray
    """(J,) int, -1 for the root."""
    offsets: np.ndarray
    """(J, 3) rest offset of each joint from its parent, in the source's frame and units."""

    def index(self, name: str) -> int:
        return self.names.index(name)

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions in the rest pose (all rotations identity), root at the origin."""
        positions = np.zeros_like(self.offsets)
        for j, parent in enumerate(self.parents):
            if parent >= 0:
                positions[j] = positions[parent] + self.offsets[j]
        return positions


@dataclass(frozen=True)
class JointMap:
    """How a source skeleton drives SMPL's joints.

    ``rotations``: SMPL joint -> source joint whose world rotation drives it; SMPL joints left out keep their parent's
    world rotation (identity local rotation). ``extra_positions``: SMPL joint -> source joint (often an end site) at
    the same place, for SMPL joints with no rotation source, used only to match rest bone directions.
    """

    rotations: Mapping[str, str]
    extra_positions: Mapping[str, str] = field(default_factory=dict)

    @property
    def positions(self) -> dict[str, str]:
        """SMPL joint -> source joint at the same place."""
        return {**self.rotations, **self.extra_positions}

    def source_joints(self) -> set[str]:
        """The source joint names this map needs."""
        return set(self.positions.values())


@dataclass(frozen=True)
class MotionClip:
    """A source motion ready to retarget."""

    name: str
    """Short identifier, e.g. ``cmu_01_01``."""
    source: str
    """Human-readable provenance, e.g. ``CMU mocap 01_01 (assimp-testmodels)``."""
    skeleton: Skeleton
    local_rotations: np.ndarray
    """(T, J, 4) quaternions (x, y, z, w): each joint's rotation in its parent's frame; the root's in the world."""
    frame_ids: np.ndarray
    """(T,) int: the index of each kept frame in the source file."""
    fps: float
    """Frame rate of the source file (frames per second)."""
    joint_map: JointMap
    to_smpl: np.ndarray
    """(3, 3) rotation taking source-frame vectors to SMPL's frame."""


def frame_step(fps: float, target_fps: float) -> int:
    """Stride that subsamples a clip at ``fps`` to roughly ``target_fps`` (at least 1)."""
    return max(1, round(fps / target_fps))


def world_rotations(parents: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Forward kinematics of rotations: (T, J, 4) local quaternions -> (T, J, 4) world quaternions."""
    world = np.empty_like(local)
    for j, parent in enumerate(parents):
        rotation = Rotation.from_quat(local[:, j])
        world[:, j] = (rotation if parent < 0 else Rotation.from_quat(world[:, parent]) * rotation).as_quat()
    return world


def remove_heading(rotation: Rotation) -> Rotation:
    """Strip the rotation about world Y (the heading), keeping pitch and roll: ``R = yaw * swing`` -> ``swing``."""
    quat = rotation.as_quat()  # (T, 4) x, y, z, w
    heading = 2.0 * np.arctan2(quat[:, 1], quat[:, 3])
    return Rotation.from_rotvec(np.outer(-heading, [0.0, 1.0, 0.0])) * rotation


def rest_corrections(clip: MotionClip, rest_joints: np.ndarray) -> list[Rotation]:
    """Per SMPL joint, the rotation C taking its rest frame to the source's: ``world_smpl = world_source * C``.

    Along each limb, C turns the SMPL rest bone (``LIMB_BONES``) onto the source's rest bone on top of the parent's C,
    so a rest offset (a splayed thigh) carries down the limb (to the foot's roll) instead of reappearing below it.
    Joints without a matched bone keep their parent's C; the torso keeps the identity.
    ``rest_joints``: (24, 3) SMPL rest joint positions. Returns 24 single rotations.
    """
    source_rest = clip.skeleton.rest_positions() @ clip.to_smpl.T
    positions = clip.joint_map.positions
    corrections: list[Rotation] = []
    for j, name in enumerate(SMPL_JOINT_NAMES):
        correction = Rotation.identity() if j == 0 else corrections[SMPL_PARENTS[j]]
        child = LIMB_BONES.get(name)
        if name in clip.joint_map.rotations and child in positions:
            smpl_bone = correction.apply(rest_joints[SMPL_JOINT_NAMES.index(child)] - rest_joints[j])
            source_bone = (
                source_rest[clip.skeleton.index(positions[child])] - source_rest[clip.skeleton.index(positions[name])]
            )
            correction = Rotation.align_vectors(source_bone[None], smpl_bone[None])[0] * correction
        corrections.append(correction)
    return corrections


def retarget(clip: MotionClip, rest_joints: np.ndarray = SMPL_TEMPLATE_JOINTS) -> np.ndarray:
    """Retarget a clip to SMPL: (T, 72) float32 axis-angle poses (SMPL joint order), heading removed.

    ``rest_joints``: (24, 3) SMPL rest joint positions in metres, pelvis-relative (the SMPL proportions by default).
    """
    source_world = world_rotations(clip.skeleton.parents, clip.local_rotations)
    to_smpl = Rotation.from_matrix(clip.to_smpl)
    corrections = rest_corrections(clip, rest_joints)
    world: list[Rotation] = []
    for j, name in enumerate(SMPL_JOINT_NAMES):
        source_joint = clip.joint_map.rotations.get(name)
        if source_joint is None:
            world.append(world[SMPL_PARENTS[j]])
            continue
        rotation = to_smpl * Rotation.from_quat(source_world[:, clip.skeleton.index(source_joint)]) * to_smpl.inv()
        world.append(rotation * corrections[j])
    local = [remove_heading(world[0])] + [world[p].inv() * world[j] for j, p in enumerate(SMPL_PARENTS) if p >= 0]
    return np.stack([r.as_rotvec() for r in local], axis=1).reshape(-1, 3 * NUM_JOINTS).astype(np.float32)


def mirror_poses(poses: np.ndarray) -> np.ndarray:
    """Reflect (N, 72) axis-angle poses across the YZ plane: swap left/right joints, (x, y, z) -> (x, -y, -z)."""
    axis_angle = poses.reshape(-1, NUM_JOINTS, 3)[:, SMPL_MIRROR] * np.array([1.0, -1.0, -1.0], dtype=poses.dtype)
    return axis_angle.reshape(poses.shape)


def smpl_joint_positions(poses: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """Pose SMPL's skeleton: (N, 72) axis-angle -> (N, 24, 3) joint positions in metres, pelvis at the origin.

    ``rest_joints``: (24, 3) rest joint positions (the body model's, or ``SMPL_TEMPLATE_JOINTS``).
    """
    n = len(poses)
    matrices = Rotation.from_rotvec(poses.reshape(-1, 3).astype(np.float64)).as_matrix().reshape(n, NUM_JOINTS, 3, 3)
    world = np.empty_like(matrices)
    positions = np.zeros((n, NUM_JOINTS, 3))
    world[:, 0] = matrices[:, 0]
    for j in range(1, NUM_JOINTS):
        parent = SMPL_PARENTS[j]
        world[:, j] = world[:, parent] @ matrices[:, j]
        positions[:, j] = positions[:, parent] + world[:, parent] @ (rest_joints[j] - rest_joints[parent])
    return positions
