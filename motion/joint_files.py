"""Joint-position files and marker mappings: what :mod:`motion.fit` fits SMPL to.

Joint-position file (the ``../shared/data/ballroom`` layout): ``NAME.npz`` with
    - ``joints`` (T, J, 3) real: world positions in metres, Y up (T >= 2 frames, J >= 1 points);
    - ``joint_names`` (J,) str: one unique name per point;
    - ``fps`` (): frames per second (> 0).
Optional neighbours used by :mod:`motion.dances`: ``NAME.ogg`` (or .flac/.wav/.mp3) music starting at frame 0,
``NAME.beats.txt`` (beat times in seconds, one per line) and a ``MANIFEST.tsv`` with a ``sync_status`` column.

Mapping file (JSON; format in ``docs/MOTION_FITTING.md``, an example in ``motion/mappings/ballroom.json``): each
source point becomes a *virtual marker* on the SMPL skeleton, a weighted mean of SMPL joints plus an offset carried by
one joint's world rotation::

    {"format": "dancepose-joint-mapping", "version": 1,
     "markers": {"knee_left": {"joints": {"L_knee": 1.0}, "frame": "L_hip", "offset_m": [0.05, 0, 0], "weight": 1}}}

``offset_m`` is in metres in SMPL's rest frame (x = body's left, y = up, z = forward), rotated by the world rotation
of ``frame`` (default: the first joint listed). Points of the file that the mapping does not name are not fitted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.constants import NUM_JOINTS
from common.errors import InputError
from common.validation import existing_file, existing_folder
from pose_db.body.model import JOINT_NAMES
from pose_db.importers import read_npz

MAPPINGS_DIR: Path = Path(__file__).resolve().parent / "mappings"
"""Mapping files shipped with dancepose."""
BALLROOM_MAPPING: Path = MAPPINGS_DIR / "ballroom.json"
"""The mapping for the ballroom set's 23 Plug-in-Gait surface markers."""
MAPPING_FORMAT: str = "dancepose-joint-mapping"
_MARKER_KEYS: frozenset[str] = frozenset({"joints", "frame", "offset_m", "weight", "note"})


@dataclass(frozen=True)
class JointSequence:
    """One joint-position file, validated.

    Attributes:
        name: the file's stem (e.g. ``DANCE_W_22``).
        path: the ``.npz`` file.
        positions: (T, J, 3) float32 metres, world frame, Y up.
        names: J point names.
        fps: frames per second.
    """

    name: str
    path: Path
    positions: np.ndarray
    names: tuple[str, ...]
    fps: float


@dataclass(frozen=True)
class MarkerMapping:
    """Source point name -> virtual marker on the SMPL skeleton (see the module docstring).

    Attributes:
        names: M source point names, in mapping order.
        joint_weights: (M, 24) float32, each row sums to 1: the marker's anchor is ``joint_weights @ joints``.
        frames: (M,) int64 SMPL joint whose world rotation carries the offset.
        offsets_m: (M, 3) float32 offsets in metres in SMPL's rest frame (x left, y up, z forward).
        weights: (M,) float32 data-term weight of each marker (> 0).
        path: where the mapping was read from (None when built in code).
    """

    names: tuple[str, ...]
    joint_weights: np.ndarray
    frames: np.ndarray
    offsets_m: np.ndarray
    weights: np.ndarray
    path: Path | None = None

    def select(self, sequence: JointSequence) -> np.ndarray:
        """(T, M, 3) float32: the points of ``sequence`` this mapping names, in mapping order.

        Raises:
            InputError: naming the mapping, when it names a point the file does not have.
        """
        missing = [n for n in self.names if n not in sequence.names]
        if missing:
            raise InputError(self.path, f"unknown name {missing[0]!r}: {sequence.path.name} has no such point "
                                        f"(it has: {', '.join(sequence.names)})")
        return sequence.positions[:, [sequence.names.index(n) for n in self.names]]


def identity_mapping() -> MarkerMapping:
    """The mapping for files whose points are SMPL's 24 joints by name (``pelvis``, ``L_hip``, ...): no offsets."""
    return MarkerMapping(names=JOINT_NAMES, joint_weights=np.eye(NUM_JOINTS, dtype=np.float32),
                         frames=np.arange(NUM_JOINTS, dtype=np.int64),
                         offsets_m=np.zeros((NUM_JOINTS, 3), np.float32), weights=np.ones(NUM_JOINTS, np.float32))


def mapping_for(names: tuple[str, ...], path: Path | None = None) -> MarkerMapping:
    """The mapping to use for a file with point ``names``: ``path`` when given, else the identity mapping when the
    names are SMPL joint names, else the ballroom mapping."""
    if path is not None:
        return load_mapping(path)
    if set(names) >= set(JOINT_NAMES):
        return identity_mapping()
    return load_mapping(BALLROOM_MAPPING)


