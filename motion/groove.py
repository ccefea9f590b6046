"""``groove`` (the default motion): the retrieved pose lands on each beat as in ``ease``, and a rhythmic layer on top,
driven by the beat and bar phase and the music's energy:

- knee bounce: the pelvis drops with the beat, lowest on it (:func:`bounce_shape`, :func:`pelvis_drop_m`); slow
  songs bounce on the half beats too;
- weight shift from foot to foot every two beats with the hips rolling over the standing leg (:func:`weight_shift_m`,
  :func:`hip_roll_rad`) and a hip twist across the bar (:func:`hip_twist_rad`), the spine counter-rotating;
- torso and head accents on the beats, as strong as the beat's onsets (:func:`accent_pulse`);
- arm swing, opposite arms, as far as the pose's arms hang down (:func:`arm_swing_rad`, :func:`arms_down_share`).

Amplitudes follow the loudness (smoothed over beats) and the onset strength of the last beat, both decided once per
beat half a beat ahead and ramped, so the layer never jumps; variation comes from the music (energy, onsets, tempo,
the retrieved pose), never from noise. The feet stay planted: both legs are solved by two-bone IK to keep each ankle
where the retrieved pose puts it (:mod:`motion.ik`), the pelvis lowered when a leg could not reach. A beat-grid
correction or a late pose is a transition, inertialized (:mod:`motion.inertialize`). Deterministic, no learned
weights.

Phases are in beats or bars, in [0, 1); amplitudes in metres or radians; times in seconds on the audio clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.spatial.transform import Rotation

from live.events import BeatTick, PoseEvent, StatusEvent
from motion.clock import BeatClock
from motion.ease import Cue, CueSchedule, Move, ease_in_out, grounded_frame, resting_move
from motion.energy import AudioLevel
from motion.frame import MotionFrame, frame_from_rotvecs
from motion.inertialize import Blend, capture
from motion.ik import Skeleton, forward_kinematics, local_matrices, plant_feet, reachable_root

SNAP_BEATS = 0.01
"""A grid correction this small (beats of phase, share of tempo) is taken without a blend: the layer moves less than
a couple of millimetres."""
PELVIS, SPINE = 0, (3, 6, 9)
NECK, HEAD = 12, 15
SHOULDERS, WRISTS = (16, 17), (20, 21)
X, Y, Z = np.eye(3)


@dataclass(frozen=True)
class GrooveConfig:
    """Amplitudes of the layer at full loudness (metres, radians) and its time constants (seconds).

    Attributes:
        bounce_m: extra pelvis drop on the beat.
        stance_m: constant pelvis drop (soft knees, so the legs can bounce).
        sway_m: sideways weight shift, each way.
        hip_roll_rad, hip_twist_rad: pelvis roll over the standing leg, pelvis twist across the bar.
        counter: share of the pelvis roll and twist the spine takes back (the chest stays square).
        torso_accent_rad, head_accent_rad: chest and head pitch forward on a beat with full onset strength.
        arm_swing_rad: forward/back swing of each arm.
        quiet_share: share of the amplitudes left at loudness 0 while there is a beat grid.
        loudness_halflife_s: smoothing of the loudness envelope.
        double_below_bpm, half_above_bpm: tempi under which the body bounces on half beats too, over which the
            bounce is shallower (by tempo ratio).
        halflife_s: half-life of inertialized transitions (grid corrections, late poses).
        min_glide_s: a move shorter than this (a pose that arrives just before its show time) is taken at once and
            blended in like a late pose: a glide of a few milliseconds would be a pop.
    """

    bounce_m: float = 0.05
    stance_m: float = 0.025
    sway_m: float = 0.035
    hip_roll_rad: float = 0.09
    hip_twist_rad: float = 0.10
    counter: float = 0.7
    torso_accent_rad: float = 0.10
    head_accent_rad: float = 0.2
    arm_swing_rad: float = 0.35
    quiet_share: float = 0.2
    loudness_halflife_s: float = 0.4
    double_below_bpm: float = 95.0
    half_above_bpm: float = 130.0
    halflife_s: float = 0.12
    min_glide_s: float = 0.1


# -- the layer as small pure functions of phase -------------------------------------------------------------------

def bounce_shape(beat_phase: np.ndarray | float) -> np.ndarray:
    """How low the body is, in [0, 1], at ``beat_phase`` (beats): 1 on the beat, 0 half way between beats."""
    return 0.5 * (1.0 + np.cos(2.0 * np.pi * np.asarray(beat_phase, np.float64)))


def pelvis_drop_m(beats: np.ndarray | float, depth_m: float, double_share: float = 0.0) -> np.ndarray:
    """Pelvis drop (metres, >= 0) at ``beats`` (continuous beat count): ``depth_m`` on each beat; with
    ``double_share`` in [0, 1] the half beats dip too (a slow song's double-time bounce)."""
    beats = np.asarray(beats, np.float64)
    return depth_m * ((1.0 - double_share) * bounce_shape(beats) + double_share * bounce_shape(2.0 * beats))


def weight_shift_m(beats: np.ndarray | float, sway_m: float) -> np.ndarray:
    """Sideways pelvis shift (metres, + to the body's left) at ``beats``: over the left foot on even beats, over the
    right on odd ones."""
    return sway_m * np.cos(np.pi * np.asarray(beats, np.float64))


def hip_roll_rad(beats: np.ndarray | float, roll_rad: float) -> np.ndarray:
    """Pelvis roll about the forward axis (radians) at ``beats``: the hip over the standing leg rises."""
    return roll_rad * np.cos(np.pi * np.asarray(beats, np.float64))


def hip_twist_rad(bar_phase: np.ndarray | float, twist_rad: float) -> np.ndarray:
    """Pelvis twist about the vertical (radians) at ``bar_phase`` (bars): one figure across each bar."""
    return twist_rad * np.sin(2.0 * np.pi * np.asarray(bar_phase, np.float64))


def accent_pulse(beats: np.ndarray | float, width_beats: float = 0.12, delay_beats: float = 0.05) -> np.ndarray:
    """A pulse in [0, 1] peaking ``delay_beats`` after each beat, Gaussian of ``width_beats`` (beats)."""
    d = np.asarray(beats, np.float64) - delay_beats
    d = d - np.round(d)
    return np.exp(-0.5 * (d / width_beats) ** 2)


def arm_swing_rad(beats: np.ndarray | float, swing_rad: float) -> np.ndarray:
    """Forward swing (radians) of the left arm at ``beats`` (the right arm swings the other way): a two-beat cycle
    with the arms crossing the body's plane on the beats."""
    return swing_rad * np.sin(np.pi * np.asarray(beats, np.float64))


def arms_down_share(positions: np.ndarray) -> np.ndarray:
    """(2,) how far each arm hangs down, in [0, 1], eased (no kink): 1 with the wrist 45 cm or more below the
    shoulder, 0 at shoulder height or above; positions (24, 3) metres."""
    drop = positions[list(SHOULDERS), 1] - positions[list(WRISTS), 1]
    return ease_in_out(drop / 0.45)


def smooth_loudness(previous: float, loudness: float, dt_s: float, halflife_s: float) -> float:
    """One step of the loudness envelope: ``previous`` moves toward ``loudness`` by the share ``dt_s`` allows."""
    keep = 0.5 ** (max(dt_s, 0.0) / halflife_s)
    return keep * previous + (1.0 - keep) * loudness


# -- per-beat decisions --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BeatLevel:
    """What beat ``beat`` gets, decided half a beat before it: ``amplitude`` share in [0, 1] (loudness), ``accent``
    in [0, 1] (onset strength of the beat before), ``double`` share of half-beat bouncing, ``depth`` share of the
    bounce depth (tempo)."""

    beat: int
    amplitude: float = 0.0
    accent: float = 0.0
    double: float = 0.0
    depth: float = 1.0


NO_LEVEL = BeatLevel(beat=-(10**9))


def level_for(levels: tuple[BeatLevel, ...], beat: int) -> BeatLevel:
    """The latest decision for a beat at or before ``beat`` (:data:`NO_LEVEL` when none)."""
    chosen = NO_LEVEL
    for level in levels:
        if level.beat <= beat and level.beat >= chosen.beat:
            chosen = level
    return chosen


def ramp(levels: tuple[BeatLevel, ...], beats: float, name: str) -> float:
    """Field ``name`` at ``beats``: eased from beat k - 1's decision to beat k's over [k - 0.5, k + 0.5), k the
    nearest beat, so a decision taken at k - 0.5 never makes the value jump."""
    k = math.floor(beats + 0.5)
    before, now = getattr(level_for(levels, k - 1), name), getattr(level_for(levels, k), name)
    return float(before + (now - before) * ease_in_out(beats - (k - 0.5)))


# -- the state and the frame ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GrooveState:
    """Everything a groove frame depends on: the base move, the beat clock, the per-beat decisions (newest last),
    and the transition in progress."""

    move: Move = field(default_factory=resting_move)
    clock: BeatClock = BeatClock()
    levels: tuple[BeatLevel, ...] = ()
    blend: Blend | None = None


def layer_rotations(rotvecs: np.ndarray, beats: float, bar_phase: float, amp: float, accent: float,
                    arms_down: np.ndarray, c: GrooveConfig) -> np.ndarray:
    """Local rotation matrices (24, 3, 3) of the base pose ``rotvecs`` (24, 3) with the layer's rotations at ``beats``
    with amplitude share ``amp`` and accent ``accent``. Offsets are turned in each joint's parent frame."""
    local = local_matrices(rotvecs)
    roll = float(hip_roll_rad(beats, c.hip_roll_rad)) * amp
    twist = float(hip_twist_rad(bar_phase, c.hip_twist_rad)) * amp
    pulse = float(accent_pulse(beats)) * accent * amp
    offsets = {PELVIS: Z * roll + Y * twist}
    for j in SPINE:
        offsets[j] = -(Z * roll + Y * twist) * c.counter / len(SPINE)
    offsets[SPINE[-1]] = offsets[SPINE[-1]] + X * c.torso_accent_rad * pulse
    offsets[NECK] = -X * 0.5 * c.torso_accent_rad * pulse
    offsets[HEAD] = X * float(accent_pulse(beats, delay_beats=0.1)) * accent * amp * c.head_accent_rad
    swing = float(arm_swing_rad(beats, c.arm_swing_rad)) * amp
    offsets[SHOULDERS[0]] = -X * swing * arms_down[0]  # forward swing = rotation about -X in the torso's frame
    offsets[SHOULDERS[1]] = X * swing * arms_down[1]
    for joint, rotvec in offsets.items():
        local[joint] = Rotation.from_rotvec(rotvec).as_matrix() @ local[joint]
    return local


def groove_frame(state: GrooveState, t_s: float, skeleton: Skeleton, c: GrooveConfig) -> MotionFrame:
    """The groove body at ``t_s`` for ``state`` (pure)."""
    raw = raw_groove_frame(state, t_s, skeleton, c)
    return raw if state.blend is None else state.blend.apply(raw)


def raw_groove_frame(state: GrooveState, t_s: float, skeleton: Skeleton, c: GrooveConfig) -> MotionFrame:
    """The groove body at ``t_s`` without the transition in progress."""
    rotvecs = Rotation.from_quat(state.move.quaternions_at(t_s)).as_rotvec()
    base = grounded_frame(t_s, rotvecs, skeleton, state.clock)
    if state.clock.period_s is None:
        return base
    beats = state.clock.beats_at(t_s)
    amp = ramp(state.levels, beats, "amplitude")
    accent = level_for(state.levels, math.floor(beats + 0.5)).accent
    depth = c.bounce_m * ramp(state.levels, beats, "depth")
    base_world, base_pos = forward_kinematics(local_matrices(rotvecs), base.root_m, skeleton)
    local = layer_rotations(rotvecs, beats, state.clock.bar_phase(t_s), amp, accent, arms_down_share(base_pos), c)
    drop = c.stance_m * amp + float(pelvis_drop_m(beats, depth, ramp(state.levels, beats, "double"))) * amp
    root = base.root_m + np.array([float(weight_shift_m(beats, c.sway_m)) * amp, -drop, 0.0])
    ankles, ankle_world = base_pos[[7, 8]], base_world[[7, 8]]
    root = reachable_root(root, local, ankles, skeleton)
    local = plant_feet(local, root, ankles, ankle_world, skeleton)
    return frame_from_rotvecs(t_s, Rotation.from_matrix(local).as_rotvec(), root, base.beat_phase, base.bar_phase)


class GrooveSource:
    """The ``groove`` motion (a :class:`~motion.source.MotionSource`) over the bank's poses ``poses`` (N, 24, 3)
    radians, for a performer of skeleton ``skeleton``; see the module docstring."""

    name = "groove"

    def __init__(self, poses: np.ndarray, skeleton: Skeleton, config: GrooveConfig = GrooveConfig()) -> None:
        self.poses, self.skeleton, self.config = poses, skeleton, config
        self.reset()

    def reset(self) -> None:
        """Back to the rest pose, no cues, no beat grid, no energy."""
        self.schedule = CueSchedule(min_move_s=0.0)
        self.state = GrooveState(move=self.schedule.move)
        self.loudness = 0.0
        self._level_at_s: float | None = None
        self._onsets: deque[tuple[float, float]] = deque(maxlen=64)

    def on_event(self, event: object, now_s: float) -> None:
        """Pose events queue cues, beat ticks move the grid (an inertialized transition at ``now_s``), silence drops
        the grid (the layer blends out until the beats are back), audio levels feed the energy envelope. Other events
        are ignored."""
        if isinstance(event, PoseEvent):
            index = event.indices[0]
            self.schedule.add(Cue(self.poses[index], event.show_at_s, now_s, index))
        elif isinstance(event, BeatTick):
            self._retime(self.state.clock.tick(event.beat_s, event.tempo_bpm, event.beat_in_bar, event.beats_per_bar),
                        now_s)
        elif isinstance(event, StatusEvent) and event.kind == "silence":  # no beats: settle into the pose
            self._transition(replace(self.state, clock=BeatClock(), levels=()), now_s)
        elif isinstance(event, AudioLevel):
            dt = 0.0 if self._level_at_s is None else event.at_s - self._level_at_s
            self.loudness = smooth_loudness(self.loudness, event.loudness, dt, self.config.loudness_halflife_s)
            self._level_at_s = event.at_s
            self._onsets.append((event.at_s, event.onset))

    def advance(self, t_s: float) -> None:
        """Start the moves due by ``t_s`` (a late pose, or one too close to its show time to glide, snaps in,
        inertialized) and decide the next beat's levels."""
        self.schedule.advance(t_s)
        move = self.schedule.move
        if move is not self.state.move and move.arrive_s - move.start_s < self.config.min_glide_s:
            move = self.schedule.move = replace(move, arrive_s=move.start_s)  # too short to glide: snap, blended
            self._transition(replace(self.state, move=move), move.start_s)
        elif move is not self.state.move:
            self.state = replace(self.state, move=move)
        self._decide_levels(t_s)

    def frame_at(self, t_s: float) -> MotionFrame:
        """The body at ``t_s`` (pure)."""
        return groove_frame(self.state, t_s, self.skeleton, self.config)

    def shown_tag(self, t_s: float) -> int | None:
        """Bank index of the pose that has landed by ``t_s`` (None before the first)."""
        return self.state.move.tag_at(t_s)

    def _retime(self, clock: BeatClock, now_s: float) -> None:
        """Follow a corrected beat grid: blended when the beat count at ``now_s`` moves, else just taken (a steady
        grid's ticks cost nothing)."""
        old = self.state.clock
        steady = old.period_s is not None and abs(clock.beats_at(now_s) - old.beats_at(now_s)) < SNAP_BEATS
        if steady and abs(clock.period_s / old.period_s - 1.0) < SNAP_BEATS:
            self.state = replace(self.state, clock=clock)
            return
        self._transition(replace(self.state, clock=clock), now_s)

    def _transition(self, new: GrooveState, t0_s: float) -> None:
        """Switch to state ``new`` at ``t0_s``, blending from what was shown."""
        old = self.state
        blend = capture(lambda t: groove_frame(old, t, self.skeleton, self.config),
                        lambda t: raw_groove_frame(new, t, self.skeleton, self.config), t0_s, self.config.halflife_s)
        self.state = replace(new, blend=blend)

    def _decide_levels(self, t_s: float) -> None:
        clock = self.state.clock
        if clock.period_s is None:
            return
        beat = math.floor(clock.beats_at(t_s) + 0.5)
        if self.state.levels and self.state.levels[-1].beat >= beat:
            return
        c = self.config
        tempo = 60.0 / clock.period_s
        recent = [onset for at, onset in self._onsets if at > t_s - clock.period_s]
        level = BeatLevel(
            beat=beat,
            amplitude=c.quiet_share + (1.0 - c.quiet_share) * self.loudness,
            accent=max(recent, default=0.0),
            double=float(np.clip((c.double_below_bpm - tempo) / 10.0, 0.0, 1.0)),
            depth=min(1.0, c.half_above_bpm / tempo),
        )
        self.state = replace(self.state, levels=(*self.state.levels[-3:], level))
