"""Drop near-duplicate poses by farthest-point selection on joint positions."""

from __future__ import annotations

import numpy as np


def mean_joint_distance(joints: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Mean per-joint Euclidean distance (metres): (N, J, 3) poses against one (J, 3) pose -> (N,)."""
    return np.linalg.norm(joints - reference, axis=-1).mean(axis=-1)


def select_distinct(joints: np.ndarray, threshold_m: float) -> np.ndarray:
    """Indices of a subset in which every dropped pose lies within ``threshold_m`` of a kept one.

    Farthest-point selection: start from pose 0, then repeatedly keep the pose farthest (mean per-joint distance) from
    all kept ones, until none is ``threshold_m`` or farther. ``joints``: (N, J, 3) positions in metres, already
    root-relative. Returns sorted int64 indices.
    """
    kept = [0]
    nearest = mean_joint_distance(joints, joints[0])
    while True:
        candidate = int(np.argmax(nearest))
        if nearest[candidate] < threshold_m:
            return np.sort(np.array(kept, dtype=np.int64))
        kept.append(candidate)
        np.minimum(nearest, mean_joint_distance(joints, joints[candidate]), out=nearest)
