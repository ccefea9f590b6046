"""Song -> dance with a trained Dance Revolution model, and the files ``main.py generate`` writes.

Steps: song at 15,360 Hz -> 438-d features at 30 rows/s (:func:`song_features`) -> the even rows (the reference's
``_0`` stream, 15 per second) -> the model's stored normalisation -> autoregressive generation from BOS and N(0, 1)
LSTM states (seeded) -> for 3D models, a zero-phase low-pass over the 15-fps poses (:mod:`smoothing`, default
:data:`~model.dance_revolution.smoothing.OFFLINE_CUTOFF_HZ`; 2D output stays the reference's) -> 15 -> 30 fps (2D: the
reference's midpoints; 3D: slerp) -> npz + MP4 with the song's audio.

Long songs (more rows than the positional table, or than ``window_rows``): the decoder runs on without a break (its
LSTM state and previous pose carry over), while the encoder runs on overlapping windows of ``window_rows`` rows with
positions 1..window_rows; each row's encoding is taken from the window where it lies furthest from an edge (windows
advance by ``window_rows - 2 * overlap``, ``overlap = min(n_layers * w, window_rows // 4)`` rows, the encoder's
receptive field). So there is no seam in the motion, only a change of encoder context.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.errors import InputError
from model.dance_revolution.checkpoint import LoadedModel
from model.dance_revolution.features import FEATURE_DIM, FEATURE_RATE, TEMPOGRAM_WINDOW, feature_rows
from model.dance_revolution.network import DanceRevolution

MIN_SONG_ROWS: int = TEMPOGRAM_WINDOW
"""Shortest song in 30-fps feature rows (one tempogram window, 12.8 s): shorter songs' features are mostly padding."""
OUTPUT_FPS: int = 30
MODEL_FPS: int = 15


@dataclass(frozen=True)
class GeneratedDance:
    """A generated dance. ``poses`` (T, P) model form at 15 fps (smoothed at ``smooth_hz``, 0: the model's raw
    output); ``music`` (T, 438) the raw rows it was made from."""

    poses: np.ndarray
    music: np.ndarray
    pose_kind: str
    smooth_hz: float = 0.0


def even_rows(features: np.ndarray) -> np.ndarray:
    """30-fps feature rows -> the reference's even 15-fps stream (rows 0, 2, 4, ...)."""
    return features[0::2]


