"""Which rotation representation should the 3D Dance Revolution regress? Measured on real dance motion.

The ballroom dances usable for training (``model.dance_revolution.ballroom``, SMPL fitted by ``motion.fit``, 15 fps)
are written in four representations of the 24 joint rotations. For every joint and frame step: the geodesic angle
the rotation moved and the distance its representation moved. An L1 regression target should move in proportion to
the rotation: the table gives the share of steps that are *jumps* (the representation moves > 0.5 while the
rotation moves < 0.2 rad: axis-angle wrapping near pi, a quaternion sign flip) and the 99.9th percentile of the
ratio distance / angle (how unevenly the target space stretches rotation). Uses ../shared (never committed).

    nice -n 10 .venv/bin/python bench/bench_dance_revolution_representation.py

Prints a table and writes bench/results/dance_revolution_representation.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from model.dance_revolution.ballroom import ballroom_sequences  # noqa: E402
from model.dance_revolution.poses import vector_to_smpl  # noqa: E402

BALLROOM: Path = REPO.parent / "shared" / "data" / "ballroom"
RESULTS: Path = REPO / "bench" / "results" / "dance_revolution_representation.json"
JUMP_DISTANCE: float = 0.5
SMALL_ANGLE: float = 0.2


def representations(rotations: Rotation, frames: int) -> dict[str, np.ndarray]:
    """(frames, 24, k) arrays per representation; quaternions made continuous would need a post-process the model
    cannot do at generation time, so they are taken as scipy returns them (w >= 0)."""
    matrices = rotations.as_matrix()
    return {
        "axis-angle (3)": rotations.as_rotvec().reshape(frames, 24, 3),
        "quaternion (4)": rotations.as_quat(canonical=True).reshape(frames, 24, 4),
        "6D (6)": np.concatenate([matrices[..., :, 0], matrices[..., :, 1]], -1).reshape(frames, 24, 6),
        "matrix (9)": matrices.reshape(frames, 24, 9),
    }


def main() -> None:
    if not BALLROOM.is_dir():
        sys.exit(f"{BALLROOM} is missing")
    steps: dict[str, list[np.ndarray]] = {}
    angles = []
    for sequence in ballroom_sequences(BALLROOM):
        pose, _ = vector_to_smpl(sequence.poses)
        frames = len(pose)
        rotations = Rotation.from_rotvec(pose.reshape(-1, 3).astype(np.float64))
        per_joint = rotations.as_matrix().reshape(frames, 24, 3, 3)
        relative = np.einsum("tjab,tjac->tjbc", per_joint[:-1], per_joint[1:])
        angles.append(np.linalg.norm(Rotation.from_matrix(relative.reshape(-1, 3, 3)).as_rotvec(), axis=1))
        for name, values in representations(rotations, frames).items():
            steps.setdefault(name, []).append(np.linalg.norm(np.diff(values, axis=0), axis=-1).reshape(-1))
    angle = np.concatenate(angles)
    moving = angle > 1e-3
    results = []
    for name, parts in steps.items():
        distance = np.concatenate(parts)
        jumps = (distance > JUMP_DISTANCE) & (angle < SMALL_ANGLE)
        ratio = distance[moving] / angle[moving]
        results.append({"representation": name, "jump_share": float(jumps.mean()), "jumps": int(jumps.sum()),
                        "ratio_median": float(np.median(ratio)), "ratio_p999": float(np.percentile(ratio, 99.9))})
    print(f"{len(angle):,} joint steps over the usable ballroom dances at 15 fps")
    print(f"{'representation':16s} {'jumps':>8s} {'share':>10s} {'ratio median':>13s} {'ratio p99.9':>12s}")
    for row in results:
        print(f"{row['representation']:16s} {row['jumps']:8d} {row['jump_share']:10.2e} {row['ratio_median']:13.3f} "
              f"{row['ratio_p999']:12.3f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
