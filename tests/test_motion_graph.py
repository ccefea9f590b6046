"""The motion graph: its database and search, the beat-synchronous ``graph`` source, and ``motion build``."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from live.events import BeatTick, PoseEvent, Latency
from motion.graph import POSE_DIMS, best_segment, read_graph, write_graph
from motion.graph_build import SourceClip, build_graph, clip_segments, motion_beat_frames
from motion.graph_source import GraphConfig, GraphSource
from motion.ik import Skeleton, forward_kinematics, local_matrices
from pose_db.mocap.retarget import SMPL_TEMPLATE_JOINTS

FPS = 30.0
L_SHOULDER, R_SHOULDER, L_KNEE, R_KNEE, L_HIP, R_HIP = 16, 17, 4, 5, 1, 2
SKELETON = Skeleton(SMPL_TEMPLATE_JOINTS + np.array([0.0, 0.9, 0.0]))


def arm_clip(name: str, arms_rad: float, seconds: float = 6.0, beat_s: float = 0.5) -> SourceClip:
    """Arms held out at ``arms_rad`` from hanging, knees bouncing once per beat (lowest on each beat), in place."""
    t = np.arange(int(seconds * FPS)) / FPS
    rotvecs = np.zeros((len(t), 24, 3))
    bend = 0.3 * (1 + np.cos(2 * np.pi * t / beat_s)) / 2
    rotvecs[:, L_HIP, 0], rotvecs[:, R_HIP, 0] = -bend, -bend
    rotvecs[:, L_KNEE, 0], rotvecs[:, R_KNEE, 0] = 2 * bend, 2 * bend
    rotvecs[:, L_SHOULDER, 2], rotvecs[:, R_SHOULDER, 2] = -1.2 + arms_rad, 1.2 - arms_rad
    beats = np.arange(0.0, seconds - 1e-9, beat_s)
    return SourceClip(name, f"test {name}", rotvecs, np.zeros((len(t), 3)), FPS, beats)


def tiny_graph():
    return build_graph([arm_clip("down", 0.0), arm_clip("up", 1.5)], mirror=False)


def pose_event(index: int, at_s: float) -> PoseEvent:
    return PoseEvent(0, at_s, 0, at_s - 2.0, at_s, at_s, at_s - 0.2, (index,), (1.0,), "reactive", "predictive",
                     120.0, 0, Latency(0.0, 0.0, 0.01))


def play(source: GraphSource, seconds: float, fps: float, *, bpm: float = 120.0, poses_every_beat=None):
    """Drive ``source`` with ticks at ``bpm`` from 0.5 s on (and a pose event per beat from ``poses_every_beat(k)``);
    returns (frames, [(time chosen, play) for each new play])."""
    period = 60.0 / bpm
    frames, chosen, beat = [], [], 0
    for t in np.arange(int(seconds * fps)) / fps:
        while 0.5 + beat * period <= t:
            source.on_event(BeatTick(0.5 + beat * period, t, bpm), t)
            if poses_every_beat is not None:
                source.on_event(pose_event(poses_every_beat(beat), t), t)
            beat += 1
        known = list(source.plays)
        source.advance(float(t))
        chosen += [(float(t), p) for p in source.plays if not any(p is k for k in known)]
        frames.append(source.frame_at(float(t)))
    return frames, chosen


def joints_of(frames) -> np.ndarray:
    return np.stack([forward_kinematics(local_matrices(f.rotvecs()), f.root_m, SKELETON)[1] for f in frames])


def test_build_cuts_each_clip_at_its_beats_into_segments_that_chain():
    graph = tiny_graph()
    assert len(graph.clips) == 2 and graph.rotations.shape == (len(graph.root), 24, 4)
    assert np.all(np.diff(graph.segments, axis=1) == 15)  # one beat of 0.5 s at 30 fps
    assert set(graph.starts) <= set(graph.beat_frames) and set(graph.ends) <= set(graph.beat_frames)
    first_clip_segments = [s for s in range(len(graph)) if graph.ends[s] < graph.clips[1].first]
    assert all(graph.successor(s) == s + 1 for s in first_clip_segments[:-1])
    assert graph.successor(first_clip_segments[-1]) is None  # no segment runs into the next clip


def test_graph_round_trips_through_its_folder(tmp_path):
    graph = tiny_graph()
    write_graph(tmp_path / "g", graph)
    again = read_graph(tmp_path / "g")
    for column in ("rotations", "root", "segments", "beat_frames", "features", "feature_offset", "feature_scale"):
        np.testing.assert_array_equal(getattr(again, column), getattr(graph, column))
    assert again.fps == graph.fps and [c.name for c in again.clips] == ["down", "up"]


def test_motion_beats_are_the_speed_minima():
    clip = arm_clip("down", 0.0, beat_s=0.8)
    from motion.graph_build import resample
    from motion.graph import template_positions

    quats, root = resample(clip, FPS)
    beats = motion_beat_frames(template_positions(quats), FPS)
    # the knees stop at the bottom (on the beats) and at the top (half way): minima every 0.4 s
    assert np.allclose(np.diff(beats) / FPS, 0.4, atol=1.5 / FPS)
    assert len(clip_segments(np.array([0, 3, 15, 80]), FPS, 1)) == 1  # 0.1 s and 2.2 s beats are not segments


def test_best_segment_prefers_the_nearest_landing_pose_and_penalises_repeats():
    graph = tiny_graph()
    up = arm_clip("up", 1.5).rotvecs[0]
    down = arm_clip("down", 0.0).rotvecs[0]
    in_up = np.array([graph.ends[s] >= graph.clips[1].first for s in range(len(graph))])
    best_up, cost_up = best_segment(graph, graph.pose_query(up), -1, novelty=0.0)
    best_down, _ = best_segment(graph, graph.pose_query(down), -1, novelty=0.0)
    assert in_up[best_up] and not in_up[best_down]
    repeated, cost = best_segment(graph, graph.pose_query(up), best_up, novelty=100.0, recent=(best_up,) * 3)
    assert repeated != best_up and in_up[repeated]  # another segment landing on the same pose, not a repeat
    assert cost == pytest.approx(cost_up, abs=1e-6)
    # entering a segment that starts where the body is (same pose, same velocity) costs no more than landing
    middle = int(np.flatnonzero(in_up)[3])
    assert best_segment(graph, graph.pose_query(up), middle, novelty=1.0)[1] == pytest.approx(cost_up, abs=1e-6)


def test_segments_are_chosen_one_beat_ahead_and_land_on_the_beats():
    graph = tiny_graph()
    source = GraphSource(graph, np.zeros((1, 24, 3)), SKELETON)
    fps, period = 120.0, 0.5
    _, chosen = play(source, 8.0, fps)
    on_grid = [(t, p) for t, p in chosen if t > 1.0]
    assert len(on_grid) >= 10
    for t, p in on_grid:
        assert period - 2.0 / fps < p.start_s - t <= period + 1e-9  # decided one beat before it starts
        for edge in (p.start_s, p.end_s):
            assert abs((edge - 0.5) / period - round((edge - 0.5) / period)) < 1e-6  # starts and lands on beats
    starts = [p.start_s for _, p in chosen]
    ends = [p.end_s for _, p in chosen]
    assert starts[1:] == ends[:-1]  # each segment begins where the last one landed


def test_retrieved_poses_steer_the_choice_with_bounded_acceleration_at_transitions():
    graph = tiny_graph()
    poses = np.stack([arm_clip("down", 0.0).rotvecs[0], arm_clip("up", 1.5).rotvecs[0]])
    source = GraphSource(graph, poses, SKELETON, GraphConfig(tempo_weight=0.0, transition_weight=1.0))
    fps = 120.0
    frames, chosen = play(source, 10.0, fps, poses_every_beat=lambda k: (k // 4) % 2)  # up and down every 2 s
    joints = joints_of(frames)
    wrists = joints[:, 20, 1]
    late = np.arange(len(frames)) / fps > 3.0
    assert wrists[late].max() - wrists[late].min() > 0.5  # the arms really go up and down with the steering
    jumps = [p for _, p in chosen if p.blend is not None and abs(p.blend.rot_x).max() > 0.5]
    assert jumps, "the steering should force transitions between the two clips"
    accel = np.linalg.norm(joints[2:] - 2 * joints[1:-1] + joints[:-2], axis=-1) * fps * fps
    hard_cut = 0.5 * fps * fps  # what a 0.5 m jump in one frame would give
    assert accel[late[2:]].max() < 0.05 * hard_cut, f"peak {accel.max():.0f} m/s^2"
    assert accel[late[2:]].max() < 100.0  # a 1.5-rad arm change, blended: about 66 m/s^2


def test_motion_build_command_reads_aist_motions(tmp_path):
    from main import main

    t = np.arange(int(4.0 * 60)) / 60
    poses = np.zeros((len(t), 72), np.float32)
    poses[:, 3 * L_KNEE] = 0.6 * np.sin(np.pi * t) ** 2  # stops at the top and the bottom: every 0.5 s
    poses[:, 3 * R_KNEE] = poses[:, 3 * L_KNEE]
    folder = tmp_path / "motions"
    folder.mkdir()
    data = {"smpl_poses": poses, "smpl_trans": np.zeros((len(t), 3), np.float32),
            "smpl_scaling": np.array([1.0], np.float32)}
    (folder / "gBR_sBM_c01_d04_mBR0_ch01.pkl").write_bytes(pickle.dumps(data))
    assert main(["motion", "build", str(folder), "--out", str(tmp_path / "graph")]) == 0
    graph = read_graph(tmp_path / "graph")
    assert [c.name for c in graph.clips] == ["gBR_sBM_c01_d04_mBR0_ch01", "gBR_sBM_c01_d04_mBR0_ch01:mirror"]
    assert np.allclose(np.diff(graph.segments, axis=1) / graph.fps, 0.5, atol=2 / graph.fps)


def test_motion_build_refuses_a_folder_without_motion(tmp_path, capsys):
    from main import main

    (tmp_path / "notes.txt").write_text("nothing")
    assert main(["motion", "build", str(tmp_path), "--out", str(tmp_path / "g")]) == 2
    assert "holds no motion" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()


def test_graph_is_a_registered_mode_playing_the_default_graph():
    from motion.graph_build import DEFAULT_GRAPH_DIR
    from motion.source import MOTION_MODES, MotionSetup, make_source

    assert "graph" in MOTION_MODES
    if not (DEFAULT_GRAPH_DIR / "graph.json").is_file():
        pytest.skip("the default graph is built at set-up (make graph)")
    source = make_source("graph", MotionSetup(np.zeros((2, 24, 3)), SKELETON))
    frames, _ = play(source, 3.0, 30.0)
    assert np.ptp(joints_of(frames)[:, 20], axis=0).max() > 0.05  # the body moves
    assert POSE_DIMS == 33
