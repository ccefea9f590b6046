"""``graph``: a beat-synchronous motion graph over real motion clips (a :class:`~motion.source.MotionSource`).

The body plays one segment of a :class:`~motion.graph.MotionGraph` after another. Each play is time-warped so that it
starts on a beat and lands on a later beat of the live grid: a segment of natural length ``d`` seconds spans
``max(1, round(d / period))`` live beats. One beat before the current play lands (the predicted next beat), the next
segment is chosen with :func:`~motion.graph.best_segment`: its landing pose nearest the pose the engine retrieved last
(each :class:`~live.events.PoseEvent` steers), smooth to enter from where the body is (pose and velocity), a tempo
close to its own, a novelty penalty for segments played lately, and a pull back when the dancer has travelled more
than :attr:`GraphConfig.leash_m` from the centre of the floor. The next segment of the same clip costs nothing to
enter; any other is an inertialized transition (:mod:`motion.inertialize`): the offset between the two motions decays
over a half-life, so the body never jumps.

Root motion: each play is placed by a turn about the vertical and a floor offset so that its first frame continues
where the last play ended (heading and position); the height is the graph's (its clips stand on the template's
floor, :func:`motion.graph_build.grounded_root`), and all root motion is scaled to the performer's legs. Before the
engine reports beats (and in silence) the graph plays on an idle grid of :attr:`GraphConfig.idle_bpm` so the body never
freezes. All times are seconds on the audio clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from common.constants import NUM_JOINTS
from live.events import BeatTick, PoseEvent, StatusEvent
from motion.clock import BeatClock
from motion.ease import grounded_frame
from motion.frame import MotionFrame, frame_from_rotvecs
from motion.graph import MotionGraph, best_segment, template_leg_m
from motion.ik import Skeleton
from motion.inertialize import Blend, capture


@dataclass(frozen=True)
class GraphConfig:
    """Choice and blending settings.

    Attributes:
        novelty: cost added to a segment for each time it was played among the last ``recent`` choices.
        recent: how many past choices the novelty penalty remembers.
        transition_weight: weight of the entry cost (pose and velocity match) against the landing cost.
        tempo_weight: weight of ``log(time-warp ratio)^2``, so segments keep close to their own tempo.
        leash_m: distance (metres) from the centre of the floor past which travelling further costs
            ``leash_weight * excess^2`` (metres^-2).
        beats_per_play: live beats each segment spans (None: the whole number nearest its natural length).
        idle_bpm: tempo of the idle grid played before the engine has beats.
        halflife_s: half-life of transition blends.
    """

    novelty: float = 0.6
    recent: int = 12
    transition_weight: float = 10.0
    tempo_weight: float = 2.0
    leash_m: float = 0.8
    leash_weight: float = 4.0
    beats_per_play: int | None = None
    idle_bpm: float = 100.0
    halflife_s: float = 0.15


def yaw_matrix(angle: float | np.ndarray) -> np.ndarray:
    """Rotation matrix (..., 3, 3) about +Y by ``angle`` radians."""
    return Rotation.from_rotvec(np.multiply.outer(np.asarray(angle, np.float64), [0.0, 1.0, 0.0])).as_matrix()


@dataclass(frozen=True)
class Play:
    """Segment ``segment`` (frames ``first`` .. ``last``) played from ``start_s`` to ``end_s`` (it lands on
    ``end_s``), turned by ``yaw`` radians about +Y and moved so that its first frame's root is at ``offset`` (3,)
    metres (on the floor plane); ``blend`` is the transition in progress, ``tag`` the bank pose that steered it."""

    segment: int
    first: int
    last: int
    start_s: float
    end_s: float
    yaw: float
    offset: np.ndarray
    tag: int | None = None
    blend: Blend | None = None

    def frame_position(self, t_s: float) -> float:
        """Fractional graph frame at ``t_s`` (beyond the segment's ends outside [start_s, end_s])."""
        u = (t_s - self.start_s) / max(self.end_s - self.start_s, 1e-6)
        return self.first + u * (self.last - self.first)


def _interpolated(graph: MotionGraph, frame: float, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """(quaternions (24, 4), root (3,)) at fractional ``frame`` clamped to [low, high] (nlerp between frames)."""
    frame = float(np.clip(frame, low, high))
    i0 = int(np.floor(frame))
    i1 = min(i0 + 1, high)
    w = frame - i0
    q0, q1 = graph.rotations[i0].astype(np.float64), graph.rotations[i1].astype(np.float64)
    q1 = np.where((np.sum(q0 * q1, axis=1) < 0)[:, None], -q1, q1)
    q = (1 - w) * q0 + w * q1
    return q / np.linalg.norm(q, axis=1, keepdims=True), (1 - w) * graph.root[i0] + w * graph.root[i1]


def play_frame(graph: MotionGraph, play: Play, t_s: float, skeleton: Skeleton, clock: BeatClock) -> MotionFrame:
    """The body of ``play`` at ``t_s`` without its blend (pure): outside the play's span the clip goes on (or holds
    its first or last frame at the clip's ends). Root travel is scaled from the template's legs to ``skeleton``'s."""
    root_scale = skeleton.leg_length(0) / template_leg_m()
    clip = graph.clip_of_frame(play.first)
    quats, root = _interpolated(graph, play.frame_position(t_s), clip.first, clip.first + clip.frames - 1)
    turn = yaw_matrix(play.yaw)
    rotvecs = Rotation.from_quat(quats).as_rotvec()
    rotvecs[0] = (Rotation.from_matrix(turn) * Rotation.from_quat(quats[0])).as_rotvec()
    travel = turn @ (root - graph.root[play.first]) * root_scale
    root_m = np.array([play.offset[0] + travel[0], root[1] * root_scale, play.offset[2] + travel[2]])
    return frame_from_rotvecs(t_s, rotvecs, root_m, clock.beat_phase(t_s), clock.bar_phase(t_s))


def shown_frame(graph: MotionGraph, play: Play, t_s: float, skeleton: Skeleton, clock: BeatClock) -> MotionFrame:
    """``play``'s frame at ``t_s`` with its blend applied."""
    frame = play_frame(graph, play, t_s, skeleton, clock)
    return frame if play.blend is None else play.blend.apply(frame)


class GraphSource:
    """The ``graph`` motion over ``graph``, steered by the bank's poses ``poses`` (N, 24, 3) radians, for a performer
    of skeleton ``skeleton``; see the module docstring."""

    name = "graph"

    def __init__(self, graph: MotionGraph, poses: np.ndarray, skeleton: Skeleton,
                 config: GraphConfig = GraphConfig()) -> None:
        self.graph, self.poses, self.skeleton, self.config = graph, poses, skeleton, config
        durations = (graph.ends - graph.starts) / graph.fps
        self._durations = durations
        headings = graph.heading(graph.starts)
        self._root_scale = skeleton.leg_length(0) / template_leg_m()
        travel = (graph.root[graph.ends].astype(np.float64) - graph.root[graph.starts]) * self._root_scale
        self._local_travel = np.einsum("sij,sj->si", yaw_matrix(-headings), travel)
        self._mean_query = np.zeros(graph.features.shape[1], np.float32)
        self.reset()

    def reset(self) -> None:
        """Nothing played, no beat grid, no steering pose."""
        self.clock = BeatClock()
        self.plays: list[Play] = []
        self.query: np.ndarray | None = None
        self.tag: int | None = None
        self.recent: deque[int] = deque(maxlen=self.config.recent)
        self._idle_anchor_s: float | None = None

    # -- events and decisions ----------------------------------------------------------------------------------------
    def on_event(self, event: object, now_s: float) -> None:
        """Pose events steer the next choice, beat ticks move the grid, silence drops it (the idle grid plays)."""
        if isinstance(event, PoseEvent):
            self.tag = event.indices[0]
            self.query = self.graph.pose_query(self.poses[self.tag])
        elif isinstance(event, BeatTick):
            self.clock = self.clock.tick(event.beat_s, event.tempo_bpm, event.beat_in_bar, event.beats_per_bar)
        elif isinstance(event, StatusEvent) and event.kind == "silence":
            self.clock = BeatClock()
            self._idle_anchor_s = self.plays[-1].end_s if self.plays else now_s

    def live_clock(self) -> BeatClock:
        """The engine's grid, or the idle grid when there is none."""
        if self.clock.period_s is not None:
            return self.clock
        return BeatClock(self._idle_anchor_s or 0.0, 60.0 / self.config.idle_bpm, 0)

    def advance(self, t_s: float) -> None:
        """Choose every segment due by ``t_s``: one beat before the current play lands, the next one is chosen."""
        if not self.plays:
            if self._idle_anchor_s is None:
                self._idle_anchor_s = t_s
            self._start(t_s)
        while self.plays[-1].end_s - (self.live_clock().period_s or 0.0) <= t_s:
            self._start(self.plays[-1].end_s)
        del self.plays[:-3]

    def _landing(self, start_s: float, clock: BeatClock) -> tuple[np.ndarray, np.ndarray]:
        """For every segment starting at ``start_s``: (landing time (S,) seconds on a beat of ``clock``, time-warp
        ratio (S,) natural length / played length)."""
        period = clock.period_s
        if self.config.beats_per_play is None:
            beats = np.maximum(1, np.round(self._durations / period))
        else:
            beats = np.full(len(self._durations), float(self.config.beats_per_play))
        base = np.round(clock.beats_at(start_s))
        landing = clock.anchor_s + (base + beats - clock.anchor_beat) * period
        landing = np.where(landing - start_s < 0.5 * beats * period, landing + period, landing)
        return landing, self._durations / (landing - start_s)

    def _start(self, start_s: float) -> None:
        """Choose and start the segment that begins at ``start_s``."""
        c, graph = self.config, self.graph
        clock = self.live_clock()
        landing, ratio = self._landing(start_s, clock)
        previous = self.plays[-1] if self.plays else None
        if previous is None:
            heading, place, current = 0.0, np.zeros(3), -1
        else:
            heading = previous.yaw + float(graph.heading(previous.last))
            place = previous.offset + yaw_matrix(previous.yaw) @ (
                graph.root[previous.last] - graph.root[previous.first]) * self._root_scale
            current = previous.segment
        ends_at = place + np.einsum("ij,sj->si", yaw_matrix(heading), self._local_travel)
        excess = np.maximum(np.linalg.norm(ends_at[:, [0, 2]], axis=1) - c.leash_m, 0.0)
        extra = c.tempo_weight * np.log(ratio) ** 2 + c.leash_weight * excess ** 2
        query = self.query if self.query is not None else self._mean_query
        segment, _ = best_segment(graph, query, current, novelty=c.novelty, recent=tuple(self.recent),
                                  transition_weight=c.transition_weight, extra_cost=extra)
        first, last = (int(f) for f in graph.segments[segment])
        play = Play(segment, first, last, float(start_s), float(landing[segment]),
                    heading - float(graph.heading(first)), np.array([place[0], 0.0, place[2]]), self.tag)
        if previous is not None:
            if graph.successor(previous.segment) == segment:
                play = _with_blend(play, previous.blend)
            else:
                blend = capture(lambda t: shown_frame(graph, previous, t, self.skeleton, clock),
                                lambda t: play_frame(graph, play, t, self.skeleton, clock), start_s, c.halflife_s)
                play = _with_blend(play, blend)
        self.plays.append(play)
        self.recent.append(segment)

    # -- reads ---------------------------------------------------------------------------------------------------
    def _play_at(self, t_s: float) -> Play | None:
        shown = None
        for play in self.plays:
            if play.start_s <= t_s or shown is None:
                shown = play
        return shown

    def frame_at(self, t_s: float) -> MotionFrame:
        """The body at ``t_s`` (pure; the rest pose before the first play)."""
        play = self._play_at(t_s)
        if play is None:
            return grounded_frame(t_s, np.zeros((NUM_JOINTS, 3)), self.skeleton, self.live_clock())
        return shown_frame(self.graph, play, t_s, self.skeleton, self.live_clock())

    def shown_tag(self, t_s: float) -> int | None:
        """Bank index of the pose that steered the segment on show at ``t_s`` (None before any)."""
        play = self._play_at(t_s)
        return None if play is None else play.tag


def _with_blend(play: Play, blend: Blend | None) -> Play:
    return Play(play.segment, play.first, play.last, play.start_s, play.end_s, play.yaw, play.offset, play.tag, blend)
