"""Forward kinematics of SMPL's kinematic chain in numpy, batched: the one walk down the tree that the descriptors,
the motion layer and the skinning transforms share.

Units: metres and radians; Y up.
"""

from __future__ import annotations

import numpy as np

from pose_db.body.model import SMPL_PARENTS


def forward_kinematics(local: np.ndarray, rest_joints: np.ndarray, root_m: np.ndarray | None = None,
                       parents: tuple[int, ...] = SMPL_PARENTS) -> tuple[np.ndarray, np.ndarray]:
    """World rotations and posed joint positions of local joint rotations.

    local : (N,J,3,3) rotation matrices, each joint relative to its parent (the root's: global).
    rest_joints : (J,3) or (N,J,3) rest joint positions in metres.
    root_m : (N,3) or (3,) metres the pelvis moves from its rest place; None: it stays there.
    parents : the parent of each joint (-1 for the root), parents before children.
    Returns (world (N,J,3,3), positions (N,J,3)) float64.
    """
    local = np.asarray(local, np.float64)
    n, joints = local.shape[:2]
    rest = np.broadcast_to(np.asarray(rest_joints, np.float64), (n, joints, 3))
    world = np.empty_like(local)
    posed = np.empty((n, joints, 3))
    world[:, 0] = local[:, 0]
    posed[:, 0] = rest[:, 0] if root_m is None else rest[:, 0] + np.asarray(root_m, np.float64)
    for j in range(1, joints):
        p = parents[j]
        world[:, j] = world[:, p] @ local[:, j]  # (N,3,3)
        posed[:, j] = posed[:, p] + (world[:, p] @ (rest[:, j] - rest[:, p])[:, :, None])[:, :, 0]  # (N,3)
    return world, posed
