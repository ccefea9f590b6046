"""Training pairs from the AIST++ layout.

``ROOT/motions/<sequence>.pkl`` (``smpl_poses`` (N, 72) or (N, 24, 3) at 60 fps, read with the restricted unpickler
of :mod:`pose_db.importers.aist`), ``ROOT/splits/crossmodal_{train,val,test}.txt`` (one sequence name a line),
``ROOT/ignore_list.txt`` (sequences to leave out, optional) and the music, one file per music id
(``gBR_sBM_cAll_d04_mBR0_ch01`` -> ``MUSIC_DIR/mBR0.wav`` or ``.mp3``, ...). Each pair is the window centred on a
beat (or 8th/16th position) of the sequence's music and the pose at that instant (60 fps frame ``rint(c / 400)``),
with zero betas (AIST++ has no SMPL shape parameters, only ``smpl_scaling``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from common.constants import FRAME_HOP, NUM_BETAS
from common.errors import InputError
from model.training.data import AUDIO_SUFFIXES, PairSet, SongCache, beat_centres, join_pairs, single_song_pairs
from pose_db.importers.aist import read_poses

SPLIT_FILE: str = "splits/crossmodal_{}.txt"
IGNORE_FILE: str = "ignore_list.txt"
MUSIC_ID = re.compile(r"_(m[A-Z]{2}\d+)(?:_|$)")
"""The music id inside a sequence name (``..._mBR0_ch01`` -> ``mBR0``)."""


def read_names(path: Path) -> list[str]:
    """Non-empty, stripped lines of a split or ignore list."""
    if not path.is_file():
        raise InputError(path, "missing: the AIST++ layout needs the official split files (splits/crossmodal_*.txt)")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split_sequences(root: Path, split: str) -> list[str]:
    """The sequences of ``split`` (train, val or test) minus those in ``ignore_list.txt`` (when present)."""
    ignore_path = root / IGNORE_FILE
    ignored = set(read_names(ignore_path)) if ignore_path.is_file() else set()
    names = [name for name in read_names(root / SPLIT_FILE.format(split)) if name not in ignored]
    if not names:
        raise InputError(root / SPLIT_FILE.format(split), "lists no sequence outside ignore_list.txt")
    return names


def music_file(music_dir: Path, sequence: str) -> Path:
    """The music file of ``sequence`` in ``music_dir``, by the music id in its name."""
    found = MUSIC_ID.search(sequence)
    if found is None:
        raise InputError(None, f"sequence {sequence!r} has no music id (like _mBR0_) in its name")
    for suffix in AUDIO_SUFFIXES:
        path = music_dir / f"{found.group(1)}{suffix}"
        if path.is_file():
            return path
    raise InputError(music_dir, f"no music file {found.group(1)}{{{','.join(AUDIO_SUFFIXES)}}} for sequence "
                                f"{sequence}")


def aist_pairs(root: Path, split: str, cache: SongCache, resolution: str = "4th",
               music_dir: Path | None = None) -> PairSet:
    """The (window, pose) pairs of one AIST++ split.

    Args:
        root: the folder holding ``motions/``, ``splits/`` and ``ignore_list.txt``.
        split: ``train``, ``val`` or ``test``.
        cache: where decoded songs and their beats are kept.
        resolution: positions per beat, ``4th``, ``8th`` or ``16th``.
        music_dir: the music folder (default ``root/music``).
    """
    root = Path(root)
    music_dir = Path(music_dir) if music_dir is not None else root / "music"
    parts = []
    for sequence in split_sequences(root, split):
        motion = root / "motions" / f"{sequence}.pkl"
        if not motion.is_file():
            raise InputError(motion, f"missing: sequence {sequence} of split {split} has no motion file")
        poses = read_poses(motion)
        song = cache.get(music_file(music_dir, sequence))
        centres = beat_centres(song, resolution)
        frames = np.rint(centres / FRAME_HOP).astype(np.int64)
        centres, frames = centres[frames < len(poses)], frames[frames < len(poses)]
        targets = np.concatenate([np.zeros((len(frames), NUM_BETAS), np.float32), poses[frames]], axis=1)
        parts.append(single_song_pairs(song, centres, targets, sequence))
    return join_pairs(parts, root / SPLIT_FILE.format(split))
