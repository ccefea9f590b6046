"""Joint or marker positions (a folder in the ``../shared/data/ballroom`` layout: ``NAME.npz`` with ``joints`` (T, J, 3)
metres, ``joint_names``, ``fps``) -> SMPL poses, through :mod:`motion.fit` and a mapping file
(:mod:`motion.joint_files`; default: the identity for SMPL joint names, else ``motion/mappings/ballroom.json``).

Each file is fitted whole (fits cached under ``out/cache/fits/``), then sampled at ``fps`` frames per second
(frames ``round(j * file_fps / fps)``). Poses lose their heading (every entry faces +Z, like the bundled bank) and
near-duplicates are dropped (farthest-point selection, :data:`DEDUP_THRESHOLD_M` mean joint distance). Each entry
keeps its sequence's fitted betas, is named ``<file>_f<frame>`` (frame at the file's rate) and gets a thumbnail
rendered into ``images_dir``, which :func:`pose_db.bank.write_bank` copies into the bank.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from common.constants import NUM_JOINTS
from common.errors import InputError
from pose_db.importers import ImportedPoses

if TYPE_CHECKING:
    from motion.fit import SkeletonFK
    from pose_db.body import BodyModel

DEFAULT_FPS: float = 5.0
"""Frames per second kept from each sequence when ``--fps`` is not given."""
DEDUP_THRESHOLD_M: float = 0.06
"""Poses closer than this mean per-joint distance (metres, heading removed) to a kept pose are dropped."""
THUMBNAIL_SIZE: int = 256


def import_joints(folder: Path, mapping: Path | None, fps: float | None, images_dir: Path) -> ImportedPoses:
    """Fit, sample, deduplicate and render the joint files of ``folder``; thumbnails go to ``images_dir``."""
    from motion.dances import fitted_motion
    from motion.fit import SkeletonFK
    from motion.joint_files import list_joint_files, mapping_for, read_joint_file
    from pose_db.body import load_body

    keep_fps = DEFAULT_FPS if fps is None else fps
    if not 0 < keep_fps <= 1000:
        raise InputError(None, f"--fps must be in (0, 1000] frames per second, got {keep_fps}")
    files = list_joint_files(folder)
    sequences = [read_joint_file(f) for f in files]  # every file checked before any fitting
    mappings = [mapping_for(s.names, mapping) for s in sequences]
    for sequence, chosen in zip(sequences, mappings, strict=True):
        chosen.select(sequence)  # an unknown name fails now, not after minutes of fitting
    body = load_body()
    skeleton = SkeletonFK.from_body(body)
    vectors, names, sources, frame_ids = [], [], [], []
    for sequence, chosen in tqdm(list(zip(sequences, mappings, strict=True)), desc="fitting", unit="file"):
        fit = fitted_motion(sequence, chosen, skeleton, body.name)
        frames = _sampled_frames(len(fit.pose), sequence.fps, keep_fps)
        pose = fit.pose[frames].copy()
        pose[:, :3] = _without_heading(pose[:, :3])
        vectors.append(np.concatenate([np.tile(fit.betas, (len(frames), 1)), pose], axis=1))
        names += [f"{sequence.name}_f{f:05d}" for f in frames]
        sources += [sequence.name] * len(frames)
        frame_ids.append(frames)
    stacked = np.concatenate(vectors).astype(np.float32)
    kept = _distinct(stacked, skeleton)
    images = render_thumbnails(body, stacked[kept], images_dir)
    return ImportedPoses(
        vectors=stacked[kept], names=[names[i] for i in kept], sources=[sources[i] for i in kept],
        frame_ids=np.concatenate(frame_ids)[kept], image_paths=images,
        info={"importer": "joints", "input": str(Path(folder).resolve()), "fps": keep_fps,
              "mappings": sorted({str(m.path) if m.path else "identity (SMPL joint names)" for m in mappings}),
              "body": body.name, "heading": "removed", "dedup_threshold_m": DEDUP_THRESHOLD_M,
              "candidates": len(stacked), "files": len(files)},
    )


def _sampled_frames(count: int, file_fps: float, keep_fps: float) -> np.ndarray:
    """(M,) int64 frame indices kept at ``keep_fps`` from ``count`` frames at ``file_fps`` (all when faster)."""
    step = max(file_fps / keep_fps, 1.0)
    frames = np.round(np.arange(0, count - 0.5, step)).astype(np.int64)
    return np.unique(frames[frames < count])


def _without_heading(orient: np.ndarray) -> np.ndarray:
    """(N, 3) global orientations with their rotation about world Y removed (pitch and roll kept)."""
    from scipy.spatial.transform import Rotation

    from pose_db.mocap.retarget import remove_heading

    return remove_heading(Rotation.from_rotvec(orient.astype(np.float64))).as_rotvec().astype(np.float32)


def _distinct(vectors: np.ndarray, skeleton: SkeletonFK) -> np.ndarray:
    """Sorted indices of the poses kept by farthest-point selection on root-relative SMPL joints."""
    import torch

    from common.constants import NUM_BETAS
    from pose_db.mocap.dedup import select_distinct

    with torch.no_grad():
        joints = np.concatenate([
            skeleton.forward(torch.as_tensor(block[:, NUM_BETAS:]).reshape(-1, NUM_JOINTS, 3),
                             torch.zeros(NUM_BETAS))[0].numpy()
            for block in np.array_split(vectors, max(1, len(vectors) // 4096))
        ])
    return select_distinct(joints - joints[:, :1], DEDUP_THRESHOLD_M)


def render_thumbnails(body: BodyModel, vectors: np.ndarray, folder: Path) -> list[Path]:
    """One :data:`THUMBNAIL_SIZE` PNG per pose vector (N, 82), ``folder/<index>.png``; returns the paths."""
    from PIL import Image

    from pose_db.render import PoseRenderer

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:05d}.png" for i in range(len(vectors))]
    with PoseRenderer(body, THUMBNAIL_SIZE, THUMBNAIL_SIZE) as renderer:
        for vector, path in tqdm(list(zip(vectors, paths, strict=True)), desc="thumbnails", unit="pose"):
            Image.fromarray(renderer.render(vector)).save(path)
    return paths
