"""Dance Revolution training on a tiny synthetic 2D dataset: the loss falls, resume equals an unbroken run, and the
``train-dance`` command's bad input is one line with exit 2."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from main import main
from model.dance_revolution.checkpoint import load_dance_model
from model.dance_revolution.network import BOS_POSE_2D, DanceRevolutionConfig
from model.dance_revolution.train import DanceTrainConfig, DanceTrainer

TINY = DanceRevolutionConfig(d_model=16, pose_emb=8, n_layers=1, n_head=2, d_k=8, d_v=8, d_inner=16, window=4,
                             seq_len=20, max_seq_len=32, lambda_v=0.5, condition_step=3)
"""Small enough for seconds on a CPU; lambda 0.5 makes the curriculum feed predictions from epoch 2 (p = 1)."""


def write_samples(folder: Path, count: int = 3, rows: int = 60) -> Path:
    """Synthetic prepro samples: music with a beat-like column, a standing pose swaying with it."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for n in range(count):
        t = np.arange(rows)
        music = rng.normal(0, 1, (rows, 438))
        music[:, 53] = (t % 8 == 0)
        dance = np.zeros((rows, 274))
        dance[:, :50] = BOS_POSE_2D + 0.05 * np.sin(2 * np.pi * (t[:, None] + n) / 8)
        (folder / f"sample_{n}.json").write_text(json.dumps(
            {"id": f"s{n}", "music_array": music.tolist(), "dance_array": dance.tolist()}))
    return folder


def tiny_run(data: Path, out: Path, **changes) -> DanceTrainConfig:
    return DanceTrainConfig(data=data, out=out, model=TINY, epochs=4, batch_size=2, lr=3e-3, seed=5, save_every=2,
                            progress=False, **changes)


def test_training_lowers_the_l1_and_writes_reference_layout_checkpoints(tmp_path) -> None:
    data = write_samples(tmp_path / "data")
    config = replace(tiny_run(data, tmp_path / "out"), epochs=12, save_every=6)
    summary = DanceTrainer(config).run()
    assert summary["windows"] == 9  # 3 samples x (60 // 20) windows
    assert summary["l1_last"] < 0.7 * summary["l1_first"]
    assert sorted(p.name for p in (tmp_path / "out").glob("epoch_*.pt")) == ["epoch_1.pt", "epoch_12.pt",
                                                                             "epoch_6.pt"]
    payload = torch.load(tmp_path / "out" / "last.pt", weights_only=True)
    assert all(key.startswith("module.") for key in payload["model"]) and payload["epoch"] == 12
    loaded = load_dance_model(tmp_path / "out" / "last.pt")
    assert loaded.network.config == TINY
    assert np.abs(loaded.norm.mean).max() > 0.01  # the fitted normalisation travels with the weights
    assert (tmp_path / "out" / "tensorboard").is_dir()


def test_resume_gives_the_same_weights_as_an_unbroken_run(tmp_path) -> None:
    data = write_samples(tmp_path / "data")
    unbroken = DanceTrainer(tiny_run(data, tmp_path / "a"))
    unbroken.run()
    first = DanceTrainer(tiny_run(data, tmp_path / "b"))
    first.run(until=2)
    resumed = DanceTrainer(tiny_run(data, tmp_path / "b", resume=True))
    assert resumed.epoch == 2
    resumed.run()
    for key, value in unbroken.network.state_dict().items():
        torch.testing.assert_close(resumed.network.state_dict()[key], value, rtol=0, atol=0, msg=key)
    assert resumed.history == unbroken.history