def encode_windows(network: DanceRevolution, music: torch.Tensor, window_rows: int) -> torch.Tensor:
    """Encoder output (1, T, d_model) for any T, by overlapping windows of ``window_rows`` (module docstring)."""
    length = music.shape[1]
    if length <= window_rows:
        return network.encoder(music, torch.arange(1, length + 1, device=music.device)[None])
    config = network.config
    overlap = min(config.n_layers * config.window, window_rows // 4)
    step = window_rows - 2 * overlap
    positions = torch.arange(1, window_rows + 1, device=music.device)[None]
    out = torch.empty(1, length, config.d_model, dtype=music.dtype, device=music.device)
    filled, begin = 0, 0
    while filled < length:
        begin = min(begin, length - window_rows)
        encoded = network.encoder(music[:, begin : begin + window_rows], positions)
        end = length if begin + window_rows >= length else begin + window_rows - overlap
        out[:, filled:end] = encoded[:, filled - begin : end - begin]
        filled, begin = end, begin + step
    return out


@torch.no_grad()
def generate_rows(loaded: LoadedModel, rows: np.ndarray, *, seed: int = 0, window_rows: int | None = None) -> np.ndarray:
    """Model-form poses (T, P) for raw 15-fps feature rows (T, 438) (module docstring for long songs)."""
    network = loaded.network
    window_rows = min(window_rows or network.config.max_seq_len, network.config.max_seq_len)
    reference = network.linear.weight
    music = torch.from_numpy(loaded.norm.apply(rows)).to(reference)[None]
    encoded = encode_windows(network, music, window_rows)
    state = network.initial_state(1, torch.Generator().manual_seed(seed))
    previous, outputs = network.bos(1), []
    for i in range(music.shape[1]):
        previous, state = network.step(previous, encoded[:, i], state)
        outputs.append(previous)
    return torch.cat(outputs).cpu().numpy()


def default_smooth_hz(pose_kind: str) -> float:
    """The cutoff (Hz) ``generate`` smooths with by default: 3D models ``OFFLINE_CUTOFF_HZ``, 2D none (as the
    reference)."""
    from model.dance_revolution.smoothing import OFFLINE_CUTOFF_HZ

    return OFFLINE_CUTOFF_HZ if pose_kind == "smpl6d" else 0.0


def dance_for_song(loaded: LoadedModel, samples: np.ndarray, path: Path, *, seed: int = 0,
                   window_rows: int | None = None, smooth_hz: float | None = None) -> GeneratedDance:
    """Generate for a decoded song (mono float32 at 15,360 Hz); ``smooth_hz`` None: :func:`default_smooth_hz`.

    Raises:
        InputError: the song is shorter than :data:`MIN_SONG_ROWS` rows, or the model takes another feature width.
    """
    from model.dance_revolution.features import song_features

    if loaded.network.config.feature_dim != FEATURE_DIM:
        raise InputError(path, f"the model takes {loaded.network.config.feature_dim}-d features, the song gives "
                               f"{FEATURE_DIM}")
    if feature_rows(len(samples)) < MIN_SONG_ROWS:
        raise InputError(path, f"is {len(samples) / FEATURE_RATE:.1f} s long; at least {MIN_SONG_ROWS / 30:.1f} s "
                               f"(one tempogram window) is needed")
    from model.dance_revolution.smoothing import smooth_offline

    kind = loaded.network.config.pose_kind
    smooth_hz = default_smooth_hz(kind) if smooth_hz is None else smooth_hz
    rows = even_rows(song_features(samples))
    poses = smooth_offline(generate_rows(loaded, rows, seed=seed, window_rows=window_rows), MODEL_FPS, smooth_hz)
    return GeneratedDance(poses, rows.astype(np.float32), kind, smooth_hz)


def dance_arrays(dance: GeneratedDance) -> dict[str, np.ndarray]:
    """What the npz holds. 2D: ``keypoints`` (2T, 25, 3) absolute [-1, 1] x, y + score and ``keypoints_px`` on the
    1280 x 720 canvas; 3D: ``pose`` (2T, 72) axis-angle radians and ``transl`` (2T, 3) metres. Both: ``fps`` (30),
    ``poses_15fps`` (T, P) model form (smoothed), ``music_15fps`` (T, 438) raw features, ``smooth_hz`` (the cutoff,
    0: none)."""
    from model.dance_revolution.poses import (double_rate_2d, double_rate_smpl, keypoints_from_model, to_pixels,
                                              vector_to_smpl)

    arrays = {"fps": np.array(OUTPUT_FPS), "poses_15fps": dance.poses, "music_15fps": dance.music,
              "smooth_hz": np.array(dance.smooth_hz)}
    if dance.pose_kind == "openpose2d":
        keypoints = double_rate_2d(keypoints_from_model(dance.poses))
        return {**arrays, "keypoints": keypoints, "keypoints_px": to_pixels(keypoints).astype(np.float32)}
    pose, transl = double_rate_smpl(*vector_to_smpl(dance.poses))
    return {**arrays, "pose": pose, "transl": transl}


def video_frames(arrays: dict[str, np.ndarray], size: int):
    """The MP4's frames: the reference skeleton (2D, 1280 x 720) or the body (3D, ``size`` square)."""
    if "keypoints_px" in arrays:
        from model.dance_revolution.render import draw_skeleton

        return (draw_skeleton(frame) for frame in arrays["keypoints_px"]), (1280, 720)
    from pose_db.body import load_body
    from pose_db.render import PoseRenderer

    renderer = PoseRenderer(load_body(), size, size)
    floor_path = arrays["transl"] * np.array([1.0, 0.0, 1.0])  # the renderer grounds the body: horizontal part only
    return ((renderer.render_pose(pose, None, root) for pose, root in zip(arrays["pose"], floor_path)), (size, size))


def write_dance_bvh(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a 3D dance's 30-fps ``pose`` (T, 72) and ``transl`` (T, 3) (:func:`dance_arrays`) as SMPL-skeleton BVH on
    the mean-shape body (:mod:`motion.export`; ``transl`` is the pelvis' move from its rest place)."""
    from motion.export import write_bvh
    from motion.frame import frame_from_rotvecs
    from motion.ik import skeleton_of
    from pose_db.body import load_body

    frames = [frame_from_rotvecs(i / OUTPUT_FPS, pose.reshape(24, 3), root)
              for i, (pose, root) in enumerate(zip(arrays["pose"], arrays["transl"]))]
    write_bvh(path, frames, skeleton_of(load_body()), OUTPUT_FPS)
