"""AIST++ motions: ``MOTIONS_DIR/*.pkl`` pickled dicts with ``smpl_poses`` (N, 72) or (N, 24, 3) axis-angle at 60 fps
(plus ``smpl_trans`` and ``smpl_scaling``, which an 82-value pose vector has no room for and are not read).

Files are taken in natsorted order and sampled at ``fps`` frames per second (frames ``floor(j * 60 / fps)``). Betas
are zero (AIST++ fits one body shape per dancer through ``smpl_scaling``). Entry names are ``<motion>_f<frame>``,
the source is the motion name and the frame id is the 60 fps frame number.

The pickles are read with :class:`ArrayUnpickler`, which can only rebuild numpy arrays: a pickle that asks for any
other Python object (for example ``os.system``) is refused before anything runs.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
from natsort import natsorted
from tqdm import tqdm

from common.constants import NUM_BETAS, NUM_JOINTS
from common.errors import InputError
from pose_db.importers import ImportedPoses, real_array
from pose_db.safe_pickle import ArrayUnpickler, RefusedGlobal

MOTION_FPS: int = 60
"""Frame rate of AIST++ SMPL motions."""

def load_motion(file: Path) -> dict:
    """The dict pickled in ``file``, loaded with :class:`pose_db.safe_pickle.ArrayUnpickler` (arrays only).

    Raises:
        InputError: naming ``file``, when the pickle asks for a non-array global, is corrupt or is not a dict.
    """
    try:
        data = ArrayUnpickler(io.BytesIO(file.read_bytes())).load()
    except RefusedGlobal as err:
        raise InputError(file, f"refused: the pickle asks for {err}, and only numpy arrays may be loaded") from None
    except (OSError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            pickle.UnpicklingError) as err:
        raise InputError(file, f"not a readable pickle ({type(err).__name__}: {err})") from None
    if not isinstance(data, dict):
        raise InputError(file, f"holds a {type(data).__name__}, expected a dict with 'smpl_poses'")
    return data


def read_poses(file: Path) -> np.ndarray:
    """(N, 72) float32 axis-angle poses of one motion file."""
    poses = load_motion(file).get("smpl_poses")
    if not isinstance(poses, np.ndarray):
        raise InputError(file, "no 'smpl_poses' array")
    rows = len(poses) if poses.ndim else 0
    if rows == 0 or poses.shape not in ((rows, NUM_JOINTS * 3), (rows, NUM_JOINTS, 3)):
        raise InputError(file, f"smpl_poses has shape {poses.shape}, expected (N, 72) or (N, 24, 3) with N >= 1")
    return real_array(file, "smpl_poses", poses).reshape(rows, NUM_JOINTS * 3)


def sample_frames(frame_count: int, fps: float) -> np.ndarray:
    """(M,) int64 indices of the 60 fps frames kept at ``fps`` frames per second: ``floor(j * 60 / fps)``."""
    step = MOTION_FPS / fps
    count = int(np.ceil(frame_count / step - 1e-9))
    frames = np.floor(np.arange(count) * step + 1e-9).astype(np.int64)
    return frames[frames < frame_count]


def import_aist(motions_dir: Path, fps: float) -> ImportedPoses:
    """Read AIST++ motions from ``motions_dir`` sampled at ``fps`` (0 < fps <= 60) frames per second."""
    motions_dir = Path(motions_dir)
    if not 0 < fps <= MOTION_FPS:
        raise InputError(None, f"--fps must be in (0, {MOTION_FPS}] frames per second, got {fps}")
    if not motions_dir.is_dir():
        raise InputError(motions_dir, "not a folder (expected the AIST++ motions folder of .pkl files)")
    files = natsorted((p for p in motions_dir.iterdir() if p.suffix == ".pkl" and p.is_file()), key=lambda p: p.name)
    if not files:
        raise InputError(motions_dir, "no .pkl motion files")
    vectors, names, sources, frame_ids = [], [], [], []
    for file in tqdm(files, desc="AIST++ motions", unit="file"):
        poses = read_poses(file)
        frames = sample_frames(len(poses), fps)
        vectors.append(np.concatenate([np.zeros((len(frames), NUM_BETAS), np.float32), poses[frames]], axis=1))
        names += [f"{file.stem}_f{frame:05d}" for frame in frames]
        sources += [file.stem] * len(frames)
        frame_ids.append(frames)
    stacked = np.concatenate(vectors)
    zero = ~stacked.any(axis=1)
    if zero.any():
        row = int(np.argmax(zero))
        raise InputError(motions_dir / f"{sources[row]}.pkl", f"frame {names[row]} has an all-zero pose")
    return ImportedPoses(
        vectors=stacked,
        names=names,
        sources=sources,
        frame_ids=np.concatenate(frame_ids),
        info={"importer": "aist", "input": str(motions_dir.resolve()), "fps": fps, "motion_fps": MOTION_FPS,
              "motions": len(files)},
    )
