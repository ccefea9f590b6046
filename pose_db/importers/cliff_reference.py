"""The reference's pose database: ``ROOT/CLIFF_output/{train,val,test}/npz/*.npz`` plus ``ROOT/image_database``.

Order exactly as the reference (``model/dataset.py``): the file names of each split folder natsorted, splits joined
train + val + test. Each archive's ``poseshape_82`` array, (82,) or (1, 82), is one entry. Its image is
``ROOT/image_database/<name up to its first '.'>.png`` (the reference's ``name.split('.')[0] + '.png'``), kept when
the file exists. Unlike the reference, archives are read without pickle, files not ending in ``.npz`` are ignored and
a missing split folder is skipped (at least one must exist).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from natsort import natsorted
from tqdm import tqdm

from common.constants import POSE_DIM
from common.errors import InputError
from pose_db.importers import ImportedPoses, read_npz, real_array

SPLITS: tuple[str, ...] = ("train", "val", "test")
POSE_KEY: str = "poseshape_82"


def list_archives(root: Path) -> list[tuple[str, Path]]:
    """(split, file) pairs in the reference's order: natsorted names within each split, train + val + test."""
    folders = {split: root / "CLIFF_output" / split / "npz" for split in SPLITS}
    present = {split: folder for split, folder in folders.items() if folder.is_dir()}
    if not present:
        raise InputError(root, "no CLIFF_output/{train,val,test}/npz folder: not the reference's pose database layout")
    return [(split, folder / name) for split, folder in present.items()
            for name in natsorted(p.name for p in folder.iterdir() if p.name.endswith(".npz") and p.is_file())]


def read_pose(file: Path) -> np.ndarray:
    """The (82,) float32 ``poseshape_82`` vector of one archive."""
    pose = read_npz(file, (POSE_KEY,))[POSE_KEY]
    if pose.shape not in ((POSE_DIM,), (1, POSE_DIM)):
        raise InputError(file, f"{POSE_KEY} has shape {pose.shape}, expected ({POSE_DIM},) or (1, {POSE_DIM})")
    vector = real_array(file, POSE_KEY, pose).reshape(POSE_DIM)
    if not vector.any():
        raise InputError(file, f"{POSE_KEY} is all zeros")
    return vector


def import_cliff_reference(root: Path) -> ImportedPoses:
    """Read the reference's CLIFF pose database under ``root`` (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder (expected the folder holding CLIFF_output and image_database)")
    archives = list_archives(root)
    if not archives:
        raise InputError(root / "CLIFF_output", "no .npz files in the split folders")
    images = root / "image_database"
    vectors = np.stack([read_pose(file) for _, file in tqdm(archives, desc="CLIFF archives", unit="file")])
    image_paths = [images / f"{file.name.split('.')[0]}.png" for _, file in archives]
    splits = [split for split, _ in archives]
    return ImportedPoses(
        vectors=vectors,
        names=[file.name.removesuffix(".npz") for _, file in archives],
        sources=[f"CLIFF_output/{split}" for split in splits],
        frame_ids=np.full(len(archives), -1, np.int64),
        image_paths=[path if path.is_file() else None for path in image_paths],
        info={"importer": "cliff-reference", "input": str(root.resolve()),
              "splits": {split: splits.count(split) for split in SPLITS if split in splits}},
    )
