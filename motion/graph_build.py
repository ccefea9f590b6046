"""Building a :class:`~motion.graph.MotionGraph` from real motion clips (``python main.py motion build``).

Each clip is resampled to the graph's frame rate and cut at its beats: the music's beats when the clip comes with a
beat file, else its motion beats (local minima of the mean joint speed, :func:`motion_beat_frames`). Consecutive
beats make the segments (``segment_beats`` beats each); a gap shorter than :data:`MIN_BEAT_S` or longer than
:data:`MAX_BEAT_S` per beat is not a segment (a pause or a glitch in the beat list breaks the clip there).

Sources (:func:`load_sources`), by what a folder or file holds:

- AIST++ motions (``*.pkl`` with ``smpl_poses``, ``smpl_trans``, ``smpl_scaling``; read by
  :mod:`pose_db.importers.aist`, which refuses any pickle that is not plain arrays), 60 fps, with root motion;
- BVH files (CMU or assimp's boxing skeleton; :mod:`pose_db.mocap.bvh_source`) and DeepMimic ``humanoid3d_*.txt``
  motions, retargeted to SMPL (heading removed, no root travel: they dance in place);
- joint-position folders in the ballroom layout (``*.npz``; fitted to SMPL by :mod:`motion.dances`, cached), with
  root motion and the folder's beat files.

Every clip is also added mirrored left/right (``mirror=True``). The bundled default graph (:func:`default_clips`) is
built at set-up from the mocap clips the default pose bank comes from (``tools/build_default_bank.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d, minimum_filter1d
from scipy.signal import find_peaks

from common.constants import NUM_JOINTS
from common.errors import InputError
from common.paths import REPO_ROOT
from motion.graph import GraphClip, MotionGraph, leg_length_m, raw_features, template_leg_m, template_positions

GRAPH_FPS = 30.0
"""Frame rate of stored graphs (frames per second)."""
MIN_BEAT_S = 0.25
MAX_BEAT_S = 1.5
"""Shortest and longest beat (seconds) a segment may span per beat."""
MAX_ACCEL = 150.0
"""Joint acceleration (m/s^2, second differences at the graph's rate) above which a segment counts as a glitch and is
left out (real dancers in the ballroom set: 99.9 % of joint-frames under about 60)."""
FLOOR_WINDOW_S = 2.0
"""Span (seconds) over which the lowest joint's minimum height is the floor under a clip (:func:`grounded_root`)."""
SPEED_SMOOTHING_S = 0.08
"""Gaussian smoothing (sigma, seconds) of the joint speed before its minima are taken as motion beats."""
DEFAULT_GRAPH_DIR: Path = REPO_ROOT / "assets" / "graph"
"""Where set-up builds the default graph from the bundled mocap clips (git-ignored)."""
BVH_DIR = Path("/usr/share/assimp/models/BVH")
DEEPMIMIC_CACHE = REPO_ROOT / "assets" / "cache" / "deepmimic"
DEFAULT_BVH: tuple[str, ...] = ("Boxing_Toes.bvh",)
DEFAULT_DEEPMIMIC: tuple[str, ...] = ("dance_a", "dance_b", "punch", "kick")
"""The upright, dance-like clips of the default bank's sources (no crawling, rolling or flips); looping ones are
played :data:`LOOPS` times."""
LOOPS = 4


@dataclass(frozen=True)
class SourceClip:
    """A motion to put in a graph.

    Attributes:
        name, source: identifiers (a file stem; where it comes from).
        rotvecs: (T, 24, 3) SMPL local rotations, axis-angle radians (the root's in the world, Y up, facing +Z at 0).
        root: (T, 3) pelvis moved from its rest place, metres.
        fps: frames per second.
        beats_s: music beats (seconds from frame 0), or None: cut at the motion's own beats.
        leg_m: leg length (thigh + shin, metres) of the body whose root travelled ``root``; None: SMPL's template.
    """

    name: str
    source: str
    rotvecs: np.ndarray
    root: np.ndarray
    fps: float
    beats_s: np.ndarray | None = None
    leg_m: float | None = None


def mirrored(clip: SourceClip) -> SourceClip:
    """``clip`` reflected left/right (across the body's YZ plane)."""
    from pose_db.mocap.retarget import mirror_poses

    poses = mirror_poses(clip.rotvecs.reshape(len(clip.rotvecs), -1).astype(np.float32))
    return replace(clip, name=f"{clip.name}:mirror", rotvecs=poses.reshape(-1, NUM_JOINTS, 3).astype(np.float64),
                   root=clip.root * np.array([-1.0, 1.0, 1.0]))


def resample(clip: SourceClip, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(quaternions (T', 24, 4), root (T', 3)) of ``clip`` at ``fps`` over the same span (normalised linear
    interpolation of quaternions on the short arc, linear root)."""
    from scipy.spatial.transform import Rotation

    quats = Rotation.from_rotvec(clip.rotvecs.reshape(-1, 3)).as_quat().reshape(-1, NUM_JOINTS, 4)
    for t in range(1, len(quats)):  # one hemisphere along time, so interpolation takes the short way
        flip = np.sum(quats[t] * quats[t - 1], axis=-1) < 0
        quats[t, flip] *= -1
    duration = (len(quats) - 1) / clip.fps
    times = np.arange(int(np.floor(duration * fps + 1e-9)) + 1) / fps
    position = times * clip.fps
    i0 = np.minimum(np.floor(position).astype(int), len(quats) - 1)
    i1 = np.minimum(i0 + 1, len(quats) - 1)
    w = (position - i0)[:, None]
    q = (1 - w[:, None]) * quats[i0] + w[:, None] * quats[i1]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return q, (1 - w) * clip.root[i0] + w * clip.root[i1]


def motion_beat_frames(positions: np.ndarray, fps: float, min_gap_s: float = MIN_BEAT_S) -> np.ndarray:
    """Motion beats (frame indices) of joint positions (T, 24, 3) metres at ``fps``: local minima of the mean joint
    speed smoothed over :data:`SPEED_SMOOTHING_S` (a flat minimum counts once, at its middle), no two closer than
    ``min_gap_s`` (the slower one kept)."""
    speed = np.linalg.norm(np.diff(positions, axis=0), axis=-1).mean(-1) * fps
    smooth = gaussian_filter1d(speed, SPEED_SMOOTHING_S * fps)
    minima, _ = find_peaks(-smooth, distance=max(1, int(round(min_gap_s * fps))))
    return (minima + 1).astype(np.int64)


def clip_segments(beat_frames: np.ndarray, fps: float, segment_beats: int) -> np.ndarray:
    """(S, 2) [first, landing] frames of the segments of ``segment_beats`` beats between ``beat_frames`` whose every
    beat lasts :data:`MIN_BEAT_S` .. :data:`MAX_BEAT_S`."""
    gaps = np.diff(beat_frames) / fps
    good = (gaps >= MIN_BEAT_S) & (gaps <= MAX_BEAT_S)
    rows = [(beat_frames[i], beat_frames[i + segment_beats])
            for i in range(0, len(beat_frames) - segment_beats)
            if good[i:i + segment_beats].all()]
    return np.array(rows, np.int64).reshape(-1, 2)


def grounded_root(quats: np.ndarray, root: np.ndarray, fps: float) -> np.ndarray:
    """``root`` (T, 3) metres with its height moved so the body of ``quats`` (T, 24, 4) at ``fps`` stands on the
    template's floor (the rest pose's lowest joint): the floor under the clip is the lowest joint's height, its minimum
    over :data:`FLOOR_WINDOW_S` smoothed over a quarter of that, so a slow drift of the source's height (a fit, a
    stitched capture) is removed and the body's own ups and downs within a step are kept."""
    from pose_db.mocap.retarget import SMPL_TEMPLATE_JOINTS

    out = np.array(root, np.float64)
    lowest = template_positions(quats)[..., 1].min(axis=1) + out[:, 1]
    window = max(1, int(round(FLOOR_WINDOW_S * fps)))
    floor = gaussian_filter1d(minimum_filter1d(lowest, window, mode="nearest"), window / 4, mode="nearest")
    out[:, 1] += float(SMPL_TEMPLATE_JOINTS[:, 1].min()) - floor
    return out


