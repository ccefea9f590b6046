"""The motion layer: one interface (events in, a pure frame read out), the ``groove`` rhythm on the beat with planted
feet, inertialized transitions, the player's queue and mode switches. Synthetic events at explicit times: no threads,
no sleeps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from common.errors import InputError
from live.events import BeatTick, Latency, PoseEvent, StatusEvent
from live.ring_buffer import Chunk
from motion.clock import BeatClock
from motion.energy import AudioLevel, LevelMeter
from motion.frame import MotionFrame, bank_rotvecs, frame_from_vector
from motion.groove import accent_pulse, bounce_shape, pelvis_drop_m, weight_shift_m
from motion.ik import LEGS, forward_kinematics, local_matrices, skeleton_of
from motion.inertialize import capture, decay_spring, inertialize
from motion.idle import IdleConfig, idle_offsets
from motion.player import REPLAY_S, MotionPlayer, SwitchMode, replay_frames
from motion.source import MotionSetup, make_source
from pose_db.body import JOINT_NAMES, load_body

BPM = 120.0
PERIOD = 60.0 / BPM
ANKLES = [leg[2] for leg in LEGS]
UNTOUCHED = [JOINT_NAMES.index(n) for n in ("L_collar", "R_collar", "L_elbow", "R_elbow", "L_wrist", "R_wrist")]
"""Joints the groove layer never turns: on the beat they hold the retrieved pose exactly."""


@pytest.fixture(scope="module")
def skeleton():
    return skeleton_of(load_body())


def posed(**joints: tuple[float, float, float]) -> np.ndarray:
    """(24, 3) axis-angle pose with the named joints turned (radians)."""
    pose = np.zeros((24, 3))
    for name, rotvec in joints.items():
        pose[JOINT_NAMES.index(name)] = rotvec
    return pose


POSES = np.stack([
    posed(L_knee=(0.3, 0, 0), R_knee=(0.3, 0, 0), L_hip=(-0.3, 0, 0), R_hip=(-0.3, 0, 0), L_shoulder=(0, 0, -1.2),
          R_shoulder=(0, 0, 1.2)),
    posed(L_shoulder=(0, 0, 0.3), R_shoulder=(0, 0, -0.3), L_elbow=(0, -1.0, 0), R_elbow=(0, 1.0, 0),
          L_hip=(-0.2, 0, 0)),
    posed(L_hip=(-0.9, 0, 0), L_knee=(1.2, 0, 0), spine3=(0.3, 0, 0), L_shoulder=(0, 0, -1.3), R_shoulder=(0, 0, 1.3)),
])
"""A small bank: soft knees with arms down, arms out with bent elbows, a knee raised."""


def setup_of(skeleton) -> MotionSetup:
    return MotionSetup(POSES, skeleton)


def pose_event(index: int, show_at_s: float, seq: int = 0) -> PoseEvent:
    return PoseEvent(seq=seq, position_s=show_at_s, subdivision=0, window_start_s=show_at_s - 2.02,
                     window_end_s=show_at_s - PERIOD, show_at_s=show_at_s, ready_at_s=show_at_s - 0.3, indices=(index,),
                     scores=(1.0,), encoder="test", mode="predictive", tempo_bpm=BPM, dropped_before=0,
                     latency=Latency(0.0, 0.0, 0.05))


def song_log(beats: int, poses: list[int] | None = None, loudness: float = 0.8, onset: float = 0.8,
             jitter_s: float = 0.0) -> list[tuple[float, object]]:
    """Events of a steady song: a tick 50 ms after each beat, a pose event 0.3 s before each beat from beat 1 on
    (``poses`` cycled, default all the first pose), and a level every 20 ms with ``onset`` on the beats."""
    poses = poses or [0]
    log: list[tuple[float, object]] = []
    for k in range(beats):
        beat = k * PERIOD + (jitter_s if k % 2 else 0.0)
        log.append((beat + 0.05, BeatTick(beat, beat + 0.05, BPM)))
        if k >= 1:
            log.append((beat - 0.3, pose_event(poses[k % len(poses)], beat, seq=k)))
    for t in np.arange(0.0, beats * PERIOD, 0.02):
        hit = (t % PERIOD) < 0.02
        log.append((float(t), AudioLevel(float(t), loudness, onset if hit else 0.05)))
    return sorted(log, key=lambda entry: entry[0])


def play(skeleton, mode: str, log, start_s: float, end_s: float, fps: float = 120.0) -> list[MotionFrame]:
    return replay_frames(setup_of(skeleton), mode, log, fps, start_s, end_s)


def joint_positions(frames: list[MotionFrame], skeleton) -> np.ndarray:
    """(T, 24, 3) world joint positions (metres) of ``frames``."""
    return np.stack([forward_kinematics(local_matrices(f.rotvecs()), f.root_m, skeleton)[1] for f in frames])


def peak_acceleration(positions: np.ndarray, fps: float) -> float:
    """Largest joint acceleration (m/s^2) by second differences of (T, 24, 3) positions sampled at ``fps``."""
    acc = np.diff(positions, 2, axis=0) * fps * fps
    return float(np.linalg.norm(acc, axis=-1).max())


# -- the interface --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["ease", "groove"])
def test_frame_at_is_a_pure_read(skeleton, mode):
    source = make_source(mode, setup_of(skeleton))
    for now_s, event in song_log(6, poses=[0, 1, 2]):
        source.advance(now_s)
        source.on_event(event, now_s)
    source.advance(2.4)
    first = source.frame_at(2.41)
    for t in np.linspace(0.0, 3.0, 13):  # reads at other times, earlier and later, change nothing
        source.frame_at(float(t))
    again = source.frame_at(2.41)
    np.testing.assert_array_equal(first.rotvecs(), again.rotvecs())
    np.testing.assert_array_equal(first.root_m, again.root_m)
    assert (first.beat_phase, first.bar_phase) == (again.beat_phase, again.bar_phase)


def test_an_unknown_mode_and_the_generate_slot_say_what_is_wrong(skeleton):
    with pytest.raises(ValueError, match="unknown motion mode 'moonwalk'"):
        make_source("moonwalk", setup_of(skeleton))
    with pytest.raises(InputError, match="needs --dance-checkpoint"):
        make_source("generate", setup_of(skeleton))


def test_bank_vectors_become_named_frames_without_betas():
    vector = np.r_[np.full(10, 0.5), posed(L_knee=(0.4, 0, 0)).reshape(-1)]
    frame = frame_from_vector(1.5, vector)
    np.testing.assert_allclose(frame.body_pose[JOINT_NAMES.index("L_knee") - 1], [0.4, 0, 0])
    np.testing.assert_allclose(frame.pose72(), vector[10:], atol=1e-7)
    assert bank_rotvecs(vector[None]).shape == (1, 24, 3)


def test_the_beat_count_runs_on_through_a_tick_that_corrects_the_phase():
    clock = BeatClock().tick(0.0, BPM).tick(0.5, BPM).tick(1.03, BPM)  # the third beat 30 ms late
    assert clock.beats_at(1.03) == 2.0
    assert clock.beat_phase(1.03 + 0.25) == pytest.approx(0.5)
    assert clock.bar_phase(1.03 + 2 * PERIOD) == pytest.approx(0.0, abs=1e-9)  # beat 4: the next bar


def test_the_kinematics_agree_with_the_body_models_skinning_transforms(skeleton):
    from pose_db.body.skinning import joint_transforms

    pose = np.random.default_rng(0).normal(0.0, 0.4, (24, 3))
    root = np.array([0.1, -0.05, 0.02])
    _, positions = forward_kinematics(local_matrices(pose), root, skeleton)
    transforms = joint_transforms(pose[:1], pose[1:], skeleton.rest_joints)[0]  # (24, 4, 4), pelvis not moved
    expected = np.einsum("jab,jb->ja", transforms[:, :3, :3], skeleton.rest_joints) + transforms[:, :3, 3] + root
    np.testing.assert_allclose(positions, expected, atol=1e-9)


# -- groove ---------------------------------------------------------------------------------------------------------

def test_groove_shapes_put_the_body_low_on_the_beat_and_swap_feet_every_beat():
    assert bounce_shape(0.0) == 1.0 and bounce_shape(0.5) == pytest.approx(0.0)
    assert pelvis_drop_m(3.0, 0.04) == pytest.approx(0.04)
    assert pelvis_drop_m(3.5, 0.04, double_share=1.0) == pytest.approx(0.04)  # double time: the half beat dips too
    assert weight_shift_m(0.0, 0.03) == pytest.approx(0.03) and weight_shift_m(1.0, 0.03) == pytest.approx(-0.03)
    assert accent_pulse(0.05) == pytest.approx(1.0) and accent_pulse(0.5) < 1e-3


def test_in_groove_the_pelvis_is_lowest_on_the_beat(skeleton):
    frames = play(skeleton, "groove", song_log(12), 1.9, 4.9)
    height = np.array([f.root_m[1] for f in frames])
    minima = [i for i in range(1, len(frames) - 1) if height[i] < height[i - 1] and height[i] <= height[i + 1]]
    assert len(minima) == 6  # one dip per beat
    phases = np.array([frames[i].beat_phase for i in minima])
    assert np.all(np.minimum(phases, 1 - phases) < 0.05), phases
    assert np.ptp(height) > 0.02


@pytest.mark.parametrize("mode", ["ease", "groove"])
def test_the_retrieved_pose_is_reached_on_its_beat(skeleton, mode):
    log = song_log(8, poses=[0, 1, 2])
    beat = 5 * PERIOD  # the pose event of beat 5 shows pose 5 % 3
    frame = play(skeleton, mode, log, beat, beat + 0.01)[0]
    target = POSES[5 % 3]
    turned = Rotation.from_rotvec(frame.rotvecs()) * Rotation.from_rotvec(target).inv()
    if mode == "ease":
        assert turned.magnitude().max() < 1e-6
        return
    assert turned.magnitude()[UNTOUCHED].max() < 1e-6
    legs = [j for leg in LEGS for j in leg]
    assert np.delete(turned.magnitude(), legs).max() < 0.3  # the rhythm layer on top is small
    assert turned.magnitude()[legs].max() < 0.7  # the legs bend to keep the feet planted under a lower pelvis


def test_feet_stay_planted_while_the_pelvis_sways(skeleton):
    frames = play(skeleton, "groove", song_log(12), 1.0, 5.0)  # the first pose, held: the feet must not move
    positions = joint_positions(frames, skeleton)
    ankles = positions[:, ANKLES]
    assert np.ptp(positions[:, 0, 0]) > 0.04 and np.ptp(positions[:, 0, 1]) > 0.03  # the pelvis sways and bounces
    assert np.abs(ankles - ankles[0]).max() < 0.01


def test_the_groove_grows_with_loudness(skeleton):
    sway = {}
    for loudness in (0.1, 0.9):
        frames = play(skeleton, "groove", song_log(12, loudness=loudness), 3.0, 5.0)
        root = np.array([f.root_m for f in frames])
        sway[loudness] = (np.ptp(root[:, 0]), np.ptp(root[:, 1]))
    assert sway[0.9][0] > 2.0 * sway[0.1][0] and sway[0.9][1] > 2.0 * sway[0.1][1], sway


def test_stronger_onsets_make_bigger_head_accents(skeleton):
    head = JOINT_NAMES.index("head")
    nod = {}
    for onset in (0.1, 1.0):
        frames = play(skeleton, "groove", song_log(12, onset=onset), 3.0, 5.0)
        nod[onset] = np.ptp([f.rotvecs()[head, 0] for f in frames])
    assert nod[1.0] > 2.0 * nod[0.1], nod


def test_the_groove_does_not_repeat_itself_when_the_music_changes(skeleton):
    """Same beats, two bars of different loudness and poses: no bar of motion is a copy of another."""
    log = song_log(16, poses=[0, 1, 2]) + [(t, AudioLevel(t, 0.3, 0.05)) for t in np.arange(4.0, 6.0, 0.01)]
    frames = play(skeleton, "groove", sorted(log, key=lambda e: e[0]), 2.0, 6.0, fps=30.0)
    bars = np.stack([f.root_m for f in frames])[:120].reshape(2, 60, 3)  # two bars of 2 s at 30 fps
    assert np.abs(bars[0] - bars[1]).max() > 0.005


def test_in_silence_the_groove_settles_into_the_retrieved_pose(skeleton):
    log = song_log(8) + [(4.0, StatusEvent(4.0, "silence", "no beats"))]
    frames = play(skeleton, "groove", sorted(log, key=lambda e: e[0]), 3.9, 5.0, fps=60.0)
    assert np.abs(frames[0].rotvecs() - POSES[0]).max() > 0.02  # grooving
    idle = list(idle_offsets(0.0, IdleConfig()))  # the joints the idle layer (breathing, weight shift) turns
    still = np.setdiff1d(np.arange(24), idle)
    np.testing.assert_allclose(frames[-1].rotvecs()[still], POSES[0][still], atol=1e-3)
    assert 1e-4 < np.abs(frames[-1].rotvecs()[idle] - POSES[0][idle]).max() < 0.06  # only breathing is left
    peak = peak_acceleration(joint_positions(frames, skeleton), 60.0)
    assert peak < 60.0, peak


def test_a_late_pose_and_a_grid_jump_blend_in_without_a_pop(skeleton):
    """A pose that arrives after its show time and a beat grid that jumps 60 ms: groove inertializes, so the peak
    joint acceleration stays a fraction of the ease glide's and far below a cut's."""
    log = song_log(10, jitter_s=0.06)
    log.append((2.6, pose_event(2, 2.5, seq=99)))  # 100 ms late, a big change (knee up)
    log = sorted(log, key=lambda e: e[0])
    peaks = {m: peak_acceleration(joint_positions(play(skeleton, m, log, 2.2, 3.2, fps=240.0), skeleton), 240.0)
             for m in ("ease", "groove")}
    assert peaks["groove"] < 0.5 * peaks["ease"], peaks
    assert peaks["groove"] < 150.0, peaks


# -- transitions and the player -------------------------------------------------------------------------------------

def test_spring_offsets_decay_smoothly_and_exactly():
    x, v = np.array([[0.4, 0.0, -0.2]]), np.zeros((1, 3))
    x1, v1 = decay_spring(*decay_spring(x, v, 0.1, 0.05), 0.1, 0.05)
    x2, v2 = decay_spring(x, v, 0.1, 0.1)
    np.testing.assert_allclose(x1, x2)  # two steps = one step
    np.testing.assert_allclose(v1, v2)
    assert np.linalg.norm(x2) < 0.7 * np.linalg.norm(x) and np.abs(decay_spring(x, v, 0.1, 0.6)[0]).max() < 0.01 * 0.4
    q, w = inertialize(Rotation.from_rotvec(np.tile([0.3, 0.0, 0.0], (24, 1))).as_quat(), np.zeros((24, 3)), 0.1, 0.1)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0)
    assert 0.0 < Rotation.from_quat(q).magnitude().max() < 0.3 and w.shape == (24, 3)


def still(pose: np.ndarray):
    """A motion that holds ``pose`` (24, 3)."""
    return lambda t: frame_from_vector(t, np.r_[np.zeros(10), pose.reshape(-1)])


def test_a_blend_starts_where_the_old_motion_was_and_ends_on_the_new(skeleton):
    old, new = still(POSES[0]), still(POSES[2])
    blend = capture(old, new, 1.0, halflife_s=0.1)
    np.testing.assert_allclose(blend.apply(new(1.0)).rotvecs(), old(1.0).rotvecs(), atol=1e-9)
    assert blend.settled(2.0) and not blend.settled(1.05)
    np.testing.assert_allclose(blend.apply(new(2.0)).rotvecs(), new(2.0).rotvecs(), atol=1e-3)


def test_the_player_applies_posted_events_when_its_owner_samples(skeleton):
    player = MotionPlayer(setup_of(skeleton), "ease")
    for now_s, event in song_log(4):
        player.post(event, now_s)
    assert not player.log  # nothing applied until the owner samples
    frame = player.sample(1.0)
    assert len(player.log) > 0 and player.shown_tag(1.0) == 0
    np.testing.assert_allclose(frame.rotvecs(), POSES[0], atol=1e-6)


def test_a_player_without_export_keeps_only_recent_events(skeleton):
    player = MotionPlayer(setup_of(skeleton), "ease", history_s=REPLAY_S)
    for now_s, event in song_log(40):
        player.post(event, now_s)
        player.sample(now_s)
    times = [t for t, _ in player.log]
    assert times and times[-1] - times[0] <= REPLAY_S and times[0] > 10.0


def test_switching_mode_is_continuous_and_logged(skeleton):
    player = MotionPlayer(setup_of(skeleton), "ease")
    for now_s, event in song_log(12, poses=[0, 1]):
        player.post(event, now_s)
    before = player.sample(3.1)
    player.switch("groove", 3.1)
    after = player.sample(3.1)
    assert player.mode == "groove" and isinstance(player.log[-1][1], SwitchMode)
    np.testing.assert_allclose(after.rotvecs(), before.rotvecs(), atol=1e-6)
    np.testing.assert_allclose(after.root_m, before.root_m, atol=1e-9)
    frames = replay_frames(setup_of(skeleton), "ease", player.log, 240.0, 2.9, 3.4)
    peak = peak_acceleration(joint_positions(frames, skeleton), 240.0)
    assert peak < 150.0, peak


def test_the_level_meter_hears_loudness_and_onsets():
    rate = 24_000
    quiet = 0.01 * np.sin(2 * np.pi * 220 * np.arange(rate // 10) / rate).astype(np.float32)
    meter = LevelMeter(rate)
    steady = meter.measure([Chunk(0, quiet)])
    hit = meter.measure([Chunk(len(quiet), 30 * quiet)])
    assert steady is not None and hit is not None
    assert hit.loudness > steady.loudness + 0.5 and hit.onset == 1.0 and steady.onset < 0.05
    assert hit.at_s == pytest.approx(0.2)
