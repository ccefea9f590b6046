"""Real dances as fitted SMPL motion: a "DANCES" folder in the ballroom layout -> :class:`Dance` per dance (pose,
root path, shape, joints, music, beats, sync status), for scoring generated motion against (``evaluate-dance``) and
for building banks (``bank build --from joints``).

Fits are cached under ``out/cache/fits/`` (git-ignored): one ``.npz`` per dance, named by a hash of the joint file's
bytes, the mapping file, the body model and the fit settings, so a changed input is refitted and nothing derived from
a dance is ever written into the repository's tracked files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from common.errors import InputError
from common.manifest import read_manifest
from common.paths import REPO_ROOT
from motion.fit import FitConfig, FittedMotion, SkeletonFK, fit_sequence
from motion.joint_files import JointSequence, MarkerMapping, list_joint_files, mapping_for, read_joint_file
from motion.metrics import DanceClip

FIT_CACHE_DIR: Path = REPO_ROOT / "out" / "cache" / "fits"
"""Default cache of fitted dances (git-ignored ``/out/``)."""
MUSIC_SUFFIXES: tuple[str, ...] = (".ogg", ".flac", ".wav", ".mp3")
_CACHE_VERSION: int = 2
"""Bumped when the fitting code changes what it produces, so old cache entries are not reused."""


@dataclass(frozen=True)
class Dance:
    """One real dance, fitted to SMPL.

    Attributes:
        name: the joint file's stem (``DANCE_W_22``).
        motion: the fit (pose (T,72), transl (T,3), betas (10,), joints (T,24,3) metres, per-marker error, fps).
        music: the music file starting at frame 0 (``NAME.ogg`` ...), or None.
        beats_s: music beat times in seconds from ``NAME.beats.txt``, or None when there is no beat file.
        sync_status: the manifest's ``sync_status`` (``in-sync``, ``near``, ``offset``, ``drift``, ``irregular``), or
            ``unknown`` without a manifest row.
        style: the manifest's ``style`` (``waltz`` ...), or ``unknown``.
    """

    name: str
    motion: FittedMotion
    music: Path | None
    beats_s: np.ndarray | None
    sync_status: str
    style: str

    def clip(self) -> DanceClip:
        """This dance for :mod:`motion.metrics` (SMPL joints, fps, beats)."""
        return DanceClip(self.motion.joints, self.motion.fps, self.beats_s)


def read_beats(path: Path) -> np.ndarray:
    """Beat times (seconds, one per line, increasing) of a ``.beats.txt`` file; InputError naming a bad line."""
    times = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            times.append(float(line.split()[0]))
        except ValueError:
            raise InputError(path, f"line {number}: {line.strip()[:40]!r} is not a time in seconds") from None
    beats = np.array(times, np.float64)
    if not np.isfinite(beats).all() or np.any(np.diff(beats) <= 0):
        raise InputError(path, "beat times must be finite and increasing")
    return beats


def fitted_motion(sequence: JointSequence, mapping: MarkerMapping, skeleton: SkeletonFK, body_name: str, *,
                  config: FitConfig = FitConfig(), cache_dir: Path | None = FIT_CACHE_DIR) -> FittedMotion:
    """The SMPL fit of ``sequence``, read from ``cache_dir`` when an identical fit is there, else fitted and stored
    (``cache_dir`` None: no cache)."""
    if cache_dir is None:
        return fit_sequence(sequence, mapping, skeleton, config)
    file = Path(cache_dir) / f"{sequence.name}-{_fit_key(sequence, mapping, body_name, config)}.npz"
    if file.is_file():
        try:
            with np.load(file, allow_pickle=False) as data:
                return FittedMotion(pose=data["pose"], transl=data["transl"], betas=data["betas"],
                                    joints=data["joints"], marker_error_m=data["marker_error_m"],
                                    marker_names=mapping.names, offsets_m=data["offsets_m"], fps=sequence.fps)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is refitted and overwritten
    fit = fit_sequence(sequence, mapping, skeleton, config)
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(f".{file.stem}.{os.getpid()}.tmp.npz")
    np.savez(partial, pose=fit.pose, transl=fit.transl, betas=fit.betas, joints=fit.joints,
             marker_error_m=fit.marker_error_m, offsets_m=fit.offsets_m)
    os.replace(partial, file)
    return fit


def _fit_key(sequence: JointSequence, mapping: MarkerMapping, body_name: str, config: FitConfig) -> str:
    digest = hashlib.sha256(sequence.path.read_bytes())
    digest.update(json.dumps([_CACHE_VERSION, body_name, asdict(config), mapping.names]).encode())
    for array in (mapping.joint_weights, mapping.frames, mapping.offsets_m, mapping.weights):
        digest.update(np.ascontiguousarray(array).tobytes())  # the mapping's content, not its file's layout
    return digest.hexdigest()[:16]


def load_dances(folder: str | Path, *, mapping: str | Path | None = None, body_path: str | Path | None = None,
                config: FitConfig = FitConfig(), cache_dir: Path | None = FIT_CACHE_DIR,
                progress: Callable[[str], None] | None = None) -> list[Dance]:
    """Every dance of ``folder`` (``*.npz`` in name order, the ballroom layout), fitted to SMPL with ``mapping``
    (default: :func:`motion.joint_files.mapping_for`) on the body ``body_path`` (default: the bundled or user SMPL
    body), fits cached in ``cache_dir``. ``progress`` is called with each dance's name before it is loaded."""
    from pose_db.body import load_body

    folder = Path(folder)
    files = list_joint_files(folder)
    manifest = read_manifest(folder)
    body = load_body(body_path)
    skeleton = SkeletonFK.from_body(body)
    dances = []
    for file in files:
        if progress is not None:
            progress(file.stem)
        sequence = read_joint_file(file)
        chosen = mapping_for(sequence.names, None if mapping is None else Path(mapping))
        motion = fitted_motion(sequence, chosen, skeleton, body.name, config=config, cache_dir=cache_dir)
        row = manifest.get(sequence.name, {})
        beats_file = folder / f"{sequence.name}.beats.txt"
        dances.append(Dance(
            name=sequence.name, motion=motion, music=_music_file(folder, sequence.name),
            beats_s=read_beats(beats_file) if beats_file.is_file() else None,
            sync_status=row.get("sync_status", "unknown"), style=row.get("style", "unknown"),
        ))
    return dances


def _music_file(folder: Path, name: str) -> Path | None:
    return next((folder / f"{name}{s}" for s in MUSIC_SUFFIXES if (folder / f"{name}{s}").is_file()), None)