def smooth_segments(segments: np.ndarray, positions: np.ndarray, fps: float,
                    max_accel: float = MAX_ACCEL) -> np.ndarray:
    """The rows of ``segments`` (S, 2) whose joints (``positions`` (T, 24, 3) metres at ``fps``) never accelerate
    faster than ``max_accel`` (m/s^2): a glitch in the source (a marker swap, a bad fit) is not played."""
    accel = np.zeros(len(positions))
    if len(positions) > 2:
        step = np.linalg.norm(positions[2:] - 2 * positions[1:-1] + positions[:-2], axis=-1).max(1) * fps * fps
        accel[1:-1] = step
    keep = [accel[first:last + 1].max() <= max_accel for first, last in segments]
    return segments[np.array(keep, bool)] if len(segments) else segments


def build_graph(clips: Sequence[SourceClip], *, fps: float = GRAPH_FPS, segment_beats: int = 1,
                mirror: bool = True, info: dict | None = None) -> MotionGraph:
    """The graph of ``clips`` (and their mirror images when ``mirror``) at ``fps``, segments of ``segment_beats``
    beats; InputError when no clip yields a segment."""
    rotations, roots, segments, beats, raws, placed = [], [], [], [], [], []
    first = 0
    for clip in [m for c in clips for m in ((c, mirrored(c)) if mirror else (c,))]:
        quats, root = resample(clip, fps)
        root = grounded_root(quats, root * (1.0 if clip.leg_m is None else template_leg_m() / clip.leg_m), fps)
        positions = template_positions(quats) + root[:, None]
        if clip.beats_s is not None:
            frames = np.round(np.asarray(clip.beats_s) * fps).astype(np.int64)
            beat_frames = frames[(frames >= 0) & (frames < len(quats))]
        else:
            beat_frames = motion_beat_frames(positions, fps)
        cuts = smooth_segments(clip_segments(beat_frames, fps, segment_beats), positions, fps)
        if len(cuts) == 0:
            continue
        rotations.append(quats.astype(np.float32))
        roots.append(root.astype(np.float32))
        segments.append(cuts + first)
        beats.append(beat_frames + first)
        raws.append(raw_features(quats, root, fps))
        placed.append(GraphClip(clip.name, clip.source, first, len(quats)))
        first += len(quats)
    if not placed:
        raise InputError(None, "no clip has two beats far enough apart to make a segment: nothing to build")
    raw = np.concatenate(raws)
    offset = raw.mean(0)
    scale = np.maximum(raw.std(0), 1e-3)
    return MotionGraph(
        rotations=np.concatenate(rotations), root=np.concatenate(roots), segments=np.concatenate(segments),
        beat_frames=np.concatenate(beats), features=((raw - offset) / scale).astype(np.float32),
        feature_offset=offset.astype(np.float32), feature_scale=scale.astype(np.float32), fps=float(fps),
        clips=tuple(placed), segment_beats=segment_beats, info=info,
    )


