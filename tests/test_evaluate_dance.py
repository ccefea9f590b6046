"""``evaluate-dance``: songs through the real engine, every motion mode scored against real (here: synthetic) dances."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from conftest import click_track
from motion.dances import Dance
from motion.evaluate import METRIC_KEYS, arrival_s, random_clip, record_song, split_halves
from motion.fit import FittedMotion
from pose_db.mocap.retarget import SMPL_TEMPLATE_JOINTS, smpl_joint_positions

FPS = 25.0


def synthetic_dance(name: str, style: str, seconds: float, beat_s: float, phase: float) -> Dance:
    """A dancer bouncing on every beat, swinging the arms over two beats and walking slowly forward."""
    t = np.arange(int(seconds * FPS)) / FPS
    pose = np.zeros((len(t), 24, 3), np.float32)
    bend = 0.25 * (1 + np.cos(2 * np.pi * (t / beat_s + phase))) / 2
    pose[:, 1, 0] = pose[:, 2, 0] = -bend
    pose[:, 4, 0] = pose[:, 5, 0] = 2 * bend
    swing = 0.5 * np.sin(np.pi * (t / beat_s + phase))
    pose[:, 16, 2], pose[:, 17, 2] = -1.2 + swing, 1.2 + swing
    transl = np.stack([np.zeros_like(t), 0.9 - 0.05 * bend, 0.1 * t], axis=1).astype(np.float32)
    joints = smpl_joint_positions(pose.reshape(len(t), 72), SMPL_TEMPLATE_JOINTS) + transl[:, None]
    motion = FittedMotion(pose=pose.reshape(len(t), 72), transl=transl, betas=np.zeros(10, np.float32),
                          joints=joints.astype(np.float32), marker_error_m=np.zeros((len(t), 1), np.float32),
                          marker_names=("x",), offsets_m=np.zeros((1, 3), np.float32), fps=FPS)
    beats = np.arange(0.0, seconds, beat_s) + phase * beat_s
    return Dance(name, motion, None, beats, "in-sync", style)


def synthetic_dances() -> list[Dance]:
    return [synthetic_dance(f"DANCE_{s[0].upper()}_{k}", s, 12.0, 0.6 + 0.05 * k, 0.1 * k)
            for s in ("rumba", "waltz") for k in range(2)]


def test_halves_alternate_within_each_style():
    first, second = split_halves(synthetic_dances())
    assert [d.name for d in first] == ["DANCE_R_0", "DANCE_W_0"]
    assert [d.name for d in second] == ["DANCE_R_1", "DANCE_W_1"]


def test_random_clip_lays_real_pieces_end_to_end_on_the_floor():
    pieces = [d.motion.joints[::1] for d in synthetic_dances()]
    clip = random_clip(pieces, 20.0, np.random.default_rng(3), fps=FPS)
    assert clip.shape == (int(20.0 * FPS) + 1, 24, 3)
    steps = np.linalg.norm(np.diff(clip[:, 0, [0, 2]], axis=0), axis=1)
    assert steps.max() < 0.05  # the pelvis never jumps across the floor at a cut (walking is 4 mm a frame)


def test_evaluate_dance_writes_the_table_for_every_mode(tmp_path, monkeypatch, capsys):
    from main import main

    songs = tmp_path / "songs"
    songs.mkdir()
    audio, beats = click_track(120.0, 12.0, 22050)
    soundfile.write(songs / "click.flac", audio, 22050)
    (songs / "click.beats.txt").write_text("".join(f"{b:.3f}\n" for b in beats))
    (songs / "no_beats.flac").write_bytes((songs / "click.flac").read_bytes())  # no beat file: not a song here
    reference = tmp_path / "dances"
    reference.mkdir()
    monkeypatch.setattr("motion.dances.load_dances", lambda folder, **_: synthetic_dances())
    out = tmp_path / "table.json"
    code = main(["evaluate-dance", "--songs", str(songs), "--reference", str(reference), "--motion",
                 "ease,groove,graph", "--json", str(out), "--speed", "4"])
    assert code == 0
    document = json.loads(out.read_text())
    assert [r["motion"] for r in document["rows"]] == ["real", "random_clip", "ease", "groove", "graph"]
    assert document["songs"] == ["click"]
    for row in document["rows"]:
        assert set(METRIC_KEYS) <= set(row)
        assert row["peak_accel"] >= row["p999_accel"] > 0
        assert 0.0 <= row["freeze"] <= 1.0
    rows = {r["motion"]: r for r in document["rows"]}
    assert all(rows[m]["FIDk"] >= 0 and 0 <= rows[m]["BAS"] <= 1 for m in ("ease", "groove", "graph"))
    printed = capsys.readouterr().out
    assert "random_clip" in printed and "graph" in printed


def test_evaluate_dance_refuses_an_unknown_mode_in_one_line(tmp_path, capsys):
    from main import main

    code = main(["evaluate-dance", "--songs", str(tmp_path), "--reference", str(tmp_path), "--motion", "ease,disco",
                 "--json", str(tmp_path / "t.json")])
    assert code == 2
    assert "disco" in capsys.readouterr().err
    assert not (tmp_path / "t.json").exists()


def test_a_real_song_logs_beats_poses_and_levels_on_the_audio_clock(dev_song):
    from model.reactive import ReactiveRetriever
    from pose_db.bank import PoseBank
    from pose_db.body import load_body
    from common.paths import DEFAULT_BANK
    from live.events import BeatTick, PoseEvent
    from motion.energy import AudioLevel

    run = record_song(dev_song, ReactiveRetriever(PoseBank.open(DEFAULT_BANK), load_body()), speed=4.0)
    times = [t for t, _ in run.log]
    assert times == sorted(times) and all(t == arrival_s(e) or isinstance(e, AudioLevel) for t, e in run.log)
    ticks = np.array([e.beat_s for _, e in run.log if isinstance(e, BeatTick)])
    poses = [e for _, e in run.log if isinstance(e, PoseEvent)]
    levels = [e for _, e in run.log if isinstance(e, AudioLevel)]
    assert len(poses) > 10 and len(levels) > 20 * run.duration_s
    true_period = np.median(np.diff(run.beats_s))
    assert np.median(np.diff(ticks)) == pytest.approx(true_period, rel=0.05)  # steady 120 BPM drums
    assert max(e.loudness for e in levels) > 0.3
