"""Filling missing BODY_25 keypoints in an OpenPose JSON folder (the reference's
``interpolate_missing_keyjoints.py``, facts section 4), with its bugs fixed.

A joint is missing when x == -1 and y == -1 exactly (the reference's [-1, 1] coordinates of pixel 0); a frame with no
person counts as all 25 joints missing. For a missing joint j at frame i the nearest valid j is searched left in
frames i-9..i-1 and right in i+1..i+9 (``STRIDE`` = 10). Both found: the reference's plain mean (x, y and confidence
alike), or with ``time_weighted`` the linear interpolation at i; only one side: copied; none: left missing.

The default mode processes frames in order and in place, as the reference does: a filled frame is the next one's
left neighbour, so a gap fills by repeated halving towards the right value, and a copied value propagates through
a gap of any length. ``time_weighted`` searches the original, unfilled frames instead: a gap of up to 17 frames lies
on the straight line between its ends, and joints with no valid value within 9 frames stay missing.

Fixed: the IndexError when no valid value exists on either side near the sequence ends, and the ``frames[-1]``
wrap-around that copied the last frame into the first when nothing valid lay to the left. Face and hands are left as
they are. Files keep their names; every other field of the JSON is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import InputError
from common.staging import OutputKind, check_output_folder, staged_folder
from common.validation import folder_files

STRIDE: int = 10
"""Search reach: neighbours up to STRIDE - 1 frames away count."""
BODY_JOINTS: int = 25
MISSING: float = -1.0
REPAIRED_OUTPUT = OutputKind("a folder of repaired keypoint JSON files", None, None, ("*.json",))


@dataclass(frozen=True)
class KeypointFrame:
    """One OpenPose JSON file: its parsed content and the (25, 3) body keypoints of ``people[0]``."""

    path: Path
    content: dict
    body: np.ndarray


def read_frame(path: Path) -> KeypointFrame:
    """Parse one OpenPose JSON file. Raises InputError when it is not OpenPose keypoints."""
    try:
        content = json.loads(path.read_text())
        people = content["people"]
        if not people:
            return KeypointFrame(path, content, np.tile([MISSING, MISSING, 0.0], (BODY_JOINTS, 1)))
        values = np.asarray(people[0]["pose_keypoints_2d"], np.float64)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as err:
        raise InputError(path, f"not an OpenPose keypoint JSON ({type(err).__name__}: "
                               f"{str(err).splitlines()[0] if str(err) else 'people[0].pose_keypoints_2d'})") from err
    if values.shape != (BODY_JOINTS * 3,):
        raise InputError(path, f"pose_keypoints_2d has {values.size} values; BODY_25 needs {BODY_JOINTS * 3}")
    return KeypointFrame(path, content, values.reshape(BODY_JOINTS, 3))


def missing_mask(body: np.ndarray) -> np.ndarray:
    """(..., 25, 3) -> (..., 25) bool: x == -1 and y == -1."""
    return (body[..., 0] == MISSING) & (body[..., 1] == MISSING)


def fill_missing(body: np.ndarray, *, time_weighted: bool = False) -> np.ndarray:
    """Fill missing joints of a (N, 25, 3) sequence (module docstring); returns a new array."""
    out = np.array(body, np.float64)
    source = np.array(out) if time_weighted else out
    frames = len(out)
    for i in range(frames):
        for j in np.flatnonzero(missing_mask(out[i])):
            left = next((k for k in range(i - 1, max(-1, i - STRIDE), -1) if not missing_mask(source[k, j])), None)
            right = next((k for k in range(i + 1, min(frames, i + STRIDE)) if not missing_mask(source[k, j])), None)
            if left is not None and right is not None:
                weight = (i - left) / (right - left) if time_weighted else 0.5
                out[i, j] = (1 - weight) * source[left, j] + weight * source[right, j]
            elif left is not None or right is not None:
                out[i, j] = source[left if left is not None else right, j]
    return out


def repair_folder(folder: Path, out: Path, *, time_weighted: bool = False) -> tuple[int, int]:
    """Read every ``*.json`` of ``folder`` (sorted by name), fill, write them to ``out`` (created atomically).

    Returns:
        (joints filled, joints still missing).
    Raises:
        InputError: not a folder, no JSON files, or a file that is not OpenPose keypoints (before anything is written).
    """
    files = folder_files(folder, "*.json", "OpenPose JSON files")
    check_output_folder(out, REPAIRED_OUTPUT)
    frames = [read_frame(path) for path in files]
    before = np.stack([frame.body for frame in frames])
    after = fill_missing(before, time_weighted=time_weighted)
    with staged_folder(out, REPAIRED_OUTPUT) as staging:
        for frame, body in zip(frames, after):
            content = dict(frame.content)
            people = [dict(person) for person in content.get("people", [])] or [{}]
            people[0]["pose_keypoints_2d"] = [float(v) for v in body.reshape(-1)]
            content["people"] = people
            (staging / frame.path.name).write_text(json.dumps(content))
    still = int(missing_mask(after).sum())
    return int(missing_mask(before).sum()) - still, still
