"""An idle layer: the body breathes and shifts its weight while there is no beat to dance to (before the first beat,
and after the engine reports silence), so the figure on stage is never a still picture.

- breathing: the spine and the neck pitch back a little and the shoulders rise on each breath
  (:func:`breath_wave`, period :attr:`IdleConfig.breath_period_s`);
- weight shift: a slow pelvis roll from side to side, the spine taking most of it back so the chest stays upright
  (:func:`sway_wave`, period :attr:`IdleConfig.sway_period_s`).

The two periods are incommensurate, so the body never stops moving all at once. :class:`IdleGate` says how much of
the layer shows at a time (1 with no beat grid, 0 while dancing), fading over :attr:`IdleConfig.fade_s` seconds; it
follows the events (beat ticks, silence) at their times, so a replay gives the same frames. Deterministic; times in
seconds on the audio clock, amplitudes in radians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from live.events import BeatTick, StatusEvent
from motion.frame import MotionFrame, frame_from_rotvecs

PELVIS, SPINE, NECK, HEAD, COLLARS = 0, (3, 6, 9), 12, 15, (13, 14)
X, Z = np.eye(3)[0], np.eye(3)[2]


@dataclass(frozen=True)
class IdleConfig:
    """The idle layer's amplitudes (radians) and time constants (seconds).

    Attributes:
        breath_period_s, sway_period_s: one breath; one weight shift there and back.
        breath_rad: spine extension at the top of a breath (spread over the three spine joints).
        shoulder_rad: collar lift at the top of a breath (each side).
        sway_rad: pelvis roll each way.
        counter: share of the pelvis roll the spine takes back.
        fade_s: how long the layer takes to fade in or out.
    """

    breath_period_s: float = 4.1
    sway_period_s: float = 9.3
    breath_rad: float = 0.05
    shoulder_rad: float = 0.04
    sway_rad: float = 0.025
    counter: float = 0.8
    fade_s: float = 1.5


def breath_wave(t_s: float, period_s: float) -> float:
    """Breath at ``t_s``: 0 breathed out .. 1 breathed in, a smooth wave of period ``period_s`` seconds."""
    return 0.5 - 0.5 * math.cos(2.0 * math.pi * t_s / period_s)


def sway_wave(t_s: float, period_s: float) -> float:
    """Weight shift at ``t_s``: -1 (on the right foot) .. 1 (on the left), period ``period_s`` seconds."""
    return math.sin(2.0 * math.pi * t_s / period_s)


def idle_offsets(t_s: float, c: IdleConfig) -> dict[int, np.ndarray]:
    """Rotation offsets (axis-angle radians, (3,) each) by joint at ``t_s``, turned in each joint's parent frame."""
    breath, sway = breath_wave(t_s, c.breath_period_s), sway_wave(t_s, c.sway_period_s)
    offsets = {PELVIS: Z * c.sway_rad * sway}
    for joint in SPINE:
        offsets[joint] = -X * c.breath_rad * breath / len(SPINE) - Z * c.sway_rad * sway * c.counter / len(SPINE)
    offsets[NECK] = X * 0.5 * c.breath_rad * breath  # the head stays level
    offsets[COLLARS[0]] = Z * c.shoulder_rad * breath
    offsets[COLLARS[1]] = -Z * c.shoulder_rad * breath
    return offsets


def apply_idle(frame: MotionFrame, weight: float, c: IdleConfig = IdleConfig()) -> MotionFrame:
    """``frame`` with ``weight`` (0..1) of the idle layer at its time; ``frame`` itself when ``weight`` is 0."""
    if weight <= 0.0:
        return frame
    rotvecs = frame.rotvecs()
    joints = list(idle_offsets(frame.t_s, c).items())
    offsets = Rotation.from_rotvec(np.stack([rotvec * weight for _, rotvec in joints]))
    rows = [joint for joint, _ in joints]
    rotvecs[rows] = (offsets * Rotation.from_rotvec(rotvecs[rows])).as_rotvec()
    return frame_from_rotvecs(frame.t_s, rotvecs, frame.root_m, frame.beat_phase, frame.bar_phase)


class IdleGate:
    """How much idle layer shows (0..1): fully before the first beat tick, fading out when beat ticks come, back in
    after a silence status event. :meth:`on_event` takes events at their times (in order); :meth:`weight_at` is a
    pure read."""

    def __init__(self, c: IdleConfig = IdleConfig()) -> None:
        self.config = c
        self._switches: list[tuple[float, float, float]] = []  # (at_s, weight then, target), in time order

    def on_event(self, event: object, now_s: float) -> None:
        """A beat tick fades the layer out, silence fades it in; other events change nothing."""
        if isinstance(event, BeatTick):
            self._fade_to(0.0, now_s)
        elif isinstance(event, StatusEvent) and event.kind == "silence":
            self._fade_to(1.0, now_s)

    def weight_at(self, t_s: float) -> float:
        """The layer's weight at ``t_s``."""
        weight = 1.0
        for at_s, start, target in reversed(self._switches):
            if at_s <= t_s:
                share = min((t_s - at_s) / self.config.fade_s, 1.0)
                return start + (target - start) * share * share * (3.0 - 2.0 * share)  # smoothstep
        return weight

    def _fade_to(self, target: float, now_s: float) -> None:
        current = self._switches[-1][2] if self._switches else 1.0
        if target != current:
            self._switches.append((now_s, self.weight_at(now_s), target))
            del self._switches[:-8]  # only the newest matter: times only go forward
