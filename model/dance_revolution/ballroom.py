"""The ballroom dances (``../shared/data/ballroom``: 23 surface markers at 25 fps + music) as Dance Revolution training
sequences: SMPL fitted by :mod:`motion.fit`, resampled to the model's 15 fps, 147-d vectors (root translation + 6D).

Timing: the set's motion follows a choreography grid that is not aligned with the music in most dances (its
README, "Sync"). Only dances whose ``sync_status`` is in ``statuses`` are used (default: ``in-sync``, ``near``,
``offset``: a lag that is steady through the dance), and each is re-timed by its measured ``sync_lag_s``: the pose
at music time t is the motion at t - lag (positive lag: the music's onsets come after the motion's beats), so the
motion's beats land on the music's. ``drift`` and ``irregular`` dances are left out.

Fits and features are cached under ``assets/cache/dance_revolution/ballroom`` (git-ignored): derived from data that
must never enter the repository, and so are any weights trained on them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.errors import InputError
from common.manifest import MANIFEST_FILE, read_manifest
from common.paths import ASSETS_DIR
from model.dance_revolution.data import DanceSequence

USABLE_STATUSES: tuple[str, ...] = ("in-sync", "near", "offset")
"""``sync_status`` values whose lag is steady enough to re-time by one shift."""
CACHE: Path = ASSETS_DIR / "cache" / "dance_revolution" / "ballroom"
MODEL_FPS: int = 15


def dance_manifest(folder: Path) -> dict[str, dict[str, str]]:
    """``MANIFEST.tsv`` rows by dance name; InputError when the folder has none."""
    if not (folder / MANIFEST_FILE).is_file():
        raise InputError(folder, "has no MANIFEST.tsv: not the ballroom layout (NAME.npz + NAME.ogg + MANIFEST.tsv)")
    return read_manifest(folder)


def fitted_smpl(npz: Path, cache: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """SMPL pose (T, 72) and translation (T, 3) fitted to one dance's markers (cached), and its fps."""
    cached = cache / f"{npz.stem}.fit.npz"
    if cached.is_file() and cached.stat().st_mtime >= npz.stat().st_mtime:
        with np.load(cached) as fit:
            return fit["pose"], fit["transl"], float(fit["fps"])
    from motion.fit import SkeletonFK, fit_sequence
    from motion.joint_files import BALLROOM_MAPPING, load_mapping, read_joint_file
    from pose_db.body import load_body

    sequence = read_joint_file(npz)
    fit = fit_sequence(sequence, load_mapping(BALLROOM_MAPPING), SkeletonFK.from_body(load_body()))
    cache.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(cached.name + ".partial.npz")
    np.savez(partial, pose=fit.pose, transl=fit.transl, fps=np.array(sequence.fps))
    partial.replace(cached)
    return fit.pose, fit.transl, float(sequence.fps)


def music_rows(audio: Path, cache: Path) -> np.ndarray:
    """The song's 438-d features at 30 rows/s (cached)."""
    cached = cache / f"{audio.stem}.features.npy"
    if cached.is_file() and cached.stat().st_mtime >= audio.stat().st_mtime:
        return np.load(cached)
    from live.audio_file import load_song
    from model.dance_revolution.features import FEATURE_RATE, song_features

    rows = song_features(load_song(audio, sample_rate=FEATURE_RATE, min_samples=FEATURE_RATE).samples)
    cache.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(cached.stem + ".partial.npy")
    np.save(partial, rows.astype(np.float32))
    partial.replace(cached)
    return rows.astype(np.float32)


def resample_smpl(pose: np.ndarray, transl: np.ndarray, fps: float, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pose (T, 72) and translation (T, 3) at ``fps`` -> at ``times_s`` (K,) seconds (slerp per joint, linear)."""
    from scipy.spatial.transform import Rotation, Slerp

    source_t = np.arange(len(pose)) / fps
    joints = np.asarray(pose, np.float64).reshape(len(pose), 24, 3)
    out = np.stack([Slerp(source_t, Rotation.from_rotvec(joints[:, j]))(times_s).as_rotvec() for j in range(24)],
                   axis=1)
    moved = np.stack([np.interp(times_s, source_t, transl[:, axis]) for axis in range(3)], axis=1)
    return out.reshape(len(times_s), 72), moved


def ballroom_sequence(folder: Path, name: str, lag_s: float, cache: Path = CACHE) -> DanceSequence:
    """One dance re-timed by ``lag_s`` at 15 rows/s: raw features (even 30-fps rows) and 147-d SMPL vectors."""
    from model.dance_revolution.poses import smpl_to_vector

    npz = folder / f"{name}.npz"
    audio = folder / f"{name}.ogg"
    if not (npz.is_file() and audio.is_file()):
        raise InputError(folder, f"{name} lacks {npz.name} or {audio.name}")
    pose, transl, fps = fitted_smpl(npz, cache)
    rows = music_rows(audio, cache)[0::2]
    times = np.arange(len(rows)) / MODEL_FPS
    valid = np.flatnonzero((times - lag_s >= 0) & (times - lag_s <= (len(pose) - 1) / fps))
    if len(valid) < 2:
        raise InputError(npz, "motion and music do not overlap after re-timing")
    pose15, transl15 = resample_smpl(pose, transl, fps, times[valid] - lag_s)
    transl15[:, [0, 2]] -= transl15[:, [0, 2]].mean(axis=0)  # centre the path on the floor, keep the height
    return DanceSequence(name, rows[valid], smpl_to_vector(pose15, transl15))


def ballroom_sequences(folder: Path, statuses: tuple[str, ...] = USABLE_STATUSES,
                       names: tuple[str, ...] | None = None, cache: Path = CACHE) -> list[DanceSequence]:
    """The usable dances of ``folder`` (``names`` restricts them further), sorted by name."""
    folder = Path(folder)
    manifest = dance_manifest(folder)
    chosen = sorted(name for name, row in manifest.items()
                    if row.get("sync_status") in statuses and (names is None or name in names))
    if not chosen:
        raise InputError(folder, f"no dance with sync_status in {statuses}")
    return [ballroom_sequence(folder, name, float(manifest[name]["sync_lag_s"]), cache) for name in chosen]
