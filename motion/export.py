"""Write a pose stream to a file a person can reuse: SMPL-skeleton BVH (Blender imports it) or npz.

BVH: the 24 SMPL joints under their SMPL names, offsets from the performer's rest joints in centimetres, the root with
``Xposition Yposition Zposition`` (the pelvis' place, centimetres, Y up, floor at the rest pose's lowest joint) and
every joint with ``Zrotation Xrotation Yrotation`` channels in degrees (intrinsic ZXY: R = Rz Rx Ry, the local
rotation relative to the parent, as SMPL's). Leaf joints (head, hands, feet) end in a short End Site.

npz: ``pose`` (T, 72) axis-angle radians, ``root`` (T, 3) the pelvis' move from its rest place in metres, ``t_s`` (T,)
seconds, ``fps``, ``betas`` (10,), ``rest_joints`` (24, 3) metres.

A file is written next to its target and renamed into place when complete (nothing partial is left).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from motion.cli_options import check_export_path
from motion.frame import MotionFrame
from motion.ik import Skeleton
from motion.source import MotionSetup
from pose_db.body import JOINT_NAMES

EXPORT_FPS = 30.0
"""Frame rate of exported pose streams (frames per second)."""
CM_PER_M = 100.0
EULER = "ZXY"
"""Intrinsic Euler order of the BVH rotation channels."""
END_SITE_CM = 8.0
"""Length of a leaf joint's End Site, centimetres."""


def children_of(parents: tuple[int, ...]) -> list[list[int]]:
    """Each joint's children, in joint order."""
    children: list[list[int]] = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            children[p].append(j)
    return children


def bvh_hierarchy(skeleton: Skeleton) -> str:
    """The HIERARCHY section of the skeleton (offsets in centimetres)."""
    offsets, children = skeleton.offsets * CM_PER_M, children_of(skeleton.parents)
    rot = "Zrotation Xrotation Yrotation"
    lines = ["HIERARCHY"]

    def joint(j: int, depth: int) -> None:
        pad = "  " * depth
        is_root = skeleton.parents[j] < 0
        lines.append(f"{pad}{'ROOT' if is_root else 'JOINT'} {JOINT_NAMES[j]}")
        lines.append(f"{pad}{{")
        x, y, z = (0.0, 0.0, 0.0) if is_root else offsets[j]
        lines.append(f"{pad}  OFFSET {x:.6f} {y:.6f} {z:.6f}")
        channels = f"6 Xposition Yposition Zposition {rot}" if is_root else f"3 {rot}"
        lines.append(f"{pad}  CHANNELS {channels}")
        for child in children[j]:
            joint(child, depth + 1)
        if not children[j]:
            tip = offsets[j] / max(float(np.linalg.norm(offsets[j])), 1e-9) * END_SITE_CM
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {tip[0]:.6f} {tip[1]:.6f} {tip[2]:.6f}",
                          f"{pad}  }}"])
        lines.append(f"{pad}}}")

    joint(0, 0)
    return "\n".join(lines)


def bvh_motion_rows(frames: list[MotionFrame], skeleton: Skeleton) -> np.ndarray:
    """(T, 3 + 24 * 3) channel values in hierarchy order: root position (cm), then each joint's ZXY angles (deg)."""
    order = depth_first(skeleton.parents)
    rows = np.empty((len(frames), 3 + 3 * len(order)))
    for i, frame in enumerate(frames):
        rows[i, :3] = (skeleton.rest_joints[0] + frame.root_m) * CM_PER_M
        with warnings.catch_warnings():  # at gimbal lock scipy picks one of the equal triples: still exact
            warnings.simplefilter("ignore", UserWarning)
            euler = Rotation.from_rotvec(frame.rotvecs()[order]).as_euler(EULER, degrees=True)
        rows[i, 3:] = euler.reshape(-1)
    return rows


