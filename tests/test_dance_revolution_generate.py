"""``main.py generate`` (npz + MP4, 15 -> 30 fps, long songs), the reference's skeleton drawing, and
``main.py repair-keypoints`` on synthetic gaps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from main import main
from model.dance_revolution.checkpoint import LoadedModel, save_dance_checkpoint
from model.dance_revolution.features import FeatureNorm
from model.dance_revolution.generate import encode_windows, generate_rows
from model.dance_revolution.keypoints import fill_missing, repair_folder
from model.dance_revolution.network import BOS_POSE_2D, DanceRevolution, DanceRevolutionConfig
from model.dance_revolution.poses import (double_rate_2d, double_rate_smpl, keypoints_from_model, smpl_to_vector,
                                          to_pixels, vector_to_smpl)
from model.dance_revolution.render import EDGES, draw_skeleton

TINY = DanceRevolutionConfig(d_model=16, pose_emb=8, n_layers=2, n_head=2, d_k=8, d_v=8, d_inner=16, window=4,
                             seq_len=20, max_seq_len=64)


def tiny_checkpoint(path: Path, config: DanceRevolutionConfig = TINY) -> Path:
    torch.manual_seed(0)
    save_dance_checkpoint(DanceRevolution(config), path, epoch=3)
    return path


def click_song(path: Path, seconds: float, rate: int = 22050) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = 0.1 * np.sin(2 * np.pi * 220 * t) + 0.8 * (np.mod(t, 0.5) < 0.01)
    soundfile.write(path, samples.astype(np.float32), rate)
    return path


def test_generate_writes_30fps_keypoints_and_a_video_with_audio(tmp_path, capsys) -> None:
    import av

    checkpoint = tiny_checkpoint(tmp_path / "tiny.pt")
    song = click_song(tmp_path / "song.wav", 14.0)
    assert main(["generate", str(song), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out")]) == 0
    arrays = np.load(tmp_path / "out" / "dance.npz")
    rows = (1 + int(14.0 * 15360) // 512 + 1) // 2  # the even 15-fps rows of the 30-fps features
    assert arrays["poses_15fps"].shape == (rows, 50) and arrays["music_15fps"].shape == (rows, 438)
    assert arrays["keypoints"].shape == (2 * rows, 25, 3) and int(arrays["fps"]) == 30
    with av.open(str(tmp_path / "out" / "dance.mp4")) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.width, video.height) == (1280, 720) and audio.rate == 44100
        assert video.frames == 2 * rows


def test_generate_bad_input_is_one_line_and_leaves_nothing(tmp_path, capsys) -> None:
    checkpoint = tiny_checkpoint(tmp_path / "tiny.pt")
    short = click_song(tmp_path / "short.wav", 5.0)
    assert main(["generate", str(short), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "o1")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "short.wav" in err and "12.8 s" in err and "\n" not in err
    assert not (tmp_path / "o1").exists()
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": {"module.encoder.gru.weight": torch.zeros(2)}, "args": {}, "epoch": 1}, foreign)
    song = click_song(tmp_path / "song.wav", 14.0)
    assert main(["generate", str(song), "--checkpoint", str(foreign), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert "not a Dance Revolution v2 checkpoint" in err and "'module.encoder.gru.weight'" in err
    assert not (tmp_path / "o2").exists()
    assert main(["generate", str(song), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "o3"),
                 "--smooth-hz", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "--smooth-hz" in err and "\n" not in err and not (tmp_path / "o3").exists()


def test_long_music_uses_overlapping_encoder_windows_and_one_unbroken_decoder() -> None:
    torch.manual_seed(1)
    network = DanceRevolution(TINY).eval()
    music = torch.randn(1, 150, 438)
    with torch.no_grad():
        whole = encode_windows(network, music[:, :64], 64)
        torch.testing.assert_close(whole, network.encoder(music[:, :64], torch.arange(1, 65)[None]))
        windowed = encode_windows(network, music, 64)
        overlap = TINY.n_layers * TINY.window
        first = network.encoder(music[:, :64], torch.arange(1, 65)[None])
        torch.testing.assert_close(windowed[:, : 64 - overlap], first[:, : 64 - overlap])
    loaded = LoadedModel(network, FeatureNorm.identity(), 0)
    poses = generate_rows(loaded, music[0].numpy(), seed=3)
    assert poses.shape == (150, 50) and np.isfinite(poses).all()
    np.testing.assert_array_equal(poses, generate_rows(loaded, music[0].numpy(), seed=3))


def test_reference_interpolation_doubles_the_rate_with_midpoints_and_a_repeated_last_frame() -> None:
    frames = np.arange(3 * 25 * 3, dtype=np.float64).reshape(3, 25, 3)
    doubled = double_rate_2d(frames)
    assert doubled.shape == (6, 25, 3)
    np.testing.assert_array_equal(doubled[[0, 2, 4, 5]], frames[[0, 1, 2, 2]])
    np.testing.assert_array_equal(doubled[1], (frames[0] + frames[1]) / 2)


def test_smpl_interpolation_slerps_halfway_and_6d_round_trips() -> None:
    from scipy.spatial.transform import Rotation

    pose = np.zeros((2, 72))
    pose[1, 3:6] = [0.0, 0.0, 1.2]
    transl = np.array([[0.0, 0.0, 0.0], [0.2, 0.0, 0.4]])
    doubled_pose, doubled_transl = double_rate_smpl(pose, transl)
    np.testing.assert_allclose(doubled_pose[1, 3:6], [0.0, 0.0, 0.6], atol=1e-6)
    np.testing.assert_allclose(doubled_transl[1], [0.1, 0.0, 0.2], atol=1e-6)
    rng = np.random.default_rng(0)
    pose = Rotation.random(5 * 24, random_state=1).as_rotvec().reshape(5, 72)
    back, back_transl = vector_to_smpl(smpl_to_vector(pose, rng.normal(size=(5, 3))))
    np.testing.assert_allclose(Rotation.from_rotvec(back.reshape(-1, 3)).as_matrix(),
                               Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix(), atol=1e-5)


def test_skeleton_drawing_uses_the_reference_colours_and_skips_invalid_joints() -> None:
    from model.dance_revolution.network import absolute_to_relative

    pixels = to_pixels(keypoints_from_model(absolute_to_relative(BOS_POSE_2D[None])))[0]
    image = draw_skeleton(pixels)
    neck, hip = pixels[1, :2].astype(int), pixels[8, :2].astype(int)
    middle = (neck + hip) // 2
    # vid2vid's setColor averages every overlapping brush pass with the colour, so (153, 0, 0) settles a little lower
    np.testing.assert_allclose(image[middle[1], middle[0]], (153, 0, 0), atol=4)
    shin = ((pixels[10, :2] + pixels[11, :2]) / 2).astype(int)
    np.testing.assert_allclose(image[shin[1], shin[0]], (0, 153, 153), atol=4)
    assert not image[:, :200].any()  # black canvas away from the body
    pixels[:, 2] = 0.0
    assert not draw_skeleton(pixels).any()
    assert len(EDGES) == 24


def test_missing_joints_fill_by_halving_or_on_the_line_and_never_wrap() -> None:
    body = np.zeros((20, 25, 3))
    body[:, 4, 0] = np.arange(20.0)
    body[:, 4, 2] = 1.0
    gap = [6, 7, 8]
    body[gap, 4] = [-1.0, -1.0, 0.0]
    mean = fill_missing(body)
    np.testing.assert_allclose(mean[gap, 4, 0], [7.0, 8.0, 8.5])  # (5+9)/2, (7+9)/2, (8+9)/2
    weighted = fill_missing(body, time_weighted=True)
    np.testing.assert_allclose(weighted[gap, 4, 0], [6.0, 7.0, 8.0])
    edge = np.zeros((5, 25, 3))
    edge[:, 2] = [-1.0, -1.0, 0.0]
    edge[3, 2] = [3.0, 4.0, 0.9]
    filled = fill_missing(edge)
    np.testing.assert_array_equal(filled[:, 2], np.tile([3.0, 4.0, 0.9], (5, 1)))
    nothing = np.full((3, 25, 3), -1.0)
    np.testing.assert_array_equal(fill_missing(nothing), nothing)  # no IndexError, no frames[-1] wrap
    far = np.zeros((25, 25, 3))
    far[1:24, 0] = [-1.0, -1.0, 0.0]
    np.testing.assert_array_equal(fill_missing(far)[12, 0], [0.0, 0.0, 0.0])  # the reference: copies propagate
    assert (fill_missing(far, time_weighted=True)[12, 0, :2] == -1.0).all()  # nothing within 9 original frames


def test_repair_keypoints_command_writes_a_repaired_folder_and_rejects_corrupt_json(tmp_path, capsys) -> None:
    folder = tmp_path / "json"
    folder.mkdir()
    for i in range(4):
        keypoints = np.tile([0.1 * i, 0.2, 0.9], 25)
        if i in (1, 2):
            keypoints[0:3] = [-1.0, -1.0, 0.0]
        people = [] if i == 3 else [{"person_id": [-1], "pose_keypoints_2d": keypoints.tolist(),
                                     "face_keypoints_2d": [0.5] * 210}]
        (folder / f"frame_{i:06d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    assert main(["repair-keypoints", str(folder), "--time-weighted"]) == 0
    out = tmp_path / "json_repaired"
    frames = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    assert len(frames) == 4 and frames[1]["people"][0]["face_keypoints_2d"] == [0.5] * 210
    # joint 0: frames 1-2 between frame 0 and nothing valid on the right (frame 3 has no person): copied from left
    assert frames[1]["people"][0]["pose_keypoints_2d"][:3] == [0.0, 0.2, 0.9]
    # the empty frame 3 takes the values of frame 2 (its only valid neighbours are on the left)
    assert frames[3]["people"][0]["pose_keypoints_2d"][3:6] == pytest.approx([0.2, 0.2, 0.9])
    (folder / "frame_000009_keypoints.json").write_text("{not json")
    capsys.readouterr()
    assert main(["repair-keypoints", str(folder), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "frame_000009_keypoints.json" in err and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()
    with pytest.raises(Exception):
        repair_folder(tmp_path / "missing", tmp_path / "x")


def test_generate_with_a_3d_model_writes_a_bvh_that_reads_back_to_the_npz_poses(tmp_path) -> None:
    from scipy.spatial.transform import Rotation

    from motion.export import read_bvh_rotations
    from motion.ik import skeleton_of
    from pose_db.body import load_body

    config = DanceRevolutionConfig(pose_kind="smpl6d", d_model=16, pose_emb=8, n_layers=1, n_head=2, d_k=8, d_v=8,
                                   d_inner=16, window=4, seq_len=20, max_seq_len=64)
    checkpoint = tiny_checkpoint(tmp_path / "tiny3d.pt", config)
    song = click_song(tmp_path / "song.wav", 14.0)
    out = tmp_path / "out"
    assert main(["generate", str(song), "--checkpoint", str(checkpoint), "--out", str(out), "--no-video"]) == 0
    arrays = np.load(out / "dance.npz")
    rotations, root = read_bvh_rotations(out / "dance.bvh")
    assert rotations.shape == (len(arrays["pose"]), 24, 3) and len(arrays["pose"]) > 400
    angle = Rotation.from_rotvec(rotations.reshape(-1, 3)).inv() * Rotation.from_rotvec(arrays["pose"].reshape(-1, 3))
    assert angle.magnitude().max() < 1e-4
    np.testing.assert_allclose(root, skeleton_of(load_body()).rest_joints[0] + arrays["transl"], atol=1e-5)
    assert "Frame Time: 0.03333333" in (out / "dance.bvh").read_text()
    raw = tmp_path / "raw"
    assert main(["generate", str(song), "--checkpoint", str(checkpoint), "--out", str(raw), "--no-video",
                 "--smooth-hz", "0"]) == 0
    from model.dance_revolution.smoothing import OFFLINE_CUTOFF_HZ, smooth_offline

    raw_poses = np.load(raw / "dance.npz")["poses_15fps"]
    assert float(arrays["smooth_hz"]) == OFFLINE_CUTOFF_HZ and float(np.load(raw / "dance.npz")["smooth_hz"]) == 0
    np.testing.assert_allclose(arrays["poses_15fps"], smooth_offline(raw_poses, 15.0, OFFLINE_CUTOFF_HZ), atol=1e-5)
    assert np.abs(np.diff(arrays["poses_15fps"], 3, axis=0)).mean() < 0.2 * np.abs(np.diff(raw_poses, 3, axis=0)).mean()
