"""Dance Revolution v2 network and checkpoints: fixture parity (section 18), the decoder's wiring, strict loading."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from common.errors import InputError
from model.dance_revolution.checkpoint import load_dance_model, save_dance_checkpoint
from model.dance_revolution.network import DanceRevolution, DanceRevolutionConfig, curriculum_mask

TRAIN_EPOCH = 500


@pytest.fixture(scope="module")
def reference(shared_dir: Path) -> Path:
    return shared_dir / "reference"


@pytest.fixture(scope="module")
def io(reference: Path) -> dict[str, np.ndarray]:
    return dict(np.load(reference / "tiny_dance_revolution_io.npz"))


def tensors(io: dict[str, np.ndarray], dtype: torch.dtype):
    """(music, lstm state, bos) of the fixture in ``dtype``."""
    state = ([torch.from_numpy(h).to(dtype) for h in io["lstm_h0"]],
             [torch.from_numpy(c).to(dtype) for c in io["lstm_c0"]])
    return torch.from_numpy(io["music"]).to(dtype), state, torch.from_numpy(io["bos"]).to(dtype)


def training_forward(network: DanceRevolution, io, dtype, epoch: int, dance: np.ndarray | None = None):
    music, state, bos = tensors(io, dtype)
    dance = io["dance"] if dance is None else dance
    with torch.no_grad():
        return network(music[:, :39], torch.from_numpy(io["src_pos"][:, :39]),
                       torch.from_numpy(dance[:, :39]).to(dtype), state, bos, epoch)


@pytest.mark.parametrize("dtype,gen_tol,enc_tol", [(torch.float64, 1e-10, 1e-10), (torch.float32, 1e-5, 1e-5)])
def test_tiny_checkpoint_reproduces_generation_and_training_forward(reference, io, dtype, gen_tol, enc_tol) -> None:
    loaded = load_dance_model(reference / "tiny_dance_revolution.pt", dtype=dtype)
    network = loaded.network
    assert loaded.epoch == TRAIN_EPOCH and network.config.window == 8 and network.config.n_head == 2
    music, state, bos = tensors(io, dtype)
    np.testing.assert_array_equal(network.bos(2).numpy(), io["bos"].astype(network.bos(2).numpy().dtype))
    with torch.no_grad():
        positions = torch.from_numpy(io["src_pos"])
        assert np.abs(network.encoder(music, positions).numpy() - io["dbg_enc_out_f64"]).max() <= enc_tol
    generated = network.generate(music, state, bos).numpy()
    assert np.abs(generated - io["gen_f64"]).max() <= gen_tol
    out = training_forward(network, io, dtype, TRAIN_EPOCH).numpy()
    assert np.abs(out - io["train_out_f64"]).max() <= gen_tol
    loss = np.abs(out.astype(np.float64) - io["dance"][:, 1:]).mean()
    assert abs(loss - float(io["train_loss_f64"])) <= (1e-12 if dtype == torch.float64 else 1e-6)
    out_e1 = training_forward(network, io, dtype, 1).numpy()
    assert np.abs(out_e1 - io["train_out_e1_f64"]).max() <= gen_tol
    if dtype == torch.float32:
        assert np.abs(generated - io["gen_f32"]).max() <= 5e-6


def test_curriculum_mask_is_p_predicted_then_q_ground_truth_steps(io) -> None:
    mask = curriculum_mask(39, TRAIN_EPOCH, condition_step=10, lambda_v=0.01).numpy()
    np.testing.assert_array_equal(mask, io["train_gt_mask"].astype(bool))
    assert curriculum_mask(899, 99, 10, 0.01).all()
    assert list(curriculum_mask(12, 100, 10, 0.01).numpy()) == [False] + [True] * 10 + [False]


def test_pose_input_reaches_the_output_two_steps_late(reference, io) -> None:
    network = load_dance_model(reference / "tiny_dance_revolution.pt", dtype=torch.float64).network
    music, state, bos = tensors(io, torch.float64)
    base = network.generate(music, state, bos).numpy()
    moved = network.generate(music, state, bos + 0.5).numpy()
    np.testing.assert_array_equal(base[:, :2], moved[:, :2])
    assert np.abs(base[:, 2] - moved[:, 2]).max() > 1e-6
    dance = io["dance"].copy()
    dance[:, 10] += 1.0
    before = training_forward(network, io, torch.float64, 1).numpy()
    after = training_forward(network, io, torch.float64, 1, dance).numpy()
    changed = np.flatnonzero(np.abs(before - after).max(axis=(0, 2)) > 0)
    assert changed[0] == 12 and changed[-1] == 38


def test_causal_encoder_ignores_future_music() -> None:
    torch.manual_seed(0)
    config = DanceRevolutionConfig(d_model=16, pose_emb=8, n_layers=2, n_head=2, d_k=8, d_v=8, d_inner=16, window=4,
                                   max_seq_len=64, causal=True)
    network = DanceRevolution(config).eval()
    music = torch.randn(1, 30, 438)
    later = music.clone()
    later[:, 20:] += 3.0
    positions = torch.arange(1, 31)[None]
    with torch.no_grad():
        a, b = network.encoder(music, positions), network.encoder(later, positions)
    torch.testing.assert_close(a[:, :20], b[:, :20])
    assert (a[:, 20:] - b[:, 20:]).abs().max() > 1e-3


def test_smpl6d_configuration_predicts_147_values_from_an_identity_bos() -> None:
    config = DanceRevolutionConfig(pose_kind="smpl6d", d_model=16, pose_emb=32, n_head=2, d_k=8, d_v=8, d_inner=16,
                                   window=4, max_seq_len=32)
    network = DanceRevolution(config).eval()
    out = network.generate(torch.randn(2, 10, 438), network.initial_state(2))
    assert out.shape == (2, 10, 147)
    np.testing.assert_array_equal(network.bos(1)[0, 3:9].numpy(), [1, 0, 0, 1, 0, 0])


def released_shapes(reference: Path) -> dict[str, list[int]]:
    rows = [line.split("\t") for line in (reference / "dance_revolution_v2_keys.tsv").read_text().splitlines()
            if line and not line.startswith("#")]
    return {key: json.loads(shape) for key, shape, _ in rows[1:]}


def test_released_layout_loads_strictly_with_a_namespace_args(reference, tmp_path) -> None:
    shapes = released_shapes(reference)
    assert len(shapes) == 35
    model = {key: torch.zeros(shape) for key, shape in shapes.items()}
    args = argparse.Namespace(d_frame_vec=438, frame_emb_size=200, d_model=200, d_pose_vec=50, pose_emb_size=50,
                              n_layers=1, n_head=8, d_k=64, d_v=64, d_inner=1024, sliding_windown_size=900,
                              seq_len=900, max_seq_len=4500, condition_step=10, lambda_v=0.01, dropout=0.1)
    path = tmp_path / "epoch_5500.pt"
    torch.save({"model": model, "args": args, "epoch": 5500}, path)
    loaded = load_dance_model(path)
    assert loaded.network.config == DanceRevolutionConfig()
    assert loaded.epoch == 5500
    assert ["module." + key for key in loaded.network.state_dict()] == list(shapes)
    trainable = sum(p.numel() for p in loaded.network.parameters() if p.requires_grad)
    assert trainable == 22_175_456


def test_other_architecture_is_one_line_naming_the_first_mismatched_keys(reference, tmp_path) -> None:
    state = dict(torch.load(reference / "tiny_dance_revolution.pt", weights_only=True))
    model = dict(state["model"])
    del model["module.decoder.lstm3.weight_ih"]
    model["module.decoder.gru.weight"] = torch.zeros(3)
    path = tmp_path / "other.pt"
    torch.save({**state, "model": model}, path)
    with pytest.raises(InputError) as err:
        load_dance_model(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert "'module.decoder.gru.weight'" in message and "'module.decoder.lstm3.weight_ih'" in message


def test_saved_checkpoint_round_trips_weights_config_and_normalisation(tmp_path) -> None:
    from model.dance_revolution.features import FeatureNorm

    config = DanceRevolutionConfig(pose_kind="smpl6d", d_model=16, pose_emb=32, n_head=2, d_k=8, d_v=8, d_inner=16,
                                   window=4, max_seq_len=32, causal=True)
    network = DanceRevolution(config)
    norm = FeatureNorm(np.full(438, 2.0, np.float32), np.full(438, 3.0, np.float32))
    save_dance_checkpoint(network, tmp_path / "c.pt", epoch=7, norm=norm)
    loaded = load_dance_model(tmp_path / "c.pt")
    assert loaded.network.config == config and loaded.epoch == 7
    np.testing.assert_array_equal(loaded.norm.mean, norm.mean)
    for key, value in network.state_dict().items():
        torch.testing.assert_close(loaded.network.state_dict()[key], value, rtol=0, atol=0)


def test_streaming_generator_steps_equal_whole_sequence_generation() -> None:
    from model.dance_revolution.checkpoint import LoadedModel
    from model.dance_revolution.features import FeatureNorm
    from model.dance_revolution.stream import StreamingDanceGenerator

    torch.manual_seed(0)
    config = DanceRevolutionConfig(pose_kind="smpl6d", d_model=16, pose_emb=16, n_layers=2, n_head=2, d_k=8, d_v=8,
                                   d_inner=16, window=3, max_seq_len=40, causal=True)
    network = DanceRevolution(config).eval()
    generator = StreamingDanceGenerator(LoadedModel(network, FeatureNorm.identity(), 0), seed=4)
    music = np.random.default_rng(0).normal(size=(30, 438)).astype(np.float32)
    stepped = np.stack([generator.step_vector(row) for row in music])
    whole = network.generate(torch.from_numpy(music)[None],
                             network.initial_state(1, torch.Generator().manual_seed(4)))[0].numpy()
    np.testing.assert_allclose(stepped, whole, atol=1e-5)
    generator.reset()
    frame = generator.step(music[0], beat_phase=0.25)
    assert frame.t_s == 0.0 and frame.body_pose.shape == (23, 3) and frame.beat_phase == 0.25
    np.testing.assert_allclose(generator.step_vector(music[1]), stepped[1], atol=1e-5)
    with pytest.raises(ValueError):
        StreamingDanceGenerator(LoadedModel(DanceRevolution(DanceRevolutionConfig(
            d_model=16, pose_emb=8, n_head=2, d_k=8, d_v=8, d_inner=16, window=3, max_seq_len=40)),
            FeatureNorm.identity(), 0))
