"""Temporal smoothing of generated poses in model form ((T, P): root translation + 24 x 6D rotations, or 2D
keypoints), before they are turned into rotations (Gram-Schmidt makes any filtered 6D pair a valid rotation again).

A small model's output has frame-to-frame jitter that real dances do not have (jerk 587 m/s^3 against 87 for real
ballroom dances in ``evaluate-dance``). The filter is a Butterworth low-pass of order :data:`ORDER`; its cutoff is
chosen on the *training* dances (``bench/bench_dance_revolution_smoothing.py``): the highest cutoff at which the
model's dances for the training songs are no jerkier than the real training dances (joint jerk at 15 fps):

- offline (``generate``): zero phase, forward and backward (:func:`smooth_offline`, ``scipy.signal.sosfiltfilt``;
  the magnitude response is squared: -6 dB at the cutoff, no delay);
- live (the ``generate`` motion mode): causal, one keyframe at a time (:class:`CausalSmoother`, the same filter run
  forward once, -3 dB at the cutoff). Its delay (the group delay at 0 Hz, :attr:`CausalSmoother.delay_s`) is taken
  off the keyframes' times, so the motion stays on the music's beats and the keyframe for time t is ready
  ``delay_s`` later than without the filter (it eats into the live mode's ``delay_s`` headroom).
"""

from __future__ import annotations

import numpy as np

ORDER: int = 2
"""Butterworth order (run twice offline: an effective order of 4)."""
OFFLINE_CUTOFF_HZ: float = 1.0
"""Cutoff (Hz) ``generate`` smooths 3D dances with by default. Measured on the ballroom model's 8 training waltzes
(2026-11-29): real jerk 33 m/s^3 at 15 fps; generated 788 unfiltered, 29 at 1 Hz, 37 at 1.25 Hz."""
LIVE_CUTOFF_HZ: float = 0.75
"""Cutoff (Hz) of the live ``generate`` mode's causal filter by default (delay 0.30 s). Same measurement: causal
jerk 33 at 0.75 Hz, 46 at 1 Hz (the single forward pass attenuates less than the zero-phase one)."""


def _sos(cutoff_hz: float, fps: float) -> np.ndarray:
    from scipy.signal import butter

    if not 0 < cutoff_hz < fps / 2:
        raise ValueError(f"cutoff must be in (0, {fps / 2}) Hz at {fps} fps, got {cutoff_hz}")
    return butter(ORDER, cutoff_hz, fs=fps, output="sos")


def smooth_offline(poses: np.ndarray, fps: float, cutoff_hz: float = OFFLINE_CUTOFF_HZ) -> np.ndarray:
    """Zero-phase low-pass of model-form poses (T, P) at ``fps`` along time; ``cutoff_hz`` 0 (or a sequence too short
    to filter) returns them unchanged."""
    from scipy.signal import sosfiltfilt

    poses = np.asarray(poses)
    if cutoff_hz <= 0:
        return poses
    sos = _sos(cutoff_hz, fps)
    pad = 3 * (2 * len(sos) + 1)
    if len(poses) <= pad:
        return poses
    return sosfiltfilt(sos, poses.astype(np.float64), axis=0, padlen=pad).astype(poses.dtype)


class CausalSmoother:
    """The same low-pass run causally on one pose (P,) at a time; the first pose starts it at rest there (no ramp from
    zero)."""

    def __init__(self, cutoff_hz: float, fps: float) -> None:
        from scipy.signal import sosfilt_zi

        self.cutoff_hz, self.fps = cutoff_hz, fps
        self._sos = _sos(cutoff_hz, fps)
        self._zi_unit = sosfilt_zi(self._sos)  # (sections, 2): the state of a step response at rest at 1
        self._state: np.ndarray | None = None

    @property
    def delay_s(self) -> float:
        """Group delay at 0 Hz (seconds): how far the filtered motion trails the raw motion."""
        from scipy.signal import group_delay, sos2tf

        _, delay = group_delay(sos2tf(self._sos), w=[1e-4], fs=self.fps)
        return float(delay[0]) / self.fps

    def push(self, pose: np.ndarray) -> np.ndarray:
        """The filtered pose for the next raw one (P,)."""
        from scipy.signal import sosfilt

        pose = np.asarray(pose, np.float64)
        if self._state is None:
            self._state = self._zi_unit[:, :, None] * pose[None, None, :]
        out, self._state = sosfilt(self._sos, pose[None], axis=0, zi=self._state)
        return out[0]
