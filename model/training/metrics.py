"""Retrieval and pose-error metrics.

Joint errors are root-relative (the pelvis, SMPL joint 0, subtracted from both poses) and in millimetres; PA-MPJPE
first aligns the predicted joints to the true ones by the best similarity transform (rotation, scale, translation).
"""

from __future__ import annotations

import numpy as np

MM_PER_M: float = 1000.0


def ranks_of(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """1-based rank of each row's true column: 1 + the number of columns scoring strictly higher.

    Args:
        scores: (Q, G) higher is better. truth: (Q,) int column indices.
    Returns:
        (Q,) int64.
    """
    true_scores = np.take_along_axis(scores, truth[:, None], axis=1)
    return 1 + (scores > true_scores).sum(axis=1).astype(np.int64)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(Q, k) int64 column indices of the k highest scores per row, best first (ties by lower index)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    return order[:, :k]


def mpjpe(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Mean per-joint position error, root-relative: (..., J, 3) metres x2 -> (...) millimetres."""
    predicted = predicted - predicted[..., :1, :]
    truth = truth - truth[..., :1, :]
    return np.linalg.norm(predicted - truth, axis=-1).mean(axis=-1) * MM_PER_M


def pa_mpjpe(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """MPJPE after Procrustes alignment (rotation, uniform scale, translation): (N, J, 3) x2 -> (N,) mm."""
    p = predicted - predicted.mean(axis=1, keepdims=True)
    t = truth - truth.mean(axis=1, keepdims=True)
    u, s, vt = np.linalg.svd(np.einsum("nji,njk->nik", p, t))
    sign = np.sign(np.linalg.det(np.einsum("nij,njk->nik", u, vt)))
    s[:, -1] *= sign
    u[:, :, -1] *= sign[:, None]
    rotation = np.einsum("nij,njk->nik", u, vt)
    scale = s.sum(axis=1) / np.maximum((p**2).sum(axis=(1, 2)), 1e-12)
    aligned = scale[:, None, None] * np.einsum("nji,nik->njk", p, rotation)
    return np.linalg.norm(aligned - t, axis=-1).mean(axis=-1) * MM_PER_M
