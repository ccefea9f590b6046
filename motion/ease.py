"""``ease``: the baseline motion, an eased per-joint slerp from one retrieved pose to the next, landing on its beat.

Each cue (a pose event) is a pose to reach at its ``show_at_s``. Its move starts when the previous move has landed (or
when the cue arrived, if later) and lands on its show time; a cue already due lands :data:`MIN_MOVE_S` after it starts.
Each of the 24 joint rotations is slerped on the shortest arc with :func:`ease_in_out`, so the body leaves and lands
at rest. The pose is put on the floor (its lowest joint as high as the rest pose's).

:class:`CueSchedule` is the state: :meth:`CueSchedule.advance` starts the moves that are due (decisions),
:meth:`CueSchedule.rotations_at` is a pure read. Used by one thread, no locks (the owner posts events; see
:mod:`motion.player`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from common.constants import NUM_JOINTS
from live.events import BeatTick, PoseEvent
from motion.clock import BeatClock
from motion.frame import MotionFrame, frame_from_rotvecs
from motion.ik import Skeleton, forward_kinematics, ground_offset_m, local_matrices

MIN_MOVE_S = 0.08
"""Shortest move in seconds: a pose that arrives late still glides in over this long instead of cutting."""


def ease_in_out(u: np.ndarray | float) -> np.ndarray:
    """Cubic ease-in-out (smoothstep) of progress ``u`` clipped to [0, 1]: 0 -> 0, 1 -> 1, zero slope at both ends."""
    u = np.clip(np.asarray(u, np.float64), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


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


def to_quaternions(rotvecs: np.ndarray) -> np.ndarray:
    """(24, 3) axis-angle radians -> (24, 4) unit quaternions (x, y, z, w)."""
    return Rotation.from_rotvec(np.asarray(rotvecs, np.float64).reshape(NUM_JOINTS, 3)).as_quat()


@dataclass(frozen=True)
class Cue:
    """Pose ``rotvecs`` (24, 3) radians to reach at ``show_at_s``; it arrived at ``added_s`` (seconds); ``tag`` is its
    bank index."""

    rotvecs: np.ndarray
    show_at_s: float
    added_s: float
    tag: int


@dataclass(frozen=True)
class Move:
    """An eased slerp from ``q_from`` to ``q_to`` ((24, 4) quaternions) between ``start_s`` and ``arrive_s``;
    ``tag`` is the pose moved to, ``tag_before`` the one shown until it lands."""

    q_from: np.ndarray
    q_to: np.ndarray
    start_s: float
    arrive_s: float
    tag: int | None = None
    tag_before: int | None = None

    def progress(self, t_s: float) -> float:
        """Eased progress at ``t_s``: 0 at the start, 1 from the arrival on."""
        if t_s >= self.arrive_s:
            return 1.0
        if self.arrive_s <= self.start_s:  # a snap: the old pose until it happens
            return 0.0
        return float(ease_in_out((t_s - self.start_s) / (self.arrive_s - self.start_s)))

    def quaternions_at(self, t_s: float) -> np.ndarray:
        """(24, 4) quaternions at ``t_s``."""
        u = self.progress(t_s)
        return self.q_to if u >= 1.0 else slerp(self.q_from, self.q_to, u)

    def tag_at(self, t_s: float) -> int | None:
        """The pose on show at ``t_s``: this move's once it has landed."""
        return self.tag if t_s >= self.arrive_s else self.tag_before


def resting_move(rotvecs: np.ndarray | None = None) -> Move:
    """A move that has always been at ``rotvecs`` (24, 3) (None: the rest pose)."""
    q = to_quaternions(np.zeros((NUM_JOINTS, 3)) if rotvecs is None else rotvecs)
    return Move(q, q, -np.inf, -np.inf)


@dataclass
class CueSchedule:
    """Cues in show-time order and the move in progress (see the module docstring); a move lasts at least
    ``min_move_s`` seconds (0: a late cue snaps, for a caller that blends it in)."""

    move: Move = field(default_factory=resting_move)
    pending: list[Cue] = field(default_factory=list)
    min_move_s: float = MIN_MOVE_S

    def add(self, cue: Cue) -> None:
        """Queue ``cue`` (kept in show-time order)."""
        self.pending.append(cue)
        self.pending.sort(key=lambda c: c.show_at_s)

    def advance(self, t_s: float) -> None:
        """Start every move due by ``t_s`` (seconds)."""
        while self.pending and max(self.move.arrive_s, self.pending[0].added_s) <= t_s:
            cue = self.pending.pop(0)
            start = max(self.move.arrive_s, cue.added_s)
            self.move = Move(self.move.quaternions_at(start), to_quaternions(cue.rotvecs), start,
                             max(cue.show_at_s, start + self.min_move_s), cue.tag, self.move.tag_at(start))

    def rotations_at(self, t_s: float) -> np.ndarray:
        """(24, 3) axis-angle radians at ``t_s`` (pure)."""
        return Rotation.from_quat(self.move.quaternions_at(t_s)).as_rotvec()


def grounded_frame(t_s: float, rotvecs: np.ndarray, skeleton: Skeleton, clock: BeatClock) -> MotionFrame:
    """The frame of pose ``rotvecs`` (24, 3) at ``t_s`` with its lowest joint on the floor and the clock's phases."""
    _, pos = forward_kinematics(local_matrices(rotvecs), np.zeros(3), skeleton)
    root = np.array([0.0, ground_offset_m(pos, skeleton), 0.0])
    return frame_from_rotvecs(t_s, rotvecs, root, clock.beat_phase(t_s), clock.bar_phase(t_s))


class EaseSource:
    """The ``ease`` motion (a :class:`~motion.source.MotionSource`) over the bank's poses ``poses`` (N, 24, 3)
    radians, for a performer of skeleton ``skeleton``."""

    name = "ease"

    def __init__(self, poses: np.ndarray, skeleton: Skeleton) -> None:
        self.poses, self.skeleton = poses, skeleton
        self.schedule = CueSchedule()
        self.clock = BeatClock()

    def on_event(self, event: object, now_s: float) -> None:
        """Queue a pose event's best pose for its show time; follow beat ticks. Other events are ignored."""
        if isinstance(event, PoseEvent):
            index = event.indices[0]
            self.schedule.add(Cue(self.poses[index], event.show_at_s, now_s, index))
        elif isinstance(event, BeatTick):
            self.clock = self.clock.tick(event.beat_s, event.tempo_bpm, event.beat_in_bar, event.beats_per_bar)

    def advance(self, t_s: float) -> None:
        """Start the moves due by ``t_s``."""
        self.schedule.advance(t_s)

    def frame_at(self, t_s: float) -> MotionFrame:
        """The body at ``t_s`` (pure)."""
        return grounded_frame(t_s, self.schedule.rotations_at(t_s), self.skeleton, self.clock)

    def shown_tag(self, t_s: float) -> int | None:
        """Bank index of the pose that has landed by ``t_s`` (None before the first)."""
        return self.schedule.move.tag_at(t_s)

    def reset(self) -> None:
        """Back to the rest pose, no cues, no beat grid."""
        self.schedule, self.clock = CueSchedule(), BeatClock()
