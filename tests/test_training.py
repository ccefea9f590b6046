"""`train` / `eval` end to end on a tiny synthetic dataset in the real AIST++ layout, with a tiny backbone.

Four pose classes; the music of class c has its own tempo and pitch, so the pose at a beat is a function of the
music around it and a working trainer must learn it. Train, val and test use different recordings (music ids) of
the four classes, so validation measures generalisation, not memory of the training windows.
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

import main
from common.constants import MODEL_SAMPLE_RATE, NUM_BETAS
from common.errors import InputError
from model.checkpoint import load_model, save_checkpoint
from model.network import EdsaConfig, EdsaNetwork
from model.training.cli import add_train_commands
from model.training.methods import METHODS, MethodConfig, initial_network, prepare, trainable_count
from model.training.trainer import DataConfig, Trainer, TrainConfig
from pose_db.bank import write_bank

CLASSES = 4
TEMPI_BPM = (96.0, 112.0, 132.0, 150.0)
PITCHES_HZ = (180.0, 360.0, 720.0, 1440.0)
SONG_S = 6.0
GENRES = {"train": "mBR", "val": "mHO", "test": "mJB"}
RECORDINGS = {"train": 4, "val": 1, "test": 1}
"""Music recordings per class in each split."""
TINY = EdsaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=1, intermediate_size=128,
                  conv_dim=(32,) * 7, num_conv_pos_embeddings=16, adapter_layers=(0,), adapter_bottleneck=16,
                  step_hidden=16, feature_hidden=64)


def render_song(cls: int, seed: int) -> np.ndarray:
    """A class's music: clicks on its tempo over a tone at its pitch, with a random level, phase and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SONG_S * MODEL_SAMPLE_RATE)) / MODEL_SAMPLE_RATE
    audio = np.sin(2 * np.pi * PITCHES_HZ[cls] * t + rng.uniform(0, 2 * np.pi))
    for beat in np.arange(rng.uniform(0.2, 0.4), SONG_S, 60.0 / TEMPI_BPM[cls]):
        start = int(beat * MODEL_SAMPLE_RATE)
        n = min(1200, len(t) - start)
        audio[start : start + n] += 0.5 * np.exp(-np.arange(n) / 150.0) * rng.normal(size=n)
    audio += 0.02 * rng.normal(size=len(t))
    return (rng.uniform(0.3, 0.9) * audio / np.abs(audio).max()).astype(np.float32)


def make_aist(root: Path) -> Path:
    """``root`` in the AIST++ layout: motions/*.pkl, splits/crossmodal_*.txt, ignore_list.txt, music/*.wav.

    Music ``m<genre><n>`` is a recording of class ``n % 4``: train has three recordings per class (the first danced
    twice), val and test one each.
    """
    poses = np.random.default_rng(7).normal(scale=0.4, size=(CLASSES, 72)).astype(np.float32)
    for folder in ("motions", "splits", "music"):
        (root / folder).mkdir(parents=True)
    ignored = "gBR_sBM_cAll_d09_mBR0_ch09"
    frames = int(SONG_S * 60)
    for split, genre in GENRES.items():
        names = []
        for number in range(RECORDINGS[split] * CLASSES):
            music, cls = f"{genre}{number}", number % CLASSES
            soundfile.write(root / "music" / f"{music}.wav", render_song(cls, seed=100 * len(names) + ord(genre[1])),
                            MODEL_SAMPLE_RATE)
            for dancer in (1, 2) if number < CLASSES and split == "train" else (3,):
                name = f"g{genre[1:]}_sBM_cAll_d0{dancer}_{music}_ch0{dancer}"
                motion = {"smpl_poses": np.repeat(poses[cls][None], frames, 0).reshape(frames, 24, 3),
                          "smpl_trans": np.zeros((frames, 3), np.float32), "smpl_scaling": np.ones(1, np.float32)}
                (root / "motions" / f"{name}.pkl").write_bytes(pickle.dumps(motion))
                names.append(name)
        names += [ignored] if split == "train" else []
        (root / "splits" / f"crossmodal_{split}.txt").write_text("\n".join(names) + "\n")
    (root / "ignore_list.txt").write_text(ignored + "\n")
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_aist(tmp_path_factory.mktemp("aist"))


@pytest.fixture(scope="module")
def init_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("init") / "tiny_init.chkpt"
    save_checkpoint(EdsaNetwork(TINY), path)
    return path


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="dancepose")
    add_train_commands(root.add_subparsers(dest="command"))
    return root


