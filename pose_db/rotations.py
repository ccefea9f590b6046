"""Rotation-matrix <-> axis-angle conversion for SMPL joint rotations (scipy.spatial.transform)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def rotmat_to_axis_angle(matrices: np.ndarray) -> np.ndarray:
    """Axis-angle vectors (axis times angle in radians, angle in [0, pi]) of rotation matrices.

    Args:
        matrices: (..., 3, 3) rotation matrices (applied to column vectors).

    Returns:
        (..., 3) float64 rotation vectors.
    """
    stack = np.asarray(matrices, np.float64)
    if stack.shape[-2:] != (3, 3):
        raise ValueError(f"expected (..., 3, 3) matrices, got shape {stack.shape}")
    if stack.size == 0:
        return np.zeros(stack.shape[:-2] + (3,))
    return Rotation.from_matrix(stack.reshape(-1, 3, 3)).as_rotvec().reshape(stack.shape[:-2] + (3,))


def axis_angle_to_rotmat(vectors: np.ndarray) -> np.ndarray:
    """Rotation matrices of axis-angle vectors.

    Args:
        vectors: (..., 3) rotation vectors (axis times angle in radians).

    Returns:
        (..., 3, 3) float64 rotation matrices.
    """
    stack = np.asarray(vectors, np.float64)
    if stack.shape[-1:] != (3,):
        raise ValueError(f"expected (..., 3) vectors, got shape {stack.shape}")
    if stack.size == 0:
        return np.zeros(stack.shape[:-1] + (3, 3))
    return Rotation.from_rotvec(stack.reshape(-1, 3)).as_matrix().reshape(stack.shape[:-1] + (3, 3))


def rotation_error(matrices: np.ndarray) -> np.ndarray:
    """How far each matrix is from a rotation: max(|R^T R - I|, |det R - 1|) per matrix.

    Args:
        matrices: (..., 3, 3).

    Returns:
        (...,) float64 errors; about 1e-7 for float32 rotation matrices.
    """
    stack = np.asarray(matrices, np.float64)
    gram = np.swapaxes(stack, -1, -2) @ stack - np.eye(3)
    return np.maximum(np.abs(gram).max(axis=(-2, -1)), np.abs(np.linalg.det(stack) - 1.0))