def test_train_dance_command_trains_and_bad_samples_are_one_line(tmp_path, capsys) -> None:
    data = write_samples(tmp_path / "data", count=1)
    base = ["train-dance", "--data", str(data), "--d-model", "16", "--pose-emb", "8", "--heads", "2", "--head-dim",
            "8", "--d-inner", "16", "--window", "4", "--seq-len", "20", "--max-seq-len", "32", "--epochs", "2",
            "--batch-size", "2"]
    assert main(base + ["--out", str(tmp_path / "ok")]) == 0
    assert (tmp_path / "ok" / "last.pt").is_file()
    (data / "sample_9.json").write_text('{"id": "broken", "music_array": [[0.1, ')
    capsys.readouterr()
    assert main(base + ["--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "sample_9.json" in err and err.startswith("error:")
    assert not (tmp_path / "bad").exists()
    (data / "sample_9.json").write_text(json.dumps({"music_array": [[0.0] * 437] * 30,
                                                     "dance_array": [[0.0] * 274] * 30}))
    assert main(base + ["--out", str(tmp_path / "bad")]) == 2
    assert "T x 438" in capsys.readouterr().err
    (data / "sample_9.json").unlink()
    assert main(base + ["--seq-len", "90", "--out", str(tmp_path / "bad")]) == 2
    assert "shorter than --seq-len 90" in capsys.readouterr().err


def test_ballroom_dance_becomes_15fps_smpl6d_rows_aligned_with_its_music(shared_dir, tmp_path) -> None:
    from model.dance_revolution.ballroom import ballroom_sequences
    from model.dance_revolution.poses import sixd_to_matrix

    folder = shared_dir / "data" / "ballroom"
    (sequence,) = ballroom_sequences(folder, names=("DANCE_W_22",), cache=tmp_path / "cache")
    with np.load(folder / "DANCE_W_22.npz") as source:
        seconds = len(source["joints"]) / float(source["fps"])
    assert sequence.music.shape[1] == 438 and sequence.poses.shape == (len(sequence.music), 147)
    assert abs(len(sequence.poses) / 15 - seconds) < 0.2  # in-sync dance: lag 0.0x s, the whole dance is kept
    matrices = sixd_to_matrix(sequence.poses[:, 3:].reshape(-1, 24, 6))
    np.testing.assert_allclose(matrices @ np.swapaxes(matrices, -1, -2), np.broadcast_to(np.eye(3), matrices.shape),
                               atol=1e-5)
    assert np.abs(sequence.poses[:, [0, 2]].mean(axis=0)).max() < 1e-4  # the floor path is centred
    assert (tmp_path / "cache" / "DANCE_W_22.fit.npz").is_file()


def test_layout_and_pose_must_agree(tmp_path) -> None:
    from model.dance_revolution.network import DanceRevolutionConfig as Config

    data = write_samples(tmp_path / "data", count=1)
    with pytest.raises(Exception, match="use --pose openpose2d"):
        DanceTrainer(replace(tiny_run(data, tmp_path / "o"), model=replace(TINY, pose_kind="smpl6d")))
    with pytest.raises(Exception, match="MANIFEST.tsv"):
        DanceTrainer(replace(tiny_run(data, tmp_path / "o"), layout="ballroom",
                             model=Config(pose_kind="smpl6d", seq_len=20, max_seq_len=32)))


def make_tiny_aist(root: Path, seconds: float = 4.0) -> Path:
    """A tiny AIST++ layout: two train sequences (plus one in ignore_list.txt, which has no files), one val, one test;
    60-fps motion swaying at 1 Hz, ``smpl_trans`` in centimetres with ``smpl_scaling`` 100; click-track music."""
    import pickle

    import soundfile

    for folder in ("motions", "splits", "music"):
        (root / folder).mkdir(parents=True)
    frames, rate = int(seconds * 60), 22050
    t = np.arange(frames) / 60
    splits = {"train": ["gBR_sBM_cAll_d04_mBR0_ch01", "gPO_sBM_cAll_d05_mPO1_ch02"],
              "val": ["gBR_sBM_cAll_d06_mBR2_ch03"], "test": ["gPO_sBM_cAll_d07_mPO3_ch04"]}
    for split, names in splits.items():
        for k, name in enumerate(names):
            poses = np.zeros((frames, 24, 3), np.float32)
            poses[:, 16, 2] = 0.6 * np.sin(2 * np.pi * t + k)  # the left shoulder swings
            trans = np.stack([10 * t, 90 + 5 * np.sin(2 * np.pi * t), np.zeros_like(t)], axis=1)
            (root / "motions" / f"{name}.pkl").write_bytes(pickle.dumps(
                {"smpl_poses": poses, "smpl_trans": trans.astype(np.float32), "smpl_scaling": np.array([100.0])}))
            music = np.arange(int(seconds * rate)) / rate
            clicks = 0.1 * np.sin(2 * np.pi * (220 + 50 * k) * music) + 0.8 * (np.mod(music, 0.5) < 0.01)
            soundfile.write(root / "music" / f"{name.split('_')[4]}.wav", clicks.astype(np.float32), rate)
        listed = names + (["gBR_sBM_cAll_d09_mBR5_ch09"] if split == "train" else [])
        (root / "splits" / f"crossmodal_{split}.txt").write_text("\n".join(listed) + "\n")
    (root / "ignore_list.txt").write_text("gBR_sBM_cAll_d09_mBR5_ch09\n")
    return root


def test_aist_layout_gives_the_official_split_as_15fps_smpl6d_rows_in_metres(tmp_path) -> None:
    from scipy.spatial.transform import Rotation

    from common.errors import InputError
    from model.dance_revolution.aist import aist_sequences
    from model.dance_revolution.poses import vector_to_smpl

    root = make_tiny_aist(tmp_path / "aist")
    train = aist_sequences(root, "train", cache=tmp_path / "cache")
    assert [s.name for s in train] == ["gBR_sBM_cAll_d04_mBR0_ch01", "gPO_sBM_cAll_d05_mPO1_ch02"]
    assert [s.name for s in aist_sequences(root, "val", cache=tmp_path / "cache")] == ["gBR_sBM_cAll_d06_mBR2_ch03"]
    sequence = train[1]
    assert sequence.music.shape == (len(sequence.poses), 438) and sequence.poses.shape[1] == 147
    assert abs(len(sequence.poses) / 15 - 4.0) < 0.1
    pose, transl = vector_to_smpl(sequence.poses)
    t = np.arange(len(pose)) / 15
    expected = Rotation.from_rotvec(np.stack([np.zeros_like(t), np.zeros_like(t), 0.6 * np.sin(2 * np.pi * t + 1)], 1))
    assert (Rotation.from_rotvec(pose[:, 48:51]).inv() * expected).magnitude().max() < 1e-3
    np.testing.assert_allclose(transl[:, 1], 0.9 + 0.05 * np.sin(2 * np.pi * t), atol=1e-4)  # cm / scaling: metres
    np.testing.assert_allclose(transl[:, 0], 0.1 * t - (0.1 * t).mean(), atol=1e-4)  # the path centred
    (root / "splits" / "crossmodal_train.txt").unlink()
    with pytest.raises(InputError, match="crossmodal_train.txt"):
        aist_sequences(root, "train", cache=tmp_path / "cache")


def test_train_dance_trains_a_3d_model_on_the_aist_layout(tmp_path, monkeypatch) -> None:
    import model.dance_revolution.aist

    monkeypatch.setattr(model.dance_revolution.aist, "CACHE", tmp_path / "cache")
    root = make_tiny_aist(tmp_path / "aist")
    assert main(["train-dance", "--data", str(root), "--layout", "aist", "--d-model", "16", "--pose-emb", "8",
                 "--heads", "2", "--head-dim", "8", "--d-inner", "16", "--window", "4", "--seq-len", "20",
                 "--max-seq-len", "32", "--epochs", "2", "--batch-size", "2", "--causal",
                 "--out", str(tmp_path / "out")]) == 0
    loaded = load_dance_model(tmp_path / "out" / "last.pt")
    assert loaded.network.config.pose_kind == "smpl6d" and loaded.network.config.causal
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["windows"] == 2 * (60 // 20)  # two train sequences of 60 rows; the ignored one is left out
    assert any((tmp_path / "cache").rglob("mBR0.features.npy"))
