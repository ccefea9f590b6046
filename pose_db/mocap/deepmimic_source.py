"""Motion clips from the DeepMimic humanoid motions shipped in the ``pybullet`` wheel (``pybullet_data``).

A motion file is JSON whose ``"Frames"`` rows hold 44 values: duration (s), root position (3), root rotation
(w, x, y, z), then chest (4), neck (4), right hip (4), right knee angle (1), right ankle (4), right shoulder (4),
right elbow angle (1), left hip (4), left knee (1), left ankle (4), left shoulder (4), left elbow (1) — the order read
by pybullet's ``pybullet_envs/deep_mimic/env/humanoid_pose_interpolator.py``. Spherical joints are quaternions
(w, x, y, z) in the parent's frame; knees and elbows are angles in radians about the joint's +Z axis.

The humanoid is Y up, faces +X, and its right side is +Z; in the rest pose its arms hang down. The wheel is fetched
with ``pip download`` at build time only; the motion files and the wheel's licence are cached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from common.errors import InputError
from pose_db.mocap.retarget import JointMap, MotionClip, Skeleton, frame_step

PYBULLET_REQUIREMENT = "pybullet==3.2.7"
MOTION_PREFIX = "pybullet_data/data/motions/humanoid3d_"
LICENSE_NAME = "pybullet_LICENSE.txt"
"""Name of the wheel's ``*.dist-info/LICENSE.txt`` in the cache."""

# (name, parent, rest offset from the parent in metres): humanoid.urdf's joint origins at DeepMimic's scale (1/4).
# Articulated joints first, in file order, then end sites (head, wrists, toes: the foot box centre).
_JOINTS: tuple[tuple[str, str | None, tuple[float, float, float]], ...] = (
    ("root", None, (0.0, 0.0, 0.0)),
    ("chest", "root", (0.0, 0.236151, 0.0)),
    ("neck", "chest", (0.0, 0.223894, 0.0)),
    *(
        joint
        for side, z in (("right", 1.0), ("left", -1.0))
        for joint in (
            (f"{side}_hip", "root", (0.0, 0.0, 0.084887 * z)),
            (f"{side}_knee", f"{side}_hip", (0.0, -0.421546, 0.0)),
            (f"{side}_ankle", f"{side}_knee", (0.0, -0.40987, 0.0)),
            (f"{side}_shoulder", "chest", (-0.02405, 0.2435, 0.18311 * z)),
            (f"{side}_elbow", f"{side}_shoulder", (0.0, -0.274788, 0.0)),
        )
    ),
    ("head", "neck", (0.0, 0.175, 0.0)),
    *(
        joint
        for side in ("right", "left")
        for joint in (
            (f"{side}_wrist", f"{side}_elbow", (0.0, -0.258947, 0.0)),
            (f"{side}_toe", f"{side}_ankle", (0.045, -0.0225, 0.0)),
        )
    ),
)
DEEPMIMIC_SKELETON = Skeleton(
    names=tuple(j[0] for j in _JOINTS),
    parents=np.array([-1 if j[1] is None else [k[0] for k in _JOINTS].index(j[1]) for j in _JOINTS]),
    offsets=np.array([j[2] for j in _JOINTS]),
)

# Column layout of a frame: (joint, first column, kind) with kind "quat" (w, x, y, z) or "angle" (about +Z).
_SIDE_CHANNELS = (("hip", "quat"), ("knee", "angle"), ("ankle", "quat"), ("shoulder", "quat"), ("elbow", "angle"))
_FRAME_LAYOUT: tuple[tuple[str, str], ...] = (
    ("root", "quat"), ("chest", "quat"), ("neck", "quat"),
    *((f"{side}_{joint}", kind) for side in ("right", "left") for joint, kind in _SIDE_CHANNELS),
)  # fmt: skip
FRAME_VALUES = 44

