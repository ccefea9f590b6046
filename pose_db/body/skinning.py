"""Linear blend skinning data for a GPU: the rest mesh of a body (``RestMesh``) and the per-frame joint transforms.

``joint_transforms(orient, pose, rest_joints)`` walks SMPL's kinematic chain (:mod:`pose_db.body.kinematics`) and
returns, per joint, the (4,4) transform taking a rest-pose point to its posed place; a vertex is posed as
``sum_k weight[v,k] * transforms[joint[v,k]] @ [rest_vertex, 1]``. This is ``smplx.lbs`` without the pose-corrective
blend shapes (``posedirs``): the bundled CC0 body has none (all zeros), so with all its skin weights it equals
``BodyModel.forward`` exactly; an official SMPL file's correctives (up to a centimetre or two at bent elbows and knees)
are left out of this path. :class:`RestMesh` keeps each vertex's :data:`SKIN_SLOTS` largest weights for the GPU.
Units: metres and radians; Y up; the root joint stays at its rest place (no translation).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from common.constants import NUM_JOINTS
from pose_db.body.kinematics import forward_kinematics
from pose_db.rotations import axis_angle_to_rotmat

SKIN_SLOTS = 4
"""Skin weights kept per vertex (the largest ones, renormalised): one vec4 attribute on the GPU. The bundled body uses
up to 6 joints on a few vertices; dropping the smallest moves them by at most about 1 cm in extreme poses, and halves
the vertex shader's cost on a software rasterizer against 8 slots."""


@dataclass(frozen=True)
class RestMesh:
    """A body in its rest pose with its skinning data, shape (betas) already applied.

    vertices (V,3) float32 metres; normals (V,3) float32 unit; faces (F,3) uint32; joints (24,3) float32 metres (rest
    joint positions); skin_joints (V,SKIN_SLOTS) int32 joint indices and skin_weights (V,SKIN_SLOTS) float32 weights
    summing to 1 per vertex.
    """

    vertices: np.ndarray
    normals: np.ndarray
    faces: np.ndarray
    joints: np.ndarray
    skin_joints: np.ndarray
    skin_weights: np.ndarray

    @cached_property
    def dense_weights(self) -> np.ndarray:
        """The kept skin weights as a dense (V,24) float32 matrix."""
        dense = np.zeros((len(self.vertices), NUM_JOINTS), np.float32)
        np.put_along_axis(dense, self.skin_joints, self.skin_weights, axis=1)
        return dense

    @cached_property
    def homogeneous(self) -> np.ndarray:
        """The rest vertices as (V,4) float32 with w = 1."""
        return np.concatenate([self.vertices, np.ones((len(self.vertices), 1), np.float32)], axis=1)

    @property
    def height(self) -> float:
        """Vertical extent of the rest mesh in metres."""
        return float(np.ptp(self.vertices[:, 1]))


def joint_transforms(orient: np.ndarray, pose: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """Skinning transforms of posed bodies.

    orient : (N,3) axis-angle radians, the root's (pelvis) global orientation.
    pose : (N,23,3) or (N,69) axis-angle radians, the other joints relative to their parents (SMPL order).
    rest_joints : (24,3) or (N,24,3) rest joint positions in metres.
    Returns (N,24,4,4) float64: transform j maps a rest-pose point rigidly attached to joint j to its posed place;
    the pelvis stays at its rest position.
    """
    orient = np.asarray(orient, np.float64).reshape(-1, 1, 3)
    n = len(orient)
    rotvecs = np.concatenate([orient, np.asarray(pose, np.float64).reshape(n, NUM_JOINTS - 1, 3)], axis=1)
    rest = np.broadcast_to(np.asarray(rest_joints, np.float64), (n, NUM_JOINTS, 3))
    world_r, posed = forward_kinematics(axis_angle_to_rotmat(rotvecs), rest)  # (N,24,3,3), (N,24,3)
    transforms = np.zeros((n, NUM_JOINTS, 4, 4))
    transforms[:, :, :3, :3], transforms[:, :, 3, 3] = world_r, 1.0
    # skinning: remove the rest position first, T_j = [R_j | p_j - R_j rest_j]
    transforms[:, :, :3, 3] = posed - np.einsum("njab,njb->nja", world_r, rest)
    return transforms


def skin(rest: RestMesh, transforms: np.ndarray) -> np.ndarray:
    """Posed vertices (V,3) float64 of ``rest`` under ``transforms`` (24,4,4) from :func:`joint_transforms`: what
    the vertex shader computes, on the CPU."""
    blended = np.einsum("vk,vkab->vab", rest.skin_weights, transforms[rest.skin_joints])  # (V,4,4)
    return np.einsum("vab,vb->va", blended[:, :3, :3], rest.vertices) + blended[:, :3, 3]


def lowest_point(rest: RestMesh, transforms: np.ndarray) -> float:
    """The lowest y (metres) of the posed mesh under ``transforms`` (24,4,4): only the vertical row is blended."""
    # (V,24): y of each vertex moved by each joint; einsum, not BLAS: a threaded BLAS stalls on a busy 2-core machine
    heights = np.einsum("vb,jb->vj", rest.homogeneous, transforms[:, 1, :].astype(np.float32))
    return float(np.einsum("vj,vj->v", heights, rest.dense_weights).min())


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Smooth unit normals (V,3) float32: at each vertex, the area-weighted sum of its faces' normals."""
    tri = vertices[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(vertices, dtype=np.float64)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_n)
    return (normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def top_weights(weights: np.ndarray, slots: int = SKIN_SLOTS) -> tuple[np.ndarray, np.ndarray]:
    """The ``slots`` largest of each vertex's skin weights (V,24): joint indices (V,slots) int32 and the weights
    renormalised to sum to 1 (V,slots) float32."""
    order = np.argsort(-weights, axis=1)[:, :slots]
    kept = np.take_along_axis(weights, order, axis=1)
    return order.astype(np.int32), (kept / kept.sum(axis=1, keepdims=True)).astype(np.float32)
