"""AIST++ as Dance Revolution training sequences (``train-dance --layout aist``): the same layout ``main.py train``
reads (:mod:`model.training.aist`: ``ROOT/motions/<sequence>.pkl``, ``ROOT/splits/crossmodal_{train,val,test}.txt``,
``ROOT/ignore_list.txt``, the music one file per music id in ``ROOT/music``), the official split's sequences minus
the ignore list.

Each sequence: its music's 438-d features (even 30-fps rows: 15 per second, cached like the ballroom songs') and its
SMPL motion (``smpl_poses`` at 60 fps, ``smpl_trans`` divided by ``smpl_scaling`` to metres; AIST++ motion starts
with its music) resampled to the same 15-fps instants, as 147-d vectors (root translation + 6D), the path centred on
the floor as for the ballroom dances.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.errors import InputError
from common.paths import ASSETS_DIR
from model.dance_revolution.ballroom import MODEL_FPS, music_rows, resample_smpl
from model.dance_revolution.data import DanceSequence

MOTION_FPS: float = 60.0
"""Frame rate of AIST++ motions."""
CACHE: Path = ASSETS_DIR / "cache" / "dance_revolution" / "aist"


def motion_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """SMPL pose (N, 72) radians and root translation (N, 3) metres of one AIST++ motion file (arrays-only unpickler;
    no ``smpl_trans``: the root stays put)."""
    from pose_db.importers.aist import load_motion, read_poses

    pose = read_poses(path)
    data = load_motion(path)
    trans = np.asarray(data.get("smpl_trans", np.zeros((len(pose), 3))), np.float64)
    scaling = float(np.asarray(data.get("smpl_scaling", 1.0), np.float64).reshape(-1)[0])
    if trans.shape != (len(pose), 3) or not np.isfinite(trans).all() or not scaling > 0:
        raise InputError(path, f"smpl_trans must be finite ({len(pose)}, 3) and smpl_scaling positive, got "
                               f"{trans.shape} and {scaling}")
    return pose, trans / scaling


def aist_sequence(root: Path, sequence: str, music_dir: Path, cache: Path) -> DanceSequence:
    """One AIST++ sequence at 15 rows/s: raw features (cached in ``cache``) and 147-d SMPL vectors over the time
    both cover."""
    from model.dance_revolution.poses import smpl_to_vector
    from model.training.aist import music_file

    motion = root / "motions" / f"{sequence}.pkl"
    if not motion.is_file():
        raise InputError(motion, f"missing: sequence {sequence} has no motion file")
    pose, trans = motion_arrays(motion)
    rows = music_rows(music_file(music_dir, sequence), cache)[0::2]
    times = np.arange(len(rows)) / MODEL_FPS
    times = times[times <= (len(pose) - 1) / MOTION_FPS]
    if len(times) < 2:
        raise InputError(motion, "the motion and its music overlap by less than two 15-fps frames")
    pose15, trans15 = resample_smpl(pose, trans, MOTION_FPS, times)
    trans15[:, [0, 2]] -= trans15[:, [0, 2]].mean(axis=0)
    return DanceSequence(sequence, rows[: len(times)], smpl_to_vector(pose15, trans15))


def aist_sequences(root: Path, split: str = "train", music_dir: Path | None = None,
                   cache: Path | None = None) -> list[DanceSequence]:
    """The sequences of the official ``split`` (train, val or test) without those in ``ignore_list.txt``.

    Features are cached under ``cache`` (default :data:`CACHE`) in a folder per music folder, as music files of
    different copies of the layout share names.
    """
    import hashlib

    from model.training.aist import split_sequences

    root = Path(root)
    if not (root / "motions").is_dir():
        raise InputError(root, "has no motions/ folder: not the AIST++ layout (motions/, splits/, music/)")
    music_dir = Path(music_dir) if music_dir is not None else root / "music"
    folder = (cache or CACHE) / hashlib.sha1(str(music_dir.resolve()).encode()).hexdigest()[:12]
    return [aist_sequence(root, name, music_dir, folder) for name in split_sequences(root, split)]