def run_cli(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


def data_args(dataset: Path, cache: Path) -> list[str]:
    return ["--data", str(dataset), "--cache", str(cache), "--workers", "1", "--threads", "2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, dataset, init_checkpoint) -> Path:
    out = tmp_path_factory.mktemp("run")
    code = run_cli(["train", "--init", str(init_checkpoint), "--out", str(out), *data_args(dataset, out / "cache"),
                    "--batch-size", "8", "--max-steps", "120", "--warmup-steps", "10", "--lr", "3e-3",
                    "--eval-every", "40", "--patience", "0"])
    assert code == 0
    return out


def test_help_documents_every_option(capsys):
    for command in ("train", "eval"):
        sub = parser()._subparsers._group_actions[0].choices[command]
        undocumented = [a.dest for a in sub._actions if not a.help]
        assert not undocumented, (command, undocumented)


def test_training_raises_validation_recall_well_above_chance(trained):
    summary = json.loads((trained / "summary.json").read_text())
    chance = 1 / CLASSES
    assert summary["best_val_recall@1"] >= 0.75 > 2 * chance, summary
    assert summary["trainable_parameters"] == trainable_count(TINY, MethodConfig())
    assert any((trained / "tensorboard").iterdir())


def test_checkpoint_loads_unchanged_and_retrieves(trained, dataset, tmp_path):
    model = load_model(trained / "best.chkpt")
    assert model.config == TINY
    payload = torch.load(trained / "best.chkpt", weights_only=True)
    assert set(payload) == {"model"} and all(key.startswith("model_hubert.") for key in payload["model"])
    poses = np.random.default_rng(7).normal(scale=0.4, size=(CLASSES, 72)).astype(np.float32)
    bank = write_bank(tmp_path / "bank", np.concatenate([np.zeros((CLASSES, NUM_BETAS), np.float32), poses], 1),
                      names=[f"class{c}" for c in range(CLASSES)], sources=["synthetic"] * CLASSES,
                      frame_ids=[-1] * CLASSES)
    out = tmp_path / "retrieved"
    code = main.main(["retrieve", str(dataset / "music" / "mJB2.wav"), "--checkpoint", str(trained / "best.chkpt"),
                      "--bank", str(bank), "--out", str(out), "--top-k", "1", "--no-video", "--device", "cpu"])
    assert code == 0
    top1 = [p["top_k"][0]["bank_index"] for p in json.loads((out / "retrieval.json").read_text())["positions"]
            if p["full_window"]]
    assert top1 and np.mean(np.array(top1) == 2) >= 0.75


def test_eval_reports_model_random_and_oracle(trained, dataset, capsys):
    report_path = trained / "test_eval.json"
    code = run_cli(["eval", "--checkpoint", str(trained / "best.chkpt"), *data_args(dataset, trained / "cache"),
                    "--split", "test", "--json", str(report_path)])
    assert code == 0
    results = json.loads(report_path.read_text())["results"]
    assert "median_rank" in capsys.readouterr().out
    assert results["oracle"]["R@1"] == 1.0 and results["oracle"]["MPJPE_mm"] == pytest.approx(0.0, abs=1e-6)
    assert results["model"]["R@1"] >= 0.75 > results["random"]["R@1"] + 0.2
    assert results["model"]["MPJPE_mm"] < results["random"]["MPJPE_mm"]
    assert results["model"]["R@5"] == 1.0  # only four poses in the gallery


def test_resume_continues_from_the_same_step_and_matches_an_unbroken_run(dataset, init_checkpoint, tmp_path):
    def config(out: Path, resume: bool = False) -> TrainConfig:
        data = DataConfig(layout="aist", root=dataset, cache=tmp_path / "cache")
        return TrainConfig(init=init_checkpoint, data=data, out=out, batch_size=4, max_steps=6, warmup_steps=2,
                           eval_every=3, patience=0, workers=1, resume=resume)

    unbroken = Trainer(config(tmp_path / "a"))
    unbroken.run()
    first = Trainer(config(tmp_path / "b"))
    first.run(until=3)
    resumed = Trainer(config(tmp_path / "b", resume=True))
    assert resumed.step == 3
    resumed.run()
    assert resumed.step == 6
    for name, tensor in unbroken.prepared.trainable().items():
        torch.testing.assert_close(resumed.prepared.trainable()[name], tensor)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_and_saves_in_the_published_layout(method, init_checkpoint, tmp_path):
    network = initial_network(load_model(init_checkpoint).torch_module, MethodConfig(method=method))
    prepared = prepare(network, MethodConfig(method=method))
    assert sum(p.numel() for p in prepared.trainable().values()) == trainable_count(TINY, MethodConfig(method=method))
    prepared.set_training(True)
    optimizer = torch.optim.AdamW(prepared.trainable().values(), lr=1e-2)
    prepared.module(torch.randn(2, TINY.input_samples)).square().mean().backward()
    optimizer.step()
    save_checkpoint(prepared.export(), tmp_path / "m.chkpt")
    reloaded = load_model(tmp_path / "m.chkpt")
    audio = torch.randn(2, TINY.input_samples)
    prepared.set_training(False)
    with torch.no_grad():
        torch.testing.assert_close(reloaded.embed_tensor(audio), prepared.module(audio), atol=1e-4, rtol=1e-4)


def test_bad_inputs_are_one_line_errors(dataset, init_checkpoint, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(InputError, match="crossmodal_val.txt: missing"):
        DataConfig(layout="aist", root=dataset / "motions", cache=cache).pairs("val")
    broken = make_aist(tmp_path / "broken")
    (broken / "music" / "mHO1.wav").unlink()
    with pytest.raises(InputError, match="no music file mHO1"):
        DataConfig(layout="aist", root=broken, cache=cache).pairs("val")
    (broken / "motions" / "gHO_sBM_cAll_d03_mHO0_ch03.pkl").write_bytes(pickle.dumps({"smpl_poses": "nope"}))
    with pytest.raises(InputError, match="no 'smpl_poses' array"):
        DataConfig(layout="aist", root=broken, cache=cache).pairs("val")


def make_cliff(root: Path) -> Path:
    """``root`` in the CLIFF-image layout: one song of the four classes' music in turn (SONG_S each), and one
    ``CLIFF_output/<split>/npz/clip_<frame>.npz`` per 60 fps frame sampled, holding that section's pose."""
    poses = np.random.default_rng(7).normal(scale=0.4, size=(CLASSES, 82)).astype(np.float32)
    poses[:, :NUM_BETAS] = 0
    song = np.concatenate([render_song(cls, seed=cls) for cls in range(CLASSES)] * 2)
    root.mkdir(parents=True)
    soundfile.write(root / "song.wav", song, MODEL_SAMPLE_RATE)
    section_frames = int(SONG_S * 60)
    for split, offset in (("train", 0), ("val", 4 * CLASSES * section_frames // 8), ("test", 7)):
        folder = root / "CLIFF_output" / split / "npz"
        folder.mkdir(parents=True)
        for frame in range(61 + offset % 60, 2 * CLASSES * section_frames - 61, 37 if split == "train" else 97):
            np.savez(folder / f"clip_{frame}.npz", poseshape_82=poses[(frame // section_frames) % CLASSES])
    return root


def test_cliff_layout_pairs_train_and_evaluate(init_checkpoint, tmp_path):
    data = make_cliff(tmp_path / "cliff")
    config = DataConfig(layout="cliff", root=data, cache=tmp_path / "cache")
    train = config.pairs("train")
    archives = sorted((data / "CLIFF_output" / "train" / "npz").iterdir())
    frames = np.array(sorted(int(p.stem.rpartition("_")[2]) for p in archives))
    np.testing.assert_array_equal(np.sort(train.centres), frames * 400)  # every archive has a full window here
    assert train.targets.shape == (len(archives), 82)
    out = tmp_path / "run"
    assert run_cli(["train", "--layout", "cliff", "--init", str(init_checkpoint), "--out", str(out),
                    *data_args(data, tmp_path / "cache"), "--batch-size", "8", "--max-steps", "20",
                    "--warmup-steps", "2", "--eval-every", "10", "--patience", "0"]) == 0
    assert load_model(out / "best.chkpt").config == TINY
    assert run_cli(["eval", "--layout", "cliff", "--checkpoint", str(out / "best.chkpt"),
                    *data_args(data, tmp_path / "cache"), "--split", "test", "--json", str(out / "e.json")]) == 0
    results = json.loads((out / "e.json").read_text())["results"]
    assert results["oracle"]["R@1"] == 1.0 and results["model"]["R@1"] > results["random"]["R@1"] + 0.25
    (data / "CLIFF_output" / "val" / "npz" / "badname.npz").write_bytes(b"")
    with pytest.raises(InputError, match="badname.npz: the name must end in _<frame>.npz"):
        config.pairs("val")
