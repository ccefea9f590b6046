"""CLIFF demo outputs: .npz files with ``pose`` (N, 72) axis-angle, (N, 24, 3) or (N, 24, 3, 3) rotation matrices,
``shape`` (N, 10) betas and ``imgname`` (N,) image paths, one row per detected person.

Files are read in the order given, rows in file order. An entry's image is its ``imgname`` when that file exists:
absolute, or relative to the npz file's folder, or to the working folder. Its frame id is the number ending the image
name (``000123.jpg`` -> 123), else -1; its name is the image name without extension.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.constants import NUM_BETAS, NUM_JOINTS
from common.errors import InputError
from common.validation import existing_file
from pose_db.importers import ImportedPoses, read_npz, real_array
from pose_db.rotations import rotation_error, rotmat_to_axis_angle

ROTATION_TOLERANCE: float = 1e-3
"""Largest :func:`pose_db.rotations.rotation_error` accepted for a rotation matrix."""
_TRAILING_NUMBER = re.compile(r"(\d+)$")


def read_axis_angle(file: Path, pose: np.ndarray) -> np.ndarray:
    """(N, 72) float32 axis-angle poses from ``pose`` given as (N, 72), (N, 24, 3) or (N, 24, 3, 3) rotations."""
    rows = len(pose)
    if pose.shape in ((rows, NUM_JOINTS * 3), (rows, NUM_JOINTS, 3)):
        return real_array(file, "pose", pose).reshape(rows, NUM_JOINTS * 3)
    if pose.shape != (rows, NUM_JOINTS, 3, 3):
        raise InputError(file, f"pose has shape {pose.shape}, expected (N, 72) axis-angle or (N, 24, 3, 3) rotation "
                               "matrices")
    matrices = real_array(file, "pose", pose)
    error = rotation_error(matrices)
    if (error > ROTATION_TOLERANCE).any():
        row, joint = np.unravel_index(int(np.argmax(error)), error.shape)
        raise InputError(file, f"pose[{row}, {joint}] is not a rotation matrix (error {error[row, joint]:.2g})")
    return rotmat_to_axis_angle(matrices).reshape(rows, NUM_JOINTS * 3).astype(np.float32)


def read_image_names(file: Path, names: np.ndarray, rows: int) -> list[str]:
    """The ``imgname`` column as ``rows`` strings."""
    if names.shape != (rows,) or names.dtype.kind not in "US":
        raise InputError(file, f"imgname has shape {names.shape} dtype {names.dtype}, expected ({rows},) strings")
    try:
        return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names.tolist()]
    except UnicodeDecodeError:
        raise InputError(file, "imgname holds bytes that are not UTF-8") from None


def find_image(file: Path, image_name: str) -> Path | None:
    """The image ``image_name`` as an existing file: absolute, next to ``file``, or under the working folder."""
    image = Path(image_name)
    candidates = [image] if image.is_absolute() else [file.parent / image, image]
    return next((c for c in candidates if c.is_file()), None)


def frame_number(image_name: str) -> int:
    """The number ending the image file's stem (``frames/000123.jpg`` -> 123), or -1."""
    match = _TRAILING_NUMBER.search(Path(image_name).stem)
    return int(match.group(1)) if match else -1


def read_demo_file(file: Path) -> tuple[np.ndarray, list[str]]:
    """(N, 82) float32 vectors (betas then axis-angle) and N image names of one CLIFF demo output."""
    data = read_npz(file, ("pose", "shape", "imgname"))
    rows = len(data["pose"]) if data["pose"].ndim else 0
    if rows == 0:
        raise InputError(file, "no detections (pose is empty)")
    if data["shape"].shape != (rows, NUM_BETAS):
        raise InputError(file, f"shape has shape {data['shape'].shape}, expected ({rows}, {NUM_BETAS})")
    betas = real_array(file, "shape", data["shape"])
    vectors = np.concatenate([betas, read_axis_angle(file, data["pose"])], axis=1)
    if not vectors.any(axis=1).all():
        raise InputError(file, f"row {int(np.argmin(vectors.any(axis=1)))} is all zeros")
    return vectors, read_image_names(file, data["imgname"], rows)


def import_cliff_demo(files: Sequence[Path]) -> ImportedPoses:
    """Read CLIFF demo .npz outputs (see the module docstring), in the given order."""
    if not files:
        raise InputError(None, "no CLIFF demo .npz files given")
    vectors, names, sources, frames, images = [], [], [], [], []
    for file in tqdm([Path(f) for f in files], desc="CLIFF demo files", unit="file"):
        existing_file(file, "a CLIFF demo .npz file")
        rows, image_names = read_demo_file(file)
        vectors.append(rows)
        names += [Path(n).stem for n in image_names]
        sources += [file.name] * len(rows)
        frames += [frame_number(n) for n in image_names]
        images += [find_image(file, n) for n in image_names]
    return ImportedPoses(
        vectors=np.concatenate(vectors),
        names=names,
        sources=sources,
        frame_ids=np.array(frames, np.int64),
        image_paths=images,
        info={"importer": "cliff-demo", "inputs": [str(Path(f).resolve()) for f in files]},
    )