# -- sources ---------------------------------------------------------------------------------------------------------

def retargeted_clip(motion: object, *, loops: int = 1) -> SourceClip:
    """A :class:`pose_db.mocap.retarget.MotionClip` retargeted to SMPL (in place: no root travel), its frames played
    ``loops`` times."""
    from pose_db.mocap.retarget import retarget

    poses = retarget(motion).reshape(-1, NUM_JOINTS, 3).astype(np.float64)
    if loops > 1:
        poses = np.concatenate([poses[:-1]] * (loops - 1) + [poses])
    step = int(motion.frame_ids[1] - motion.frame_ids[0]) if len(motion.frame_ids) > 1 else 1
    return SourceClip(motion.name, motion.source, poses, np.zeros((len(poses), 3)), float(motion.fps / step))


def aist_clip(file: Path) -> SourceClip:
    """One AIST++ motion (60 fps) with its root path (``smpl_trans / smpl_scaling``, metres)."""
    from pose_db.importers.aist import MOTION_FPS, load_motion, read_poses

    poses = read_poses(file).reshape(-1, NUM_JOINTS, 3).astype(np.float64)
    data = load_motion(file)
    trans = np.asarray(data.get("smpl_trans", np.zeros((len(poses), 3))), np.float64).reshape(-1, 3)
    scale = float(np.asarray(data.get("smpl_scaling", [1.0])).reshape(-1)[0])
    if len(trans) != len(poses) or not np.isfinite(trans).all() or scale <= 0:
        raise InputError(file, "smpl_trans must be (N, 3) finite, like smpl_poses, and smpl_scaling positive")
    root = trans / scale
    return SourceClip(file.stem, f"AIST++ {file.stem}", poses, root - root[:1] * np.array([1.0, 0.0, 1.0]),
                      float(MOTION_FPS))


