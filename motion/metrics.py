"""Dance metrics on SMPL joint positions (headless, numpy/scipy): FIDk, FIDg, Div_k, Div_g, BAS, foot skating, jerk
and the freeze share. Definitions and the windowing are in ``docs/MOTION_FITTING.md``; in short:

- Input: joint positions (T, 24, 3) in metres, SMPL joint order, Y up, at a stated frame rate. Every metric first
  resamples the motion to :data:`METRIC_FPS` (cubic spline), so clips at 25, 30 or 60 fps are scored alike.
- Kinetic (72) and geometric (32) features follow Bailando's AIST++ definitions
  (``../shared/reference/DANCE_REVOLUTION_FACTS.md`` §14), computed per :data:`WINDOW_S` window (not per whole
  dance): a 36-min set gives ~430 windows, enough for 72-d covariance estimates. Two deliberate departures, both for
  rate independence: the frame time is the real one (1/:data:`METRIC_FPS`), and the acceleration is correct
  (Bailando's precedence bug made it depend on absolute position, so a frozen body had non-zero "energy").
  Geometric velocities keep Bailando's effective thresholds (its 60-fps displacements over 1/120 s: twice the true
  velocity).
- FID: Fréchet distance between the generated and reference window features, both normalised by the reference's
  per-dimension mean and std. Div: mean Euclidean distance over all pairs of (normalised) generated windows.
- BAS: music beats -> nearest motion beat (strict local minima of the Gaussian-smoothed mean joint speed),
  ``exp(-d^2 / (2 * BAS_SIGMA_S^2))`` averaged over the music beats of each clip, then over clips.
- Foot skating: mean horizontal speed (m/s) of a foot joint (ankles, toes) while it should be planted: within
  :data:`CONTACT_HEIGHT_M` of its own floor level (5th height percentile in the clip) and slower than
  :data:`CONTACT_MAX_SPEED` (faster is a swing that passes near the floor).
- Jerk: mean norm of the third time derivative of every joint (m/s^3).
- Freeze: share of :data:`FREEZE_WINDOW_S` windows whose mean joint speed is below :data:`FREEZE_SPEED`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import linalg
from scipy.interpolate import CubicSpline
from scipy.ndimage import gaussian_filter1d
from scipy.signal import argrelextrema
from scipy.spatial.distance import pdist

from common.constants import NUM_JOINTS
from pose_db.body.model import JOINT_NAMES

METRIC_FPS: float = 30.0
"""Frame rate every metric works at (motion is resampled to it)."""
WINDOW_S: float = 5.0
"""Length of the windows whose kinetic and geometric features feed FID and Div (seconds, non-overlapping; a last
partial window is dropped unless it is the only one)."""
BAILANDO_WINDOW: int = 2
"""Half-width (frames) of the sliding window that averages velocities and accelerations in the kinetic features."""
BAS_SMOOTHING_S: float = 5 / 60
"""Gaussian smoothing (sigma, seconds) of the speed curve before its minima are taken (Bailando: 5 frames at 60)."""
BAS_SIGMA_S: float = 3 / 60
"""Tolerance (sigma, seconds) of the beat-alignment Gaussian (Bailando: 3 frames at 60 fps)."""
CONTACT_HEIGHT_M: float = 0.05
CONTACT_MAX_SPEED: float = 1.0
FOOT_JOINTS: tuple[int, ...] = tuple(JOINT_NAMES.index(n) for n in ("L_ankle", "R_ankle", "L_foot", "R_foot"))
FREEZE_WINDOW_S: float = 2.0
FREEZE_SPEED: float = 0.05
"""Mean joint speed (m/s) under which a freeze window counts as frozen."""
_UP: int = 1
"""Index of the vertical axis (Y up)."""

# Bailando's template body (metres): humerus length, shoulder width and hip width scale the geometric thresholds.
_HL = float(np.linalg.norm(np.subtract([1.99113488e-01, 2.36807942e-01, -1.80702247e-02],
                                       [4.54445392e-01, 2.21158922e-01, -4.10167128e-02])))
_SW = float(np.linalg.norm(np.subtract([1.99113488e-01, 2.36807942e-01, -1.80702247e-02],
                                       [-1.91692337e-01, 2.36928746e-01, -1.23055102e-02])))
_HW = float(np.linalg.norm(np.subtract([5.64076714e-02, -3.23069185e-01, 1.09197125e-02],
                                       [-6.24834076e-02, -3.31302464e-01, 1.50412619e-02])))
_GEOMETRIC_VELOCITY_SCALE: float = 2.0
"""Bailando divides 60-fps displacements by 1/120 s: its velocities are twice the true ones."""


@dataclass(frozen=True)
class DanceClip:
    """One motion to score.

    Attributes:
        joints: (T, 24, 3) SMPL joint positions in metres, Y up.
        fps: frames per second of ``joints``.
        beats_s: music beat times in seconds from frame 0, or None when the clip has no music beats.
    """

    joints: np.ndarray
    fps: float
    beats_s: np.ndarray | None = None


@dataclass(frozen=True)
class DanceScores:
    """The metrics of a set of clips (NaN where undefined, e.g. BAS without beats). Units in the module docstring."""

    FIDk: float
    FIDg: float
    Div_k: float
    Div_g: float
    BAS: float
    foot_skate: float
    jerk: float
    freeze: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def resample(joints: np.ndarray, fps: float, target_fps: float = METRIC_FPS) -> np.ndarray:
    """(T, J, 3) positions at ``fps`` -> (T', J, 3) at ``target_fps`` over the same span (cubic spline)."""
    joints = np.asarray(joints, np.float64)
    if fps == target_fps or len(joints) < 2:
        return joints
    times = np.arange(len(joints)) / fps
    new_times = np.arange(int(np.floor(times[-1] * target_fps + 1e-9)) + 1) / target_fps
    return CubicSpline(times, joints, axis=0)(new_times)


def windows(joints: np.ndarray, length: int) -> list[np.ndarray]:
    """Non-overlapping windows of ``length`` frames; a clip shorter than one window is one window."""
    if len(joints) < length:
        return [joints]
    return [joints[i:i + length] for i in range(0, len(joints) - length + 1, length)]


def kinetic_features(joints: np.ndarray, fps: float = METRIC_FPS) -> np.ndarray:
    """Bailando's kinetic features (72,) of one window (T, 24, 3) metres at ``fps`` (T >= 3): per joint, the mean
    squared horizontal and vertical window-averaged velocity ((m/s)^2) and the mean norm of the window-averaged
    acceleration (m/s^2), the averages over frames 1..T-1."""
    p = np.asarray(joints, np.float64)
    p = p - p[:1, :1]
    count = len(p)
    velocity = np.diff(p, axis=0) * fps  # v[k-1] = (p[k] - p[k-1]) / dt, k = 1..T-1
    accel = (p[2:] - 2 * p[1:-1] + p[:-2]) * fps * fps  # a[k-1] at k = 1..T-2
    frames = np.arange(1, count)
    mean_v = _window_mean(velocity, frames - BAILANDO_WINDOW, frames + BAILANDO_WINDOW, first=1)
    mean_a = _window_mean(accel, frames - BAILANDO_WINDOW, frames + BAILANDO_WINDOW, first=1)
    horizontal = np.delete(mean_v, _UP, axis=-1)
    features = np.stack([(horizontal ** 2).sum(-1).mean(0), (mean_v[..., _UP] ** 2).mean(0),
                         np.linalg.norm(mean_a, axis=-1).mean(0)], -1)  # (24, 3)
    return features.reshape(-1).astype(np.float32)


def _window_mean(values: np.ndarray, low: np.ndarray, high: np.ndarray, *, first: int) -> np.ndarray:
    """Mean of ``values[k - first]`` over k in [low, high] clipped to the rows that exist (cumulative sums)."""
    start = np.clip(low - first, 0, len(values))
    stop = np.clip(high - first + 1, 0, len(values))
    cumulative = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
    counts = np.maximum(stop - start, 1).reshape((-1,) + (1,) * (values.ndim - 1))
    return (cumulative[stop] - cumulative[start]) / counts


def geometric_features(joints: np.ndarray, fps: float = METRIC_FPS) -> np.ndarray:
    """Bailando's 32 Müller-style boolean features, each averaged over frames 1..T-1 of one window (T, 24, 3)."""
    p = np.asarray(joints, np.float64)
    cur, prev = p[1:], p[:-1]
    scale = _GEOMETRIC_VELOCITY_SCALE * fps
    j = {name: i for i, name in enumerate(JOINT_NAMES)}
    up = np.array([0.0, 1.0, 0.0])

    def at(name: str) -> np.ndarray:
        return cur[:, j[name]]

    def move(a: str, b: str, c: str, threshold: float) -> np.ndarray:
        """Velocity of c relative to a along a->b above threshold (Bailando's f_move, which ignores its 4th joint)."""
        velocity = (cur[:, j[c]] - cur[:, j[a]] - prev[:, j[c]] + prev[:, j[a]]) * scale
        return _along(velocity, at(b) - at(a)) > threshold

    def nmove(a: str, b: str, c: str, d: str, threshold: float) -> np.ndarray:
        """Velocity of d relative to a along the normal of the plane (a, b, c) above threshold."""
        velocity = (cur[:, j[d]] - cur[:, j[a]] - prev[:, j[d]] + prev[:, j[a]]) * scale
        return _along(velocity, np.cross(at(c) - at(a), at(b) - at(a))) > threshold

    def plane(a: str, b: str, c: str, d: str, threshold: float) -> np.ndarray:
        """Signed distance of d from the plane (a, b, c) above threshold."""
        return _along(at(d) - at(a), np.cross(at(c) - at(a), at(b) - at(a))) > threshold

    def nplane(n1: np.ndarray, n2: np.ndarray, a: np.ndarray, d: np.ndarray, threshold: float) -> np.ndarray:
        """Distance of d from the plane through a with normal n1->n2 above threshold."""
        return _along(d - a, n2 - n1) > threshold

    def angle(a: str, b: str, c: np.ndarray | str, d: np.ndarray | str, low: float, high: float) -> np.ndarray:
        c_pos, d_pos = (at(c) if isinstance(c, str) else c), (at(d) if isinstance(d, str) else d)
        degrees = np.degrees(_angle(at(b) - at(a), d_pos - c_pos))
        return (low < degrees) & (degrees < high)

    def fast(a: str, threshold: float) -> np.ndarray:
        return np.linalg.norm(cur[:, j[a]] - prev[:, j[a]], axis=-1) * scale > threshold

    zero, unit = np.zeros_like(at("pelvis")), np.broadcast_to(up, at("pelvis").shape)
    floor = np.zeros_like(zero)
    floor[:, _UP] = cur[..., _UP].min(1)
    features = [
        nmove("neck", "R_hip", "L_hip", "R_wrist", 1.8 * _HL), nmove("neck", "L_hip", "R_hip", "L_wrist", 1.8 * _HL),
        nplane(at("spine3"), at("neck"), at("neck"), at("R_wrist"), 0.2 * _HL),
        nplane(at("spine3"), at("neck"), at("neck"), at("L_wrist"), 0.2 * _HL),
        move("spine1", "spine3", "spine3", 1.8 * _HL), move("spine1", "spine3", "spine3", 1.8 * _HL),
        angle("R_elbow", "R_shoulder", "R_elbow", "R_wrist", 0, 110),
        angle("L_elbow", "L_shoulder", "L_elbow", "L_wrist", 0, 110),
        nplane(at("L_shoulder"), at("R_shoulder"), at("L_wrist"), at("R_wrist"), 2.5 * _SW),
        move("L_wrist", "R_wrist", "R_wrist", 1.4 * _HL), move("R_wrist", "pelvis", "L_wrist", 1.4 * _HL),
        move("L_wrist", "pelvis", "R_wrist", 1.4 * _HL),
        fast("R_wrist", 2.5 * _HL), fast("L_wrist", 2.5 * _HL),
        plane("pelvis", "L_hip", "L_foot", "R_ankle", 0.38 * _HL),
        plane("pelvis", "R_hip", "R_foot", "L_ankle", 0.38 * _HL),
        nplane(zero, unit, floor, at("R_ankle"), 1.2 * _HL), nplane(zero, unit, floor, at("L_ankle"), 1.2 * _HL),
        nplane(at("L_hip"), at("R_hip"), at("L_ankle"), at("R_ankle"), 2.1 * _HW),
        angle("R_knee", "R_hip", "R_knee", "R_ankle", 0, 110), angle("L_knee", "L_hip", "L_knee", "L_ankle", 0, 110),
        fast("R_ankle", 2.5 * _HL), fast("L_ankle", 2.5 * _HL),
        angle("neck", "pelvis", "R_shoulder", "R_elbow", 25, 180),
        angle("neck", "pelvis", "L_shoulder", "L_elbow", 25, 180),
        angle("neck", "pelvis", "R_hip", "R_knee", 50, 180), angle("neck", "pelvis", "L_hip", "L_knee", 50, 180),
        plane("R_ankle", "neck", "L_ankle", "pelvis", 0.5 * _HL),
        angle("neck", "pelvis", zero, unit, 70, 110),
        nplane(zero, -unit, floor, at("R_wrist"), -1.2 * _HL), nplane(zero, -unit, floor, at("L_wrist"), -1.2 * _HL),
        fast("pelvis", 2.3 * _HL),
    ]
    return np.stack(features, -1).mean(0).astype(np.float32)


def _along(vectors: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Component of ``vectors`` along ``directions`` (rows), -inf where a direction is degenerate (never above)."""
    norm = np.linalg.norm(directions, axis=-1)
    dot = (vectors * directions).sum(-1)
    return np.where(norm > 1e-8, dot / np.maximum(norm, 1e-8), -np.inf)


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (radians) between rows of ``a`` and ``b``; NaN (never within a range) where one is degenerate."""
    denominator = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    cosine = (a * b).sum(-1) / np.where(denominator > 1e-8, denominator, np.nan)
    return np.arccos(np.clip(cosine, -1.0, 1.0))


def window_features(clips: Sequence[DanceClip]) -> tuple[np.ndarray, np.ndarray]:
    """Kinetic (W, 72) and geometric (W, 32) features of every :data:`WINDOW_S` window of every clip."""
    length = int(round(WINDOW_S * METRIC_FPS))
    kinetic, geometric = [], []
    for clip in clips:
        for window in windows(resample(clip.joints, clip.fps), length):
            if len(window) >= 3:
                kinetic.append(kinetic_features(window))
                geometric.append(geometric_features(window))
    if not kinetic:
        raise ValueError("no clip has 3 frames or more: nothing to score")
    return np.stack(kinetic), np.stack(geometric)


def normalise(reference: np.ndarray, features: np.ndarray) -> np.ndarray:
    """``features`` (N, D) standardised by the per-dimension mean and std of ``reference`` (M, D).

    A dimension constant in the reference (std < 1e-6, e.g. a geometric boolean no real window sets) is only
    centred: Bailando's ``std + 1e-10`` would turn one differing window into a distance of 1e20.
    """
    std = reference.std(0)
    return (features - reference.mean(0)) / np.where(std < 1e-6, 1.0, std)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``a`` (N, D) and ``b`` (M, D); NaN unless
    N, M >= 2."""
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", linalg.LinAlgWarning)  # singular covariances are expected (few windows)
        try:
            root = linalg.sqrtm(cov_a @ cov_b)
        except linalg.LinAlgError:
            root = np.full_like(cov_a, np.nan)
        if not np.isfinite(root).all():
            offset = np.eye(len(cov_a)) * 1e-5
            root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    diff = mean_a - mean_b
    return float(max(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root.real), 0.0))


def diversity(features: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of rows (NaN with fewer than 2 rows)."""
    return float(pdist(features).mean()) if len(features) >= 2 else float("nan")


def speed(joints: np.ndarray, fps: float) -> np.ndarray:
    """(T, J) speed of each joint in m/s (central differences)."""
    return np.linalg.norm(np.gradient(np.asarray(joints, np.float64), 1.0 / fps, axis=0), axis=-1)


def motion_beats(joints: np.ndarray, fps: float) -> np.ndarray:
    """Motion beat times (seconds): strict local minima of the mean joint speed smoothed by :data:`BAS_SMOOTHING_S`."""
    velocity = np.linalg.norm(np.diff(np.asarray(joints, np.float64), axis=0), axis=-1).mean(-1)
    smooth = gaussian_filter1d(velocity, BAS_SMOOTHING_S * fps)
    return argrelextrema(smooth, np.less)[0] / fps


def beat_align_score(joints: np.ndarray, fps: float, beats_s: np.ndarray) -> float:
    """BAS of one clip: mean over the music beats inside the clip of exp(-d^2 / (2 BAS_SIGMA_S^2)), d the distance
    (seconds) to the nearest motion beat; NaN without music beats or without motion beats."""
    duration = (len(joints) - 1) / fps
    music = np.asarray(beats_s, np.float64)
    music = music[(music >= 0) & (music <= duration)]
    motion = motion_beats(joints, fps)
    if len(music) == 0 or len(motion) == 0:
        return float("nan")
    nearest = np.abs(music[:, None] - motion[None, :]).min(1)
    return float(np.exp(-nearest ** 2 / (2 * BAS_SIGMA_S ** 2)).mean())


def planted(joints: np.ndarray, fps: float) -> np.ndarray:
    """(T, 4) bool: whether each foot joint (:data:`FOOT_JOINTS`) should be planted (module docstring)."""
    feet = np.asarray(joints, np.float64)[:, FOOT_JOINTS]
    height = feet[..., _UP] - np.percentile(feet[..., _UP], 5, axis=0)
    return (height < CONTACT_HEIGHT_M) & (_horizontal_speed(feet, fps) < CONTACT_MAX_SPEED)


def _horizontal_speed(points: np.ndarray, fps: float) -> np.ndarray:
    velocity = np.gradient(points, 1.0 / fps, axis=0)
    return np.linalg.norm(np.delete(velocity, _UP, axis=-1), axis=-1)


def foot_skate(joints: np.ndarray, fps: float) -> tuple[float, int]:
    """(mean horizontal speed of planted foot joints in m/s, number of planted joint-frames)."""
    feet = np.asarray(joints, np.float64)[:, FOOT_JOINTS]
    contact = planted(joints, fps)
    if not contact.any():
        return float("nan"), 0
    return float(_horizontal_speed(feet, fps)[contact].mean()), int(contact.sum())


def jerk(joints: np.ndarray, fps: float) -> tuple[float, int]:
    """(mean norm of the third derivative of every joint in m/s^3, number of joint-frames)."""
    p = np.asarray(joints, np.float64)
    if len(p) < 4:
        return float("nan"), 0
    third = (p[3:] - 3 * p[2:-1] + 3 * p[1:-2] - p[:-3]) * fps ** 3
    norms = np.linalg.norm(third, axis=-1)
    return float(norms.mean()), norms.size


def frozen_windows(joints: np.ndarray, fps: float) -> np.ndarray:
    """(W,) bool: whether each :data:`FREEZE_WINDOW_S` window's mean joint speed is below :data:`FREEZE_SPEED`."""
    speeds = speed(joints, fps).mean(-1)
    return np.array([w.mean() < FREEZE_SPEED for w in windows(speeds, int(round(FREEZE_WINDOW_S * fps)))])


def score_dances(generated: Sequence[DanceClip], reference: Sequence[DanceClip]) -> DanceScores:
    """Every metric of ``generated`` clips; FID and the normalisation use ``reference`` clips (real dances).

    Per-clip metrics (BAS, foot skate, jerk, freeze) pool their frames or windows over the clips (BAS: mean over
    clips with beats).
    """
    for clip in (*generated, *reference):
        if clip.joints.ndim != 3 or clip.joints.shape[1:] != (NUM_JOINTS, 3):
            raise ValueError(f"joints must be (T, {NUM_JOINTS}, 3), got {clip.joints.shape}")
    gen_k, gen_g = window_features(generated)
    ref_k, ref_g = window_features(reference)
    norm_gen_k, norm_gen_g = normalise(ref_k, gen_k), normalise(ref_g, gen_g)
    resampled = [resample(c.joints, c.fps) for c in generated]
    bas = [beat_align_score(j, METRIC_FPS, c.beats_s) for j, c in zip(resampled, generated, strict=True)
           if c.beats_s is not None]
    bas = [b for b in bas if np.isfinite(b)]
    return DanceScores(
        FIDk=frechet_distance(norm_gen_k, normalise(ref_k, ref_k)),
        FIDg=frechet_distance(norm_gen_g, normalise(ref_g, ref_g)),
        Div_k=diversity(norm_gen_k), Div_g=diversity(norm_gen_g),
        BAS=float(np.mean(bas)) if bas else float("nan"),
        foot_skate=_pooled([foot_skate(j, METRIC_FPS) for j in resampled]),
        jerk=_pooled([jerk(j, METRIC_FPS) for j in resampled]),
        freeze=float(np.concatenate([frozen_windows(j, METRIC_FPS) for j in resampled]).mean()),
    )


def _pooled(values: list[tuple[float, int]]) -> float:
    """Count-weighted mean of (mean, count) pairs; NaN when every count is 0."""
    total = sum(n for _, n in values)
    return float(sum(v * n for v, n in values if n) / total) if total else float("nan")
