"""Training pairs from the CLIFF-image layout: beat-aligned frames of dance videos with CLIFF estimates.

``ROOT/CLIFF_output/{train,val,test}/npz/<name>_<frame>.npz`` each hold ``poseshape_82`` (82 or 1 x 82: 10 betas,
72 axis-angle) for the video frame ``<frame>`` (60 fps, the number after the last ``_``, as the reference names its
``<song>_<n>_<frame>`` folders); the song is the one audio file in ``ROOT`` (or ``--music``). Each archive is one
pair: the window centred on sample ``frame * 400`` and its pose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from natsort import natsorted

from common.constants import FRAME_HOP
from common.errors import InputError
from model.training.data import AUDIO_SUFFIXES, PairSet, SongCache, full_window, join_pairs, single_song_pairs
from pose_db.importers.cliff_reference import read_pose


def only_song(root: Path) -> Path:
    """The single audio file directly in ``root``."""
    songs = [path for path in root.iterdir() if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file()]
    if len(songs) != 1:
        raise InputError(root, f"expected exactly one song file next to CLIFF_output, found {len(songs)} "
                               f"(name it with --music)")
    return songs[0]


def archive_frame(path: Path) -> int:
    """The 60 fps frame number at the end of an archive's name (``..._<frame>.npz``)."""
    token = path.name.removesuffix(".npz").rpartition("_")[2]
    if not token.isdigit():
        raise InputError(path, "the name must end in _<frame>.npz (the 60 fps video frame of the pose)")
    return int(token)


def cliff_pairs(root: Path, split: str, cache: SongCache, music: Path | None = None) -> PairSet:
    """The (window, pose) pairs of one split of the CLIFF-image layout under ``root``."""
    root = Path(root)
    folder = root / "CLIFF_output" / split / "npz"
    if not folder.is_dir():
        raise InputError(folder, f"missing: the CLIFF-image layout needs CLIFF_output/{split}/npz")
    archives = [folder / name for name in natsorted(p.name for p in folder.iterdir() if p.name.endswith(".npz"))]
    song = cache.get(Path(music) if music is not None else only_song(root))
    centres = np.array([archive_frame(path) * FRAME_HOP for path in archives], np.int64)
    keep = full_window(centres, song.length)
    targets = np.array([read_pose(path) for path, kept in zip(archives, keep) if kept], np.float32)
    return join_pairs([single_song_pairs(song, centres[keep], targets, f"CLIFF_output/{split}")], folder)
