"""Inertialization (orangeduck's Motion-Matching, ``spring.h``): a transition keeps the difference between the old and
the new motion as one offset per bone and decays it with a critically damped spring, so the output never jumps.

:func:`inertialize` and :func:`decay_spring` are pure steps on plain arrays (no lock, no clock). :class:`Blend` is one
captured transition: it applies the decayed offsets to any later frame of the new motion, as a pure function of time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from motion.frame import MotionFrame, frame_from_rotvecs

DEFAULT_HALFLIFE_S = 0.12
"""Half-life of transition offsets, seconds: half of a jump is gone after this long."""
VELOCITY_STEP_S = 1.0 / 240.0
"""Time step (seconds) of the finite differences that measure velocities when a transition is captured."""


def _damping(halflife_s: float) -> float:
    """The spring's y = 2 ln 2 / half-life (1/s) (``halflife_to_damping(h) / 2`` in spring.h)."""
    return 2.0 * math.log(2.0) / max(halflife_s, 1e-6)


def decay_spring(offset_x: np.ndarray, offset_v: np.ndarray, halflife_s: float,
                 dt_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact critically damped decay of vector offsets ``offset_x`` (..., D) with velocities ``offset_v`` (..., D)
    (units per second) over ``dt_s`` seconds; returns the new (offset, velocity)."""
    y = _damping(halflife_s)
    j1 = offset_v + offset_x * y
    e = math.exp(-y * dt_s)
    return e * (offset_x + j1 * dt_s), e * (offset_v - j1 * y * dt_s)


def inertialize(offset_q: np.ndarray, offset_w: np.ndarray, halflife_s: float,
                dt_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Decay per-bone rotation offsets over ``dt_s`` seconds.

    Args:
        offset_q: (24, 4) unit quaternions (x, y, z, w), the rotation still to remove from each bone.
        offset_w: (24, 3) angular velocity of each offset, radians per second.
        halflife_s: half-life of the decay, seconds.
        dt_s: time step, seconds.

    Returns:
        (offset_q (24, 4), offset_w (24, 3)) after the step.
    """
    x, w = decay_spring(Rotation.from_quat(offset_q).as_rotvec(), np.asarray(offset_w, np.float64), halflife_s, dt_s)
    return Rotation.from_rotvec(x).as_quat(), w


def rotation_offset(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-bone offset (J, 3) axis-angle taking ``target`` (J, 3) onto ``source`` (J, 3): source = offset * target."""
    return (Rotation.from_rotvec(source) * Rotation.from_rotvec(target).inv()).as_rotvec()


@dataclass(frozen=True)
class Blend:
    """A transition captured at ``t0_s``: offsets (rotation per bone, root position) and their velocities, which
    decay with half-life ``halflife_s`` seconds. ``apply(frame)`` adds what is left of them at ``frame.t_s``."""

    t0_s: float
    rot_x: np.ndarray
    rot_v: np.ndarray
    root_x: np.ndarray
    root_v: np.ndarray
    halflife_s: float = DEFAULT_HALFLIFE_S

    def apply(self, frame: MotionFrame) -> MotionFrame:
        """``frame`` (of the new motion) with the decayed offsets added; frames before ``t0_s`` are returned as is."""
        dt = frame.t_s - self.t0_s
        if dt < 0.0:
            return frame
        rot, _ = decay_spring(self.rot_x, self.rot_v, self.halflife_s, dt)
        root, _ = decay_spring(self.root_x, self.root_v, self.halflife_s, dt)
        rotvecs = (Rotation.from_rotvec(rot) * Rotation.from_rotvec(frame.rotvecs())).as_rotvec()
        return frame_from_rotvecs(frame.t_s, rotvecs, frame.root_m + root, frame.beat_phase, frame.bar_phase)

    def settled(self, t_s: float, tolerance: float = 1e-4) -> bool:
        """True when what is left of the offsets at ``t_s`` is below ``tolerance`` (radians, metres)."""
        dt = t_s - self.t0_s
        rot, _ = decay_spring(self.rot_x, self.rot_v, self.halflife_s, dt)
        root, _ = decay_spring(self.root_x, self.root_v, self.halflife_s, dt)
        return dt > 0 and float(max(np.abs(rot).max(), np.abs(root).max())) < tolerance


def angular_velocity(r0: np.ndarray, r1: np.ndarray, dt_s: float) -> np.ndarray:
    """Per-bone angular velocity (J, 3) radians per second from rotations ``r0`` to ``r1`` ((J, 3) axis-angle)
    ``dt_s`` seconds later."""
    return rotation_offset(r1, r0) / dt_s


def capture(old_at: Callable[[float], MotionFrame], new_at: Callable[[float], MotionFrame], t0_s: float,
            halflife_s: float = DEFAULT_HALFLIFE_S) -> Blend:
    """The transition at ``t0_s`` from motion ``old_at`` (what was shown) to motion ``new_at`` (what will be):
    offsets between the two at ``t0_s``, and velocity offsets between the old motion's velocity up to ``t0_s`` and the
    new one's from ``t0_s`` on (finite differences over :data:`VELOCITY_STEP_S`; the new motion may start with a
    jump at ``t0_s``, e.g. a pose that snaps in)."""
    h = VELOCITY_STEP_S
    old0, old1, new0, new1 = old_at(t0_s - h), old_at(t0_s), new_at(t0_s), new_at(t0_s + h)
    rot_x = rotation_offset(old1.rotvecs(), new0.rotvecs())
    rot_v = angular_velocity(old0.rotvecs(), old1.rotvecs(), h) - angular_velocity(new0.rotvecs(), new1.rotvecs(), h)
    root_v = (old1.root_m - old0.root_m - (new1.root_m - new0.root_m)) / h
    return Blend(float(t0_s), rot_x, rot_v, old1.root_m - new0.root_m, root_v, halflife_s)
