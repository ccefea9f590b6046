"""The performer's skeleton, forward kinematics, grounding, and two-bone leg IK that keeps the feet planted.

Pure numpy/scipy functions of arrays. Units: metres, radians; Y up, the body facing +Z, its left along +X. Joint
rotations are local (relative to the parent) as (24, 3, 3) matrices; positions are world positions (24, 3) with the
pelvis moved by ``root_m`` from its rest place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from pose_db.body import SMPL_PARENTS, BodyModel
from pose_db.body.kinematics import forward_kinematics as chain_kinematics

LEGS: tuple[tuple[int, int, int], ...] = ((1, 4, 7), (2, 5, 8))
"""(hip, knee, ankle) joint indices of the left and the right leg."""
REACH = 0.995
"""Largest share of a leg's length (thigh + shin) the IK stretches it to: a leg is never locked straight."""


@dataclass(frozen=True)
class Skeleton:
    """The performer's rest joints (24, 3) metres (SMPL, for their betas) and each joint's parent (-1: the root)."""

    rest_joints: np.ndarray
    parents: tuple[int, ...] = SMPL_PARENTS

    @property
    def offsets(self) -> np.ndarray:
        """(24, 3) each joint's rest position relative to its parent's (the root's: its rest position), metres."""
        parent_pos = np.array([np.zeros(3) if p < 0 else self.rest_joints[p] for p in self.parents])
        return self.rest_joints - parent_pos

    def leg_length(self, leg: int) -> float:
        """Thigh plus shin of leg 0 (left) or 1 (right), metres."""
        hip, knee, ankle = LEGS[leg]
        j = self.rest_joints
        return float(np.linalg.norm(j[knee] - j[hip]) + np.linalg.norm(j[ankle] - j[knee]))


def skeleton_of(body: BodyModel, betas: np.ndarray | None = None) -> Skeleton:
    """The skeleton of ``body`` with shape ``betas`` (10,) (None: the mean shape)."""
    return Skeleton(body.rest_joints(betas), body.parents)  # numpy: no torch on the renderer's path


def local_matrices(rotvecs: np.ndarray) -> np.ndarray:
    """(24, 3) axis-angle radians -> (24, 3, 3) rotation matrices."""
    return Rotation.from_rotvec(np.asarray(rotvecs, np.float64).reshape(-1, 3)).as_matrix()


def forward_kinematics(local: np.ndarray, root_m: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (24, 3, 3) and joint positions (24, 3) metres of local rotations ``local`` (24, 3, 3) with the
    pelvis moved by ``root_m`` (3,) metres from its rest place: one frame of the batched
    :func:`pose_db.body.kinematics.forward_kinematics`."""
    world, pos = chain_kinematics(np.asarray(local)[None], skeleton.rest_joints, root_m, skeleton.parents)
    return world[0], pos[0]


def ground_offset_m(positions: np.ndarray, skeleton: Skeleton) -> float:
    """How far (metres, + up) to move a body posed with its pelvis at the rest place so its lowest joint is as high as
    the rest pose's lowest joint (the feet on the floor): positions (24, 3)."""
    return float(skeleton.rest_joints[:, 1].min() - positions[:, 1].min())


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.arccos(np.clip(np.dot(_unit(u), _unit(v)), -1.0, 1.0)))


def two_bone_ik(a: np.ndarray, b: np.ndarray, c: np.ndarray, target: np.ndarray, a_world: np.ndarray,
                b_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotations (in the joints' own local frames, (3, 3) each) to post-multiply onto joints a (hip) and b (knee) so
    that c (ankle) reaches ``target`` (orangeduck's two-joint IK); positions (3,) metres, world rotations (3, 3).

    The knee bends about its own X axis when the leg is straight. A target out of reach is approached as far as
    :data:`REACH` of the leg's length allows.
    """
    lab, lcb = float(np.linalg.norm(b - a)), float(np.linalg.norm(b - c))
    lat = float(np.clip(np.linalg.norm(target - a), 1e-4, REACH * (lab + lcb)))
    ac_ab_0, ba_bc_0, ac_at_0 = _angle(c - a, b - a), _angle(a - b, c - b), _angle(c - a, target - a)
    ac_ab_1 = float(np.arccos(np.clip((lcb * lcb - lab * lab - lat * lat) / (-2.0 * lab * lat), -1.0, 1.0)))
    ba_bc_1 = float(np.arccos(np.clip((lat * lat - lab * lab - lcb * lcb) / (-2.0 * lab * lcb), -1.0, 1.0)))
    bend = np.cross(c - a, b - a)
    axis0 = _unit(bend) if np.linalg.norm(bend) > 1e-6 * lab * lab else -b_world[:, 0]
    swing = np.cross(c - a, target - a)
    axis1 = _unit(swing) if np.linalg.norm(swing) > 1e-9 else np.zeros(3)
    r0 = Rotation.from_rotvec((ac_ab_1 - ac_ab_0) * (a_world.T @ axis0))
    r1 = Rotation.from_rotvec((ba_bc_1 - ba_bc_0) * (b_world.T @ axis0))
    r2 = Rotation.from_rotvec(ac_at_0 * (a_world.T @ axis1))
    return (r0 * r2).as_matrix(), r1.as_matrix()


def plant_feet(local: np.ndarray, root_m: np.ndarray, ankles: np.ndarray, ankle_world: np.ndarray,
               skeleton: Skeleton) -> np.ndarray:
    """Local rotations (24, 3, 3) with both legs solved so each ankle is at ``ankles`` (2, 3) metres and turned to
    ``ankle_world`` (2, 3, 3) world rotations (the foot keeps its place and its angle on the floor); the pelvis at
    ``root_m``. Only the hips, knees and ankles change."""
    out = local.copy()
    for leg, (hip, knee, ankle) in enumerate(LEGS):
        world, pos = forward_kinematics(out, root_m, skeleton)
        hip_fix, knee_fix = two_bone_ik(pos[hip], pos[knee], pos[ankle], ankles[leg], world[hip], world[knee])
        out[hip] = out[hip] @ hip_fix
        out[knee] = out[knee] @ knee_fix
        knee_world = world[skeleton.parents[hip]] @ out[hip] @ out[knee]
        out[ankle] = knee_world.T @ ankle_world[leg]
    return out


def reachable_root(root_m: np.ndarray, local: np.ndarray, ankles: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """``root_m`` (3,) lowered just enough (metres) that both ankles ``ankles`` (2, 3) are within :data:`REACH` of
    their legs' length from the hips of the body posed by ``local`` (24, 3, 3)."""
    _, pos = forward_kinematics(local, root_m, skeleton)
    drop = 0.0
    for leg, (hip, _, _) in enumerate(LEGS):
        reach = REACH * skeleton.leg_length(leg) - 1e-4
        d = ankles[leg] - pos[hip]
        across = float(d[0] ** 2 + d[2] ** 2)
        if across >= reach * reach:
            continue
        highest_hip = ankles[leg][1] + np.sqrt(reach * reach - across)
        drop = max(drop, float(pos[hip][1] - highest_hip))
    return root_m - np.array([0.0, drop, 0.0])