def dance_clips(folder: Path, progress: Callable[[str], None] | None = None) -> list[SourceClip]:
    """The dances of a joint-position folder (ballroom layout), fitted to SMPL (cached by :mod:`motion.dances`)."""
    from motion.dances import load_dances

    return [clip_of_dance(d) for d in load_dances(folder, progress=progress)]


def clip_of_dance(dance: object) -> SourceClip:
    """A fitted :class:`motion.dances.Dance` as a source clip (root = the fit's translation, music beats if any)."""
    motion = dance.motion
    root = np.asarray(motion.transl, np.float64)
    poses = np.asarray(motion.pose, np.float64).reshape(-1, NUM_JOINTS, 3)
    return SourceClip(dance.name, f"joints {dance.name}", poses,
                      root - root[:1] * np.array([1.0, 0.0, 1.0]), float(motion.fps), dance.beats_s,
                      leg_length_m(motion.joints))


def load_sources(paths: Sequence[Path], progress: Callable[[str], None] | None = None) -> list[SourceClip]:
    """Every clip of ``paths`` (folders or files; see the module docstring); InputError for a path that holds none."""
    from pose_db.mocap.bvh_source import load_bvh
    from pose_db.mocap.deepmimic_source import load_deepmimic

    clips: list[SourceClip] = []
    for path in map(Path, paths):
        if not path.exists():
            raise InputError(path, "does not exist")
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        pkl = [f for f in files if f.suffix == ".pkl"]
        bvh = [f for f in files if f.suffix.lower() == ".bvh"]
        mimic = [f for f in files if f.name.startswith("humanoid3d_") and f.suffix == ".txt"]
        joints = [f for f in files if f.suffix == ".npz"]
        if joints and path.is_dir():
            clips += dance_clips(path, progress)
        clips += [aist_clip(f) for f in pkl]
        clips += [retargeted_clip(load_bvh(f, name=f.stem, source=f"BVH {f.name}")) for f in bvh]
        clips += [retargeted_clip(load_deepmimic(f, name=f.stem, source=f"DeepMimic {f.name}")) for f in mimic]
        if not (pkl or bvh or mimic or (joints and path.is_dir())):
            raise InputError(path, "holds no motion: expected AIST++ *.pkl, *.bvh, DeepMimic humanoid3d_*.txt, or a "
                                   "folder of joint-position *.npz files")
    return clips


def default_clips() -> list[SourceClip]:
    """The bundled mocap clips of the default graph (:data:`DEFAULT_BVH` from Debian's ``assimp-testmodels``,
    :data:`DEFAULT_DEEPMIMIC` from the pybullet wheel, fetched into ``assets/cache/deepmimic`` at set-up)."""
    from pose_db.mocap.bvh_source import load_bvh
    from pose_db.mocap.deepmimic_source import fetch_motions, load_deepmimic

    clips = [retargeted_clip(load_bvh(BVH_DIR / name, name=Path(name).stem, source=f"assimp-testmodels {name}"))
             for name in DEFAULT_BVH if (BVH_DIR / name).is_file()]
    for path in fetch_motions(DEEPMIMIC_CACHE):
        motion = path.stem.removeprefix("humanoid3d_")
        if motion in DEFAULT_DEEPMIMIC:
            loaded = load_deepmimic(path, name=f"deepmimic_{motion}", source=f"DeepMimic {motion} (pybullet_data)")
            clips.append(retargeted_clip(loaded, loops=LOOPS))
    if not clips:
        raise InputError(DEEPMIMIC_CACHE, "no bundled mocap clip found (run `make assets-sources`)")
    return clips


@functools.lru_cache(maxsize=1)
def default_graph() -> MotionGraph:
    """The default graph (built at set-up into :data:`DEFAULT_GRAPH_DIR`, read once); InputError when missing."""
    from motion.graph import read_graph

    if not (DEFAULT_GRAPH_DIR / "graph.json").is_file():
        raise InputError(DEFAULT_GRAPH_DIR, "the default motion graph is not built: run `make graph` (or `python "
                                            "main.py motion build --default`)")
    return read_graph(DEFAULT_GRAPH_DIR)