def load_mapping(path: str | Path) -> MarkerMapping:
    """Read and validate a mapping file (see the module docstring).

    Raises:
        InputError: naming ``path``, for unreadable JSON, a wrong format tag, an unknown SMPL joint name, or a
            malformed entry (non-positive weights, an offset that is not 3 numbers, an unknown key).
    """
    path = existing_file(path, "a joint mapping (.json)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"not a readable JSON mapping file ({err})") from None
    if not isinstance(document, dict) or document.get("format") != MAPPING_FORMAT:
        raise InputError(path, f"not a joint mapping: expected a JSON object with \"format\": \"{MAPPING_FORMAT}\"")
    markers = document.get("markers")
    if not isinstance(markers, dict) or not markers:
        raise InputError(path, "\"markers\" must be a non-empty object: source name -> {\"joints\": {...}, ...}")
    rows = [_marker_row(path, name, entry) for name, entry in markers.items()]
    return MarkerMapping(
        names=tuple(markers), joint_weights=np.stack([r[0] for r in rows]),
        frames=np.array([r[1] for r in rows], np.int64), offsets_m=np.stack([r[2] for r in rows]),
        weights=np.array([r[3] for r in rows], np.float32), path=path,
    )


def _marker_row(path: Path, name: str, entry: object) -> tuple[np.ndarray, int, np.ndarray, float]:
    """(joint weights (24,), frame joint, offset (3,), weight) of one mapping entry, validated."""
    if not isinstance(entry, dict) or not isinstance(entry.get("joints"), dict) or not entry["joints"]:
        raise InputError(path, f"marker {name!r}: expected {{\"joints\": {{SMPL joint: weight, ...}}, ...}}")
    extra = set(entry) - _MARKER_KEYS
    if extra:
        raise InputError(path, f"marker {name!r}: unknown key {sorted(extra)[0]!r} (allowed: "
                               f"{', '.join(sorted(_MARKER_KEYS))})")
    weights = np.zeros(NUM_JOINTS, np.float32)
    for joint, weight in entry["joints"].items():
        weights[_joint_index(path, name, joint)] = _positive(path, name, f"joint weight of {joint}", weight)
    weights /= weights.sum()
    frame = _joint_index(path, name, entry.get("frame", next(iter(entry["joints"]))))
    offset = entry.get("offset_m", [0.0, 0.0, 0.0])
    if not (isinstance(offset, list) and len(offset) == 3 and all(_is_number(v) for v in offset)):
        raise InputError(path, f"marker {name!r}: offset_m must be 3 numbers (metres), got {offset!r}")
    return weights, frame, np.array(offset, np.float32), _positive(path, name, "weight", entry.get("weight", 1.0))


def _joint_index(path: Path, marker: str, joint: object) -> int:
    if joint not in JOINT_NAMES:
        raise InputError(path, f"marker {marker!r}: unknown SMPL joint name {joint!r} "
                               f"(known: {', '.join(JOINT_NAMES)})")
    return JOINT_NAMES.index(joint)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)


def _positive(path: Path, marker: str, what: str, value: object) -> float:
    if not _is_number(value) or value <= 0:
        raise InputError(path, f"marker {marker!r}: {what} must be a positive number, got {value!r}")
    return float(value)


def read_joint_file(path: str | Path) -> JointSequence:
    """Read and validate one joint-position ``.npz`` (see the module docstring).

    Raises:
        InputError: naming ``path``: unreadable, a missing key, ``joints`` not (T, J, 3) with T >= 2 and J matching
            ``joint_names``, NaN or infinite values (first bad frame and point named), duplicate names, fps <= 0.
    """
    path = existing_file(path, "a joint-position .npz file")
    arrays = read_npz(path, ("joints", "joint_names", "fps"))
    joints, names, fps = arrays["joints"], arrays["joint_names"], arrays["fps"]
    if names.ndim != 1 or names.dtype.kind != "U" or len(names) == 0:
        raise InputError(path, f"joint_names must be a 1-d array of strings, got {names.dtype} {names.shape}")
    names_tuple = tuple(str(n) for n in names)
    if len(set(names_tuple)) != len(names_tuple):
        raise InputError(path, "joint_names has duplicate names")
    if joints.ndim != 3 or joints.shape[1:] != (len(names_tuple), 3) or joints.shape[0] < 2:
        raise InputError(path, f"joints has shape {joints.shape}, expected (T, {len(names_tuple)}, 3) with T >= 2 "
                               f"(frames, points named by joint_names, xyz metres)")
    if joints.dtype.kind not in "fiu":
        raise InputError(path, f"joints has dtype {joints.dtype}, expected real numbers")
    bad = ~np.isfinite(joints).all(axis=-1)
    if bad.any():
        frame, point = np.argwhere(bad)[0]
        raise InputError(path, f"joints has NaN or infinite values ({int(bad.sum())} points), first at frame "
                               f"{frame}, point {names_tuple[point]!r}")
    if fps.shape != () or fps.dtype.kind not in "fiu" or not np.isfinite(fps) or float(fps) <= 0:
        raise InputError(path, f"fps must be one positive number, got {fps!r}")
    return JointSequence(name=path.stem, path=path, positions=joints.astype(np.float32), names=names_tuple,
                         fps=float(fps))


def list_joint_files(folder: str | Path) -> list[Path]:
    """The ``*.npz`` files of ``folder`` in name order.

    Raises:
        InputError: naming ``folder``, when it is not a folder or holds no ``.npz`` file.
    """
    folder = existing_folder(folder, "a folder of joint-position .npz files (the ballroom layout)")
    files = sorted(p for p in folder.iterdir() if p.suffix == ".npz" and p.is_file())
    if not files:
        raise InputError(folder, "no .npz joint-position files")
    return files
