"""Training data of Dance Revolution: (music features, poses) sequences at the model's frame rate, cut into windows.

A :class:`DanceSequence` is one dance: ``music`` (T, 438) raw features and ``poses`` (T, P) in model form, row t of
both at the same instant (15 rows per second for the reference). Windows are the reference's
(``v2/utils/functional.py:load_data``): non-overlapping ``seq_len`` rows, the incomplete tail dropped.

Layouts:
- ``json2d``: the reference's prepro output (facts section 3), one JSON file per sample with ``id``,
  ``music_array`` (T x 438) and ``dance_array`` (T x 274, OpenPose x/y in [-1, 1]); the first 50 values (BODY_25)
  are made root-relative (:func:`model.dance_revolution.network.absolute_to_relative`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import InputError
from common.validation import folder_files
from model.dance_revolution.features import FEATURE_DIM
from model.dance_revolution.network import absolute_to_relative

BODY_VALUES: int = 50
"""x/y values of the 25 BODY_25 joints at the start of a prepro ``dance_array`` row."""


@dataclass(frozen=True)
class DanceSequence:
    """One dance: ``music`` (T, 438) float32 raw features, ``poses`` (T, P) float32 model-form poses, same rate."""

    name: str
    music: np.ndarray
    poses: np.ndarray


def read_json2d_sample(path: Path) -> DanceSequence:
    """One prepro sample file -> a sequence (2D, root-relative). Raises InputError on anything malformed."""
    try:
        sample = json.loads(path.read_text())
        music = np.asarray(sample["music_array"], np.float32)
        dance = np.asarray(sample["dance_array"], np.float32)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise InputError(path, f"not a Dance Revolution sample (JSON with music_array and dance_array): "
                               f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from err
    if music.ndim != 2 or music.shape[1] != FEATURE_DIM:
        raise InputError(path, f"music_array must be T x {FEATURE_DIM}, got shape {music.shape}")
    if dance.ndim != 2 or dance.shape[1] < BODY_VALUES:
        raise InputError(path, f"dance_array must be T x >= {BODY_VALUES} (274 in prepro), got shape {dance.shape}")
    length = min(len(music), len(dance))
    poses = absolute_to_relative(dance[:length, :BODY_VALUES]).astype(np.float32)
    return DanceSequence(str(sample.get("id", path.stem)), music[:length], poses)


def read_json2d(folder: Path) -> list[DanceSequence]:
    """Every ``*.json`` sample in ``folder``, sorted by name."""
    return [read_json2d_sample(path) for path in folder_files(folder, "*.json", "Dance Revolution sample JSON files")]


def cut_windows(sequences: list[DanceSequence], seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows of ``seq_len`` rows (tails dropped): music (N, seq_len, 438), poses (N, seq_len, P).

    Raises:
        InputError: no sequence is as long as one window.
    """
    music, poses = [], []
    for sequence in sequences:
        for start in range(0, len(sequence.music) - seq_len + 1, seq_len):
            music.append(sequence.music[start : start + seq_len])
            poses.append(sequence.poses[start : start + seq_len])
    if not music:
        longest = max((len(s.music) for s in sequences), default=0)
        raise InputError(None, f"no training window: every dance is shorter than --seq-len {seq_len} rows "
                               f"(longest {longest})")
    return np.stack(music), np.stack(poses)
