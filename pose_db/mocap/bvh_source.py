"""Motion clips from BVH files (parsed with the ``bvh`` package): the CMU skeleton and assimp's boxing skeleton.

Both skeletons are Y up with the body facing +Z and its left along +X in their rest pose, like SMPL.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from bvh import Bvh
from scipy.spatial.transform import Rotation

from common.errors import InputError
from pose_db.mocap.retarget import JointMap, MotionClip, Skeleton, frame_step

CMU_JOINT_MAP = JointMap(
    rotations={
        "pelvis": "Hips", "spine1": "LowerBack", "spine2": "Spine", "spine3": "Spine1", "neck": "Neck1",
        "head": "Head",
        **{
            f"{s}_{smpl}": f"{side}{cmu}"
            for s, side in (("L", "Left"), ("R", "Right"))
            for smpl, cmu in (
                ("hip", "UpLeg"), ("knee", "Leg"), ("ankle", "Foot"), ("foot", "ToeBase"), ("collar", "Shoulder"),
                ("shoulder", "Arm"), ("elbow", "ForeArm"), ("wrist", "Hand"), ("hand", "FingerBase"),
            )
        },
    }
)  # fmt: skip
"""The 31-joint CMU skeleton of the cgspeed BVH conversion (``01_01.bvh``)."""

BOXING_JOINT_MAP = JointMap(
    rotations={
        "pelvis": "Hips", "spine1": "Ab", "spine3": "Chest", "neck": "Neck", "head": "Head",
        **{
            f"{s}_{smpl}": f"{side}{box}"
            for s, side in (("L", "Left"), ("R", "Right"))
            for smpl, box in (
                ("hip", "Hip"), ("knee", "Knee"), ("ankle", "Ankle"), ("foot", "Toes"), ("collar", "Collar"),
                ("shoulder", "Shoulder"), ("elbow", "Elbow"), ("wrist", "Wrist"),
            )
        },
    }
)  # fmt: skip
"""The 21-joint skeleton of assimp's ``Boxing_Toes.bvh``."""

KNOWN_JOINT_MAPS: tuple[JointMap, ...] = (CMU_JOINT_MAP, BOXING_JOINT_MAP)


def _euler_order(channels: list[str]) -> str:
    """Intrinsic scipy Euler order of a joint's rotation channels, e.g. ``ZYX``."""
    return "".join(c[0].upper() for c in channels if c.endswith("rotation"))


def _skeleton(mocap: Bvh) -> Skeleton:
    names = tuple(mocap.get_joints_names())
    return Skeleton(
        names=names,
        parents=np.array([mocap.joint_parent_index(n) for n in names], dtype=np.int64),
        offsets=np.array([mocap.joint_offset(n) for n in names], dtype=np.float64),
    )


def _local_rotations(mocap: Bvh, names: tuple[str, ...], frames: np.ndarray) -> np.ndarray:
    """(T, J, 4) local quaternions from the rotation channels of (T, C) frame values (degrees)."""
    rotations = np.empty((len(frames), len(names), 4))
    for j, name in enumerate(names):
        channels = mocap.joint_channels(name)
        start = mocap.get_joint_channels_index(name)
        columns = [start + i for i, c in enumerate(channels) if c.endswith("rotation")]
        rotations[:, j] = Rotation.from_euler(_euler_order(channels), frames[:, columns], degrees=True).as_quat()
    return rotations


def _frame_values(path: Path, rows: list[list[str]], channels: int) -> np.ndarray:
    """(T, C) float64 channel values of the kept frame rows; InputError unless each row holds C = ``channels``
    numbers."""
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError as err:
        raise InputError(path, f"malformed BVH frame data: {err}") from err
    if values.ndim != 2 or values.shape[1] != channels:
        raise InputError(path, f"BVH frames hold {values.shape[1:]} values, the hierarchy has {channels} channels")
    return values


def _joint_map_for(path: Path, names: tuple[str, ...]) -> JointMap:
    for joint_map in KNOWN_JOINT_MAPS:
        if joint_map.source_joints() <= set(names):
            return joint_map
    raise InputError(path, "unknown BVH skeleton (neither the CMU nor the assimp boxing joint names)")


def load_bvh(path: str | os.PathLike[str], *, name: str, source: str, target_fps: float | None = None) -> MotionClip:
    """Read a BVH file into a clip, keeping about ``target_fps`` frames per second (all frames when None)."""
    path = Path(path)
    try:  # the bvh package parses lazily: a malformed file fails in any of these calls
        mocap = Bvh(path.read_text())
        fps = 1.0 / mocap.frame_time
        skeleton = _skeleton(mocap)
        channels = sum(len(mocap.joint_channels(n)) for n in skeleton.names)
        frame_count = min(mocap.nframes, len(mocap.frames))
    except (OSError, UnicodeDecodeError, LookupError, ValueError, ArithmeticError, StopIteration) as err:
        raise InputError(path, f"cannot read BVH: {type(err).__name__}: {err}") from None
    step = 1 if target_fps is None else frame_step(fps, target_fps)
    frame_ids = np.arange(0, frame_count, step)  # the header's count rules extra rows
    frames = _frame_values(path, [mocap.frames[i] for i in frame_ids], channels)
    return MotionClip(
        name=name,
        source=source,
        skeleton=skeleton,
        local_rotations=_local_rotations(mocap, skeleton.names, frames),
        frame_ids=frame_ids,
        fps=fps,
        joint_map=_joint_map_for(path, skeleton.names),
        to_smpl=np.eye(3),
    )