def depth_first(parents: tuple[int, ...]) -> list[int]:
    """Joints in the order the hierarchy lists them (depth first from the root)."""
    children, out = children_of(parents), []

    def visit(j: int) -> None:
        out.append(j)
        for child in children[j]:
            visit(child)

    visit(0)
    return out


def bvh_text(frames: list[MotionFrame], skeleton: Skeleton, fps: float) -> str:
    """A whole BVH file for ``frames`` at ``fps`` frames per second."""
    rows = bvh_motion_rows(frames, skeleton)
    body = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in rows)
    return f"{bvh_hierarchy(skeleton)}\nMOTION\nFrames: {len(frames)}\nFrame Time: {1.0 / fps:.8f}\n{body}\n"


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temp_path)`` on a hidden sibling of ``path``, then rename it into place."""
    path = Path(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(temp))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_bvh(path: Path, frames: list[MotionFrame], skeleton: Skeleton, fps: float = EXPORT_FPS) -> None:
    """Write ``frames`` as an SMPL-skeleton BVH file (see the module docstring)."""
    _write_atomically(path, lambda temp: temp.write_text(bvh_text(frames, skeleton, fps)))


def write_npz(path: Path, frames: list[MotionFrame], setup: MotionSetup, fps: float = EXPORT_FPS) -> None:
    """Write ``frames`` as an npz of SMPL pose and root arrays (see the module docstring)."""
    arrays = {
        "pose": np.stack([f.pose72() for f in frames]) if frames else np.zeros((0, 72), np.float32),
        "root": np.array([f.root_m for f in frames], np.float32).reshape(-1, 3),
        "t_s": np.array([f.t_s for f in frames], np.float64),
        "fps": np.float64(fps),
        "betas": np.asarray(setup.betas, np.float32),
        "rest_joints": setup.skeleton.rest_joints.astype(np.float32),
    }

    def write(temp: Path) -> None:
        with open(temp, "wb") as out:
            np.savez(out, **arrays)

    _write_atomically(path, write)


def export_stream(path: Path, frames: list[MotionFrame], setup: MotionSetup, fps: float = EXPORT_FPS) -> None:
    """Write ``frames`` to ``path`` as BVH or npz, by its suffix; InputError for any other suffix."""
    check_export_path(path)
    if Path(path).suffix.lower() == ".bvh":
        write_bvh(path, frames, setup.skeleton, fps)
    else:
        write_npz(path, frames, setup, fps)


def read_bvh_rotations(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read back a BVH this module wrote, with the ``bvh`` package: (T, 24, 3) axis-angle radians in SMPL joint order
    and (T, 3) pelvis positions in metres."""
    from bvh import Bvh

    mocap = Bvh(Path(path).read_text())
    channels = ["Zrotation", "Xrotation", "Yrotation"]
    rot = np.empty((mocap.nframes, len(JOINT_NAMES), 3))
    for j, name in enumerate(JOINT_NAMES):
        euler = np.array(mocap.frames_joint_channels(name, channels), np.float64)
        rot[:, j] = Rotation.from_euler(EULER, euler, degrees=True).as_rotvec()
    root = np.array(mocap.frames_joint_channels(JOINT_NAMES[0], ["Xposition", "Yposition", "Zposition"]),
                    np.float64) / CM_PER_M
    return rot, root


def export_log(path: Path, setup: MotionSetup, initial_mode: str, log: list, end_s: float,
               fps: float = EXPORT_FPS) -> int:
    """Play a player's ``log`` (see :mod:`motion.player`) again from 0 to ``end_s`` seconds at ``fps`` frames per
    second, starting in ``initial_mode``, and write the stream to ``path`` (.bvh or .npz). Returns the frames."""
    from motion.player import replay_frames

    check_export_path(path)
    end_s = max([end_s, *(t for t, _ in log)])
    frames = replay_frames(setup, initial_mode, list(log), fps, 0.0, end_s)
    export_stream(path, frames, setup, fps)
    return len(frames)
