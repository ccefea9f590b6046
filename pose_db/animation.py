"""Smooth motion between beat poses: per-joint quaternion slerp with an easing that arrives exactly on the beat.

A :class:`PoseAnimator` holds one move at a time: from the pose shown when a new target arrived to the target pose,
starting at ``start_s`` and arriving at ``arrive_s`` (seconds on any clock, the audio clock in the live view). Each of
the 24 SMPL joint rotations is interpolated on the unit-quaternion sphere (shortest arc), the 10 shape values
linearly, both with :func:`ease_in_out`, so the body leaves smoothly, moves fastest mid-way and lands on the target
at ``arrive_s`` with zero velocity. A new target arriving mid-move starts from wherever the body is at that moment.

Pure numpy/scipy: no Qt, no OpenGL.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from common.constants import NUM_BETAS, NUM_JOINTS, POSE_DIM


def ease_in_out(u: np.ndarray | float) -> np.ndarray:
    """Cubic ease-in-out (smoothstep) of progress ``u`` clipped to [0, 1]: 0 -> 0, 1 -> 1, zero slope at both ends."""
    u = np.clip(np.asarray(u, np.float64), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def to_quaternions(pose: np.ndarray) -> np.ndarray:
    """SMPL pose (72,) axis-angle radians -> (24, 4) unit quaternions (x, y, z, w)."""
    return Rotation.from_rotvec(np.asarray(pose, np.float64).reshape(NUM_JOINTS, 3)).as_quat()


def to_axis_angle(quaternions: np.ndarray) -> np.ndarray:
    """(24, 4) unit quaternions (x, y, z, w) -> SMPL pose (72,) float32 axis-angle radians."""
    return Rotation.from_quat(quaternions).as_rotvec().reshape(-1).astype(np.float32)


def slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Per-row spherical interpolation of unit quaternions (J, 4) at fraction ``t`` along the shortest arc."""
    dot = np.sum(q0 * q1, axis=1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)  # q and -q are the same rotation: take the short way round
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin = np.sin(theta)
    near = sin < 1e-6
    w0 = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / np.where(near, 1.0, sin))
    w1 = np.where(near, t, np.sin(t * theta) / np.where(near, 1.0, sin))
    out = w0 * q0 + w1 * q1
    return out / np.linalg.norm(out, axis=1, keepdims=True)


class PoseAnimator:
    """The body's pose over time: eased per-joint slerp from the current pose to the latest target.

    Thread-safe: one thread may call :meth:`move_to` while another calls :meth:`sample`.
    """

    def __init__(self, initial: np.ndarray | None = None) -> None:
        """``initial``: the resting pose vector (82,) = 10 betas then 72 axis-angle values (default: zeros, T-pose)."""
        start = np.zeros(POSE_DIM, np.float32) if initial is None else np.asarray(initial, np.float32).reshape(POSE_DIM)
        self._lock = threading.Lock()
        self._from = self._to = start
        self._q_from = self._q_to = to_quaternions(start[NUM_BETAS:])
        self._start_s = self._arrive_s = -np.inf

    @property
    def target(self) -> np.ndarray:
        """The pose vector (82,) the body is moving to (or resting in)."""
        return self._to

    @property
    def arrive_s(self) -> float:
        """When the current move ends (seconds); -inf before the first move."""
        return self._arrive_s

    def move_to(self, vector: np.ndarray, start_s: float, arrive_s: float) -> None:
        """Start a move to pose ``vector`` (82,) from the pose at ``start_s``, landing at ``arrive_s`` (seconds).

        ``arrive_s <= start_s`` snaps: the pose is reached at ``start_s``.
        """
        current = self.sample(start_s)
        with self._lock:
            self._from, self._to = current, np.asarray(vector, np.float32).reshape(POSE_DIM).copy()
            self._q_from, self._q_to = to_quaternions(current[NUM_BETAS:]), to_quaternions(self._to[NUM_BETAS:])
            self._start_s, self._arrive_s = float(start_s), max(float(arrive_s), float(start_s))

    def progress(self, t_s: float) -> float:
        """Eased progress of the current move at time ``t_s``: 0 at its start, 1 from its arrival on."""
        with self._lock:
            return self._progress(t_s)

    def _progress(self, t_s: float) -> float:
        if t_s >= self._arrive_s:
            return 1.0
        return float(ease_in_out((t_s - self._start_s) / (self._arrive_s - self._start_s)))

    def sample(self, t_s: float) -> np.ndarray:
        """The pose vector (82,) float32 at time ``t_s`` (seconds)."""
        with self._lock:
            u = self._progress(t_s)
            if u >= 1.0:
                return self._to.copy()
            betas = (1.0 - u) * self._from[:NUM_BETAS] + u * self._to[:NUM_BETAS]
            pose = to_axis_angle(slerp(self._q_from, self._q_to, u))
        return np.concatenate([betas.astype(np.float32), pose])


MIN_MOVE_S = 0.08
"""Shortest move in seconds: a pose that arrives late still glides in over this long instead of cutting."""


@dataclass(frozen=True)
class Cue:
    """A pose to reach at ``show_at_s`` (seconds); ``tag`` identifies it to the caller (e.g. the bank index)."""

    vector: np.ndarray
    show_at_s: float
    added_s: float
    tag: int


class Choreography:
    """Beat poses in time order, played by a :class:`PoseAnimator`.

    Each cue's move starts when the previous cue has landed (or when the cue was added, if later) and lands on its
    ``show_at_s``; a cue already due lands :data:`MIN_MOVE_S` after it starts. Thread-safe: one thread adds cues,
    another samples.
    """

    def __init__(self, initial: np.ndarray | None = None) -> None:
        self.animator = PoseAnimator(initial)
        self._lock = threading.Lock()
        self._pending: list[Cue] = []
        self._landed_tag: int | None = None
        self._current: Cue | None = None

    def add(self, vector: np.ndarray, show_at_s: float, now_s: float, tag: int) -> None:
        """Queue pose ``vector`` (82,) to land at ``show_at_s``; ``now_s`` is the current time (seconds)."""
        with self._lock:
            self._pending.append(Cue(np.asarray(vector, np.float32), float(show_at_s), float(now_s), tag))
            self._pending.sort(key=lambda cue: cue.show_at_s)

    def sample(self, t_s: float) -> np.ndarray:
        """The pose vector (82,) at ``t_s`` (seconds), starting the moves that are due."""
        with self._lock:
            while self._pending and max(self.animator.arrive_s, self._pending[0].added_s) <= t_s:
                cue = self._pending.pop(0)
                start = max(self.animator.arrive_s, cue.added_s)
                self._land_current(start)
                self.animator.move_to(cue.vector, start, max(cue.show_at_s, start + MIN_MOVE_S))
                self._current = cue
            if self._current is not None and t_s >= self.animator.arrive_s:
                self._land_current(t_s)
        return self.animator.sample(t_s)

    def _land_current(self, t_s: float) -> None:
        if self._current is not None and t_s >= self.animator.arrive_s:
            self._landed_tag, self._current = self._current.tag, None

    def shown_tag(self) -> int | None:
        """Tag of the last cue that has landed as of the last :meth:`sample`; None before the first."""
        return self._landed_tag
