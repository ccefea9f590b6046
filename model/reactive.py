"""The weight-free "reactive" encoder: simple sound descriptors steer a pose choice in kinematic descriptor space.

Used when no EDSA checkpoint is present. For each window (in time order):

1. **Sound** (:func:`window_sound`): level (RMS, dB) of the ``centre_s`` seconds around the window centre, their
   spectral centroid (Hz) and share of energy below ``bass_cutoff_hz``, and the onset rate (per second) over the
   whole window.
2. **Drive**: unitless numbers around 0. *Loudness*: the level minus a running level (an exponential moving average
   over the earlier windows), in units of ``level_unit_db``. *Brightness*: octaves of centroid above
   ``centroid_reference_hz``. *Busyness*: octaves of onset rate above ``onset_reference_per_s``. Their weighted sum is
   the *energy*, raised by ``downbeat_accent`` on a downbeat (from ``bar_phase``). *Bass*: share of low energy above
   ``bass_reference``, in units of ``bass_unit``.
3. **Target**: a point in the bank's standardised descriptor space (:mod:`pose_db.descriptors`, z-scores):
   ``energy * energy_direction + bass * bass_direction``, each clipped to ``max_target_z``. Loud, bright, busy music
   asks for raised, extended arms, a wide stance, lifted feet, asymmetry; quiet music for closed, low, upright poses;
   bass for bent knees and a wide stance.
4. **Score** of every bank pose: minus the weighted mean squared distance to the target (the match), minus
   ``continuity_weight`` per metre by which its jump from the previous pick (mean distance of the visible joints)
   exceeds ``free_jump_m``, minus ``repeat_penalty`` if it lies within ``repeat_radius_m`` of one of the last
   ``novelty_window`` picks (so neither the same entry nor a near-copy of it comes back). The top-1 becomes the
   previous pick of the next window.

Everything is deterministic: no randomness, ties broken by the lower bank index.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import librosa
import numpy as np

from common.constants import MODEL_SAMPLE_RATE, WINDOW_SAMPLES
from pose_db.bank import PoseBank
from pose_db.body import JOINT_NAMES, BodyModel
from pose_db.descriptors import DESCRIPTOR_NAMES, pose_descriptors, pose_joints
from pose_db.mocap.dedup import mean_joint_distance
from pose_db.search import TopK

VISIBLE_JOINTS: tuple[str, ...] = (
    "head", "L_shoulder", "R_shoulder", "L_elbow", "R_elbow", "L_wrist", "R_wrist", "L_knee", "R_knee", "L_ankle",
    "R_ankle",
)  # fmt: skip
"""Joints whose motion (pelvis-relative, metres) measures the jump between two poses."""

SILENCE_DB: float = -80.0
"""Level given to a silent window, dB."""


def _frozen(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ReactiveConfig:
    """Settings of the reactive encoder (see the module docstring for how they enter).

    Attributes:
        centre_s: seconds of audio around the window centre that level, centroid and bass share are measured on.
        level_ema: weight (0..1) of the newest window in the running level, per window; 0.1 remembers about 10
            windows. The running level starts at ``initial_level_db`` after ``reset``.
        initial_level_db: running level at the start, dB re unit RMS (0 dB: the mean level of a song normalised to
            unit variance, as the windows are).
        level_unit_db: dB above the running level that make one unit of loudness.
        centroid_reference_hz: spectral centroid (Hz) of zero brightness; one octave above it is one unit.
        onset_reference_per_s: onset rate (onsets per second) of zero busyness; doubling it is one unit.
        bass_cutoff_hz: upper edge of the bass band, Hz.
        bass_reference: share (0..1) of the energy below ``bass_cutoff_hz`` that counts as zero bass.
        bass_unit: share above ``bass_reference`` that makes one unit of bass.
        energy_weights: unitless weights of loudness, brightness and busyness in the energy.
        downbeat_accent: energy units added on a downbeat, fading linearly to 0 half a beat away.
        beats_per_bar: beats in a bar, for the downbeat test on ``bar_phase``.
        energy_direction: target z-score per unit of energy, by descriptor (others: 0).
        bass_direction: target z-score per unit of bass, by descriptor.
        max_target_z: target z-scores are clipped to +-this (stay inside the bank's range).
        descriptor_weights: weight of each descriptor in the match (others: 1).
        continuity_weight: score units per metre of jump beyond ``free_jump_m``.
        free_jump_m: mean visible-joint distance (metres) from the previous pick that costs nothing.
        novelty_window: how many of the last picks may not come back (N).
        repeat_radius_m: a pose within this mean visible-joint distance (metres) of a recent pick counts as a repeat.
        repeat_penalty: score units subtracted from a repeat (far more than any match difference).
    """

    centre_s: float = 1.0
    level_ema: float = 0.1
    initial_level_db: float = 0.0
    level_unit_db: float = 6.0
    centroid_reference_hz: float = 1500.0
    onset_reference_per_s: float = 4.0
    bass_cutoff_hz: float = 150.0
    bass_reference: float = 0.4
    bass_unit: float = 0.2
    energy_weights: Mapping[str, float] = field(default_factory=lambda: _frozen(
        {"loudness": 0.5, "brightness": 0.25, "busyness": 0.25}))
    downbeat_accent: float = 0.5
    beats_per_bar: int = 4
    energy_direction: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "arm_height": 1.0, "hand_above_head": 0.8, "arm_extension": 0.8, "leg_extension": 0.3, "stance_width": 0.5,
        "foot_lift": 0.5, "torso_lean": 0.3, "asymmetry": 0.6}))
    bass_direction: Mapping[str, float] = field(default_factory=lambda: _frozen(
        {"knee_bend": 0.8, "arm_height": -0.2}))
    max_target_z: float = 2.0
    descriptor_weights: Mapping[str, float] = field(default_factory=lambda: _frozen({"torso_lean": 0.5}))
    continuity_weight: float = 8.0
    free_jump_m: float = 0.08
    novelty_window: int = 8
    repeat_radius_m: float = 0.02
    repeat_penalty: float = 100.0

    def vector(self, mapping: Mapping[str, float], default: float) -> np.ndarray:
        """(D,) float64 values of ``mapping`` in ``DESCRIPTOR_NAMES`` order, ``default`` where absent."""
        unknown = set(mapping) - set(DESCRIPTOR_NAMES)
        if unknown:
            raise ValueError(f"unknown descriptors {sorted(unknown)}; known: {DESCRIPTOR_NAMES}")
        return np.array([mapping.get(name, default) for name in DESCRIPTOR_NAMES], np.float64)


@dataclass(frozen=True)
class WindowSound:
    """Sound descriptors of one window.

    Attributes:
        level_db: RMS level of the centre part, dB re 1.0.
        centroid_hz: spectral centroid of the centre part, Hz.
        bass_share: share (0..1) of the centre part's spectral energy below the bass cutoff.
        onsets_per_s: onsets detected in the whole window, per second.
    """

    level_db: float
    centroid_hz: float
    bass_share: float
    onsets_per_s: float


def window_sound(window: np.ndarray, config: ReactiveConfig) -> WindowSound:
    """Sound descriptors of one (48480,) float32 window of 24 kHz audio."""
    half = round(config.centre_s * MODEL_SAMPLE_RATE / 2)
    middle = len(window) // 2
    centre = np.asarray(window[max(0, middle - half) : middle + half], np.float32)
    rms = float(np.sqrt(np.mean(np.square(centre, dtype=np.float64))))
    power = np.abs(librosa.stft(centre)) ** 2
    total = float(power.sum())
    if total <= 0.0:
        return WindowSound(level_db=SILENCE_DB, centroid_hz=config.centroid_reference_hz,
                           bass_share=config.bass_reference, onsets_per_s=0.0)
    frequencies = librosa.fft_frequencies(sr=MODEL_SAMPLE_RATE)
    band_power = power.sum(axis=1)
    onsets = librosa.onset.onset_detect(y=np.asarray(window, np.float32), sr=MODEL_SAMPLE_RATE)
    return WindowSound(
        level_db=max(SILENCE_DB, 20.0 * float(np.log10(rms))),
        centroid_hz=float(band_power @ frequencies / total),
        bass_share=float(band_power[frequencies < config.bass_cutoff_hz].sum() / total),
        onsets_per_s=len(onsets) * MODEL_SAMPLE_RATE / len(window),
    )


def downbeat_closeness(bar_phase: float, beats_per_bar: int) -> float:
    """1 on a downbeat, falling linearly to 0 half a beat before or after it."""
    offset = float(bar_phase) % beats_per_bar
    return max(0.0, 1.0 - 2.0 * min(offset, beats_per_bar - offset))


class ReactiveRetriever:
    """Ranks bank poses for music windows from sound descriptors, with continuity and novelty (module docstring).

    The bank's joints and standardised descriptors are computed once, at construction. ``rank`` keeps its memory
    (running level, recent picks) across calls until ``reset``.
    """

    encoder_name = "reactive"

    def __init__(self, bank: PoseBank, body: BodyModel, *, config: ReactiveConfig = ReactiveConfig()) -> None:
        """``bank``: the poses to choose from; ``body``: the body model. A bank with NaN rows is refused (InputError)."""
        self.config = config
        bank.unit_vectors()  # validates every row once, naming the first bad one
        joints = pose_joints(bank.vectors, body)
        descriptors = pose_descriptors(joints).astype(np.float64)
        spread = descriptors.std(axis=0)
        self._z = (descriptors - descriptors.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
        visible = [JOINT_NAMES.index(name) for name in VISIBLE_JOINTS]
        self._visible = (joints[:, visible] - joints[:, :1]).astype(np.float32)
        self._weights = config.vector(config.descriptor_weights, 1.0)
        self._energy_direction = config.vector(config.energy_direction, 0.0)
        self._bass_direction = config.vector(config.bass_direction, 0.0)
        self._level_db = config.initial_level_db
        self._recent: deque[np.ndarray] = deque(maxlen=config.novelty_window)
        """Mean visible-joint distance (metres, (N,) float32) of every bank pose to each of the latest picks."""

    def reset(self) -> None:
        """Forget the running level and the recent picks (a new song or stream starts)."""
        self._level_db = self.config.initial_level_db
        self._recent.clear()

    def rank(self, windows: np.ndarray, bar_phase: np.ndarray, k: int) -> TopK:
        """Top-``k`` bank entries for each window, in time order.

        Args:
            windows: (P, 48480) float32 windows of 24 kHz audio (normalised as for the EDSA model).
            bar_phase: (P,) position of each window centre in the bar, in beats (0 = downbeat).
            k: entries per window (at most the bank size).

        Returns:
            TopK with (P, k) int64 indices and (P, k) float32 scores (higher is better), best first.
        """
        if np.shape(windows)[1:] != (WINDOW_SAMPLES,) or len(windows) != len(bar_phase):
            raise ValueError(f"expected (P, {WINDOW_SAMPLES}) windows and (P,) bar phases, got "
                             f"{np.shape(windows)} and {np.shape(bar_phase)}")
        k = min(k, len(self._z))
        ranked = [self._rank_one(window, float(phase), k) for window, phase in zip(windows, bar_phase)]
        indices = np.array([i for i, _ in ranked], np.int64).reshape(-1, k)
        scores = np.array([s for _, s in ranked], np.float32).reshape(-1, k)
        return TopK(indices=indices, scores=scores)

    def target(self, sound: WindowSound, bar_phase: float) -> np.ndarray:
        """(D,) target z-scores for a window's sound at ``bar_phase``, against the current running level."""
        c = self.config
        drive = {
            "loudness": (sound.level_db - self._level_db) / c.level_unit_db,
            "brightness": np.log2(max(sound.centroid_hz, 1.0) / c.centroid_reference_hz),
            "busyness": np.log2((sound.onsets_per_s + 1.0) / (c.onset_reference_per_s + 1.0)),
        }
        energy = sum(w * drive[name] for name, w in c.energy_weights.items())
        energy += c.downbeat_accent * downbeat_closeness(bar_phase, c.beats_per_bar)
        bass = (sound.bass_share - c.bass_reference) / c.bass_unit
        target = energy * self._energy_direction + bass * self._bass_direction
        return np.clip(target, -c.max_target_z, c.max_target_z)

    def scores(self, target: np.ndarray) -> np.ndarray:
        """(N,) float64 score of every bank pose for ``target``, given the recent picks (module docstring, step 4)."""
        c = self.config
        score = -((self._z - target) ** 2 @ self._weights) / self._weights.sum()
        if self._recent:
            score -= c.continuity_weight * np.maximum(self._recent[-1] - c.free_jump_m, 0.0)
            repeated = np.min(np.stack(self._recent), axis=0) < c.repeat_radius_m
            score -= c.repeat_penalty * repeated
        return score

    def _rank_one(self, window: np.ndarray, bar_phase: float, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rank the bank for one window and remember its top-1: (k,) indices, (k,) scores."""
        sound = window_sound(window, self.config)
        score = self.scores(self.target(sound, bar_phase))
        best = _top_k(score, k)
        self._recent.append(mean_joint_distance(self._visible, self._visible[best[0]]))
        self._level_db += self.config.level_ema * (sound.level_db - self._level_db)
        return best, score[best]


def _top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first, ties by the lower index."""
    kth_best = np.partition(score, len(score) - k)[len(score) - k]
    candidates = np.flatnonzero(score >= kth_best)
    return candidates[np.lexsort((candidates, -score[candidates]))][:k]