DEEPMIMIC_JOINT_MAP = JointMap(
    rotations={
        "pelvis": "root", "spine2": "chest", "neck": "neck",
        **{
            f"{s}_{joint}": f"{side}_{joint}"
            for s, side in (("L", "left"), ("R", "right"))
            for joint in ("hip", "knee", "ankle", "shoulder", "elbow")
        },
    },
    extra_positions={
        "head": "head",
        **{f"{s}_{smpl}": f"{side}_{dm}" for s, side in (("L", "left"), ("R", "right"))
           for smpl, dm in (("foot", "toe"), ("wrist", "wrist"))},
    },
)  # fmt: skip

DEEPMIMIC_TO_SMPL: np.ndarray = Rotation.from_euler("y", -90, degrees=True).as_matrix()
"""DeepMimic (forward +X, right +Z) -> SMPL (forward +Z, left +X): -90 degrees about Y."""


def fetch_motions(cache_dir: str | os.PathLike[str]) -> list[Path]:
    """The cached ``humanoid3d_*.txt`` motion files, downloading the pybullet wheel into the cache when missing."""
    cache_dir = Path(cache_dir)
    if not (cache_dir / LICENSE_NAME).is_file():
        _download_motions(cache_dir)
    return sorted(cache_dir.glob("humanoid3d_*.txt"))


def _download_motions(cache_dir: Path) -> None:
    """``pip download`` the wheel and extract only the humanoid motions and the licence into ``cache_dir``."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, PYBULLET_REQUIREMENT]
        subprocess.run(command, check=True)
        (wheel,) = Path(tmp).glob("pybullet-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if member.startswith(MOTION_PREFIX) and member.endswith(".txt"):
                    (cache_dir / Path(member).name).write_bytes(archive.read(member))
            (license_member,) = (m for m in archive.namelist() if m.endswith(".dist-info/LICENSE.txt"))
            partial = cache_dir / (LICENSE_NAME + ".part")
            partial.write_bytes(archive.read(license_member))
            shutil.move(partial, cache_dir / LICENSE_NAME)


def _local_rotations(frames: np.ndarray) -> np.ndarray:
    """(T, 44) frame rows -> (T, J, 4) local quaternions (x, y, z, w); end sites stay identity."""
    rotations = np.tile([0.0, 0.0, 0.0, 1.0], (len(frames), len(DEEPMIMIC_SKELETON.names), 1))
    column = 4
    for joint, kind in _FRAME_LAYOUT:
        j = DEEPMIMIC_SKELETON.index(joint)
        if kind == "quat":
            rotations[:, j] = Rotation.from_quat(frames[:, column : column + 4], scalar_first=True).as_quat()
            column += 4
        else:
            rotations[:, j] = Rotation.from_rotvec(np.outer(frames[:, column], [0.0, 0.0, 1.0])).as_quat()
            column += 1
    return rotations


def load_deepmimic(
    path: str | os.PathLike[str], *, name: str, source: str, target_fps: float | None = None
) -> MotionClip:
    """Read a DeepMimic motion file into a clip, keeping about ``target_fps`` frames per second (all when None)."""
    path = Path(path)
    try:
        frames = np.array(json.loads(path.read_text())["Frames"], dtype=np.float64)
    except (OSError, ValueError, KeyError) as err:
        raise InputError(path, f"cannot read DeepMimic motion: {err}") from err
    if frames.ndim != 2 or frames.shape[1] != FRAME_VALUES:
        raise InputError(path, f"expected frames of {FRAME_VALUES} values, got shape {frames.shape}")
    fps = 1.0 / frames[0, 0]
    step = 1 if target_fps is None else frame_step(fps, target_fps)
    frame_ids = np.arange(0, len(frames), step)
    return MotionClip(
        name=name,
        source=source,
        skeleton=DEEPMIMIC_SKELETON,
        local_rotations=_local_rotations(frames[frame_ids]),
        frame_ids=frame_ids,
        fps=fps,
        joint_map=DEEPMIMIC_JOINT_MAP,
        to_smpl=DEEPMIMIC_TO_SMPL,
    )
