"""Checkpoint loading: architecture inference, the published key layout, clear errors for bad files, MERT snapshots,
device choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from transformers import HubertModel

from common.errors import InputError
from model import load_model
from model.checkpoint import CHECKPOINT_PREFIX, checkpoint_state, legacy_name, save_checkpoint
from model.device import pick_device
from model.hf_snapshot import load_mert_snapshot
from model.network import EdsaConfig, EdsaNetwork

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
KEY_TABLE = REFERENCE / "edsa_checkpoint_keys.tsv"
TINY = EdsaConfig(num_hidden_layers=2, intermediate_size=256, conv_dim=(32,) * 7, num_conv_pos_embeddings=16)
"""The architecture of ../shared/reference/tiny_edsa.chkpt."""


@pytest.fixture(scope="module")
def tiny_network() -> EdsaNetwork:
    torch.manual_seed(0)
    return EdsaNetwork(TINY).eval()


@pytest.fixture(scope="module")
def tiny_file(tiny_network: EdsaNetwork, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "tiny.chkpt"
    save_checkpoint(tiny_network, path)
    return path


@pytest.fixture(scope="module")
def window() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((1, 48480)).astype(np.float32)


def saved(tmp_path: Path, payload: object, name: str = "bad.chkpt") -> Path:
    path = tmp_path / name
    torch.save(payload, path)
    return path


def load_error(path: Path) -> str:
    """The one-line InputError message load_model gives for ``path`` (which it must name)."""
    with pytest.raises(InputError) as caught:
        load_model(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def test_round_trip_keeps_weights_and_outputs(tiny_network: EdsaNetwork, tiny_file: Path, window: np.ndarray) -> None:
    model = load_model(tiny_file)
    assert model.config == TINY
    for key, value in tiny_network.state_dict().items():
        assert torch.equal(model.torch_module.state_dict()[key], value), key
    with torch.inference_mode():
        expected = tiny_network(torch.from_numpy(window)).numpy()
    np.testing.assert_allclose(model.embed(window), expected, rtol=0, atol=1e-6)


def test_parametrized_weight_norm_names_load_too(tiny_network: EdsaNetwork, tmp_path: Path) -> None:
    state = {CHECKPOINT_PREFIX + key: value for key, value in tiny_network.state_dict().items()}
    assert any(".parametrizations.weight.original1" in key for key in state)
    assert load_model(saved(tmp_path, {"model": state})).config == TINY


def test_missing_file_says_where_to_put_it(tmp_path: Path) -> None:
    assert "checkpoint/edsa_adapter_checkpoint.chkpt" in load_error(tmp_path / "nope.chkpt")


def test_directory_is_refused(tmp_path: Path) -> None:
    assert "is a directory" in load_error(tmp_path)


def test_truncated_file_is_refused(tiny_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.chkpt"
    path.write_bytes(tiny_file.read_bytes()[:100_000])
    assert "truncated or corrupt" in load_error(path)


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.chkpt"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    assert "truncated or corrupt" in load_error(path)


@pytest.mark.parametrize("payload", [[1, 2, 3], {"state_dict": {}}, {"model": torch.zeros(3)}])
def test_payload_without_model_dict_is_refused(tmp_path: Path, payload: object) -> None:
    assert "expected a dict {'model': state_dict}" in load_error(saved(tmp_path, payload))


def test_foreign_keys_are_named(tmp_path: Path) -> None:
    plain = HubertModel(TINY.hubert_config()).state_dict()
    message = load_error(saved(tmp_path, {"model": plain}))
    assert "not an EDSA checkpoint" in message and "'masked_spec_embed'" in message


def test_missing_and_unexpected_keys_are_named(tiny_network: EdsaNetwork, tmp_path: Path) -> None:
    state = checkpoint_state(tiny_network)
    del state[CHECKPOINT_PREFIX + "encoder.layers.1.attention.k_proj.bias"]
    state[CHECKPOINT_PREFIX + "decoder.weight"] = torch.zeros(2)
    message = load_error(saved(tmp_path, {"model": state}))
    assert "unexpected keys 'decoder.weight'" in message
    assert "missing keys 'encoder.layers.1.attention.k_proj.bias'" in message


def test_shape_mismatch_names_key_and_shapes(tiny_network: EdsaNetwork, tmp_path: Path) -> None:
    state = checkpoint_state(tiny_network)
    state[CHECKPOINT_PREFIX + "encoder.layers.1.attention.q_proj.weight"] = torch.zeros(768, 700)
    message = load_error(saved(tmp_path, {"model": state}))
    assert "'encoder.layers.1.attention.q_proj.weight'" in message
    assert "(768, 700)" in message and "(768, 768)" in message


def test_non_tensor_entry_is_refused(tiny_network: EdsaNetwork, tmp_path: Path) -> None:
    state = checkpoint_state(tiny_network)
    state[CHECKPOINT_PREFIX + "logit_scale"] = 2.5
    assert "not a floating-point tensor" in load_error(saved(tmp_path, {"model": state}))


def published_key_table() -> dict[str, tuple[int, ...]]:
    """key -> shape from ../shared/reference/edsa_checkpoint_keys.tsv (the published checkpoint's layout)."""
    rows = [line.split("\t") for line in KEY_TABLE.read_text().splitlines() if line and not line.startswith("#")]
    return {key: tuple(json.loads(shape)) for key, shape, _ in rows[1:]}


def test_full_size_checkpoint_has_the_published_layout_and_round_trips(tmp_path: Path, window: np.ndarray) -> None:
    torch.manual_seed(0)
    network = EdsaNetwork(EdsaConfig()).eval()
    path = tmp_path / "edsa_adapter_checkpoint.chkpt"
    save_checkpoint(network, path)
    if KEY_TABLE.is_file():
        written = torch.load(path, weights_only=True)["model"]
        assert {key: tuple(value.shape) for key, value in written.items()} == published_key_table()
        del written
    model = load_model(path)
    config = model.config
    assert config == EdsaConfig()
    assert (config.num_hidden_layers, config.adapter_layers, config.intermediate_size) == (12, (0,), 3072)
    assert (set(config.conv_dim), config.num_conv_pos_embeddings, config.num_frames) == ({512}, 128, 151)
    with torch.inference_mode():
        expected = network(torch.from_numpy(window)).numpy()
    np.testing.assert_allclose(model.embed(window), expected, rtol=0, atol=1e-6)


def write_snapshot(directory: Path, weights: str = "bin", **config_overrides: object) -> dict[str, torch.Tensor]:
    """A tiny MERT-style snapshot (HuBERT backbone + MERT's extra config fields); returns its backbone weights."""
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(1)
    backbone = HubertModel(TINY.hubert_config())
    config = backbone.config.to_dict() | {"model_type": "mert_model", "feature_extractor_cqt": False,
                                          "deepnorm": False, "attention_relax": -1.0} | config_overrides
    (directory / "config.json").write_text(json.dumps(config))
    state = backbone.state_dict()
    if weights == "bin":
        torch.save({legacy_name(key): value for key, value in state.items()}, directory / "pytorch_model.bin")
    else:
        save_file({key: value.contiguous() for key, value in state.items()}, directory / "model.safetensors")
    return state


@pytest.mark.parametrize("weights", ["bin", "safetensors"])
def test_mert_snapshot_gives_its_backbone_and_fresh_edsa_parts(tmp_path: Path, weights: str,
                                                               window: np.ndarray) -> None:
    backbone = write_snapshot(tmp_path, weights)
    model = load_mert_snapshot(tmp_path, adapter_layers=(0,))
    state = model.torch_module.state_dict()
    for key, value in backbone.items():
        assert torch.equal(state[key], value), key
    assert model.config == TINY and model.logit_scale == 1.0
    assert "encoder.layers.0.adapter_attention.q_proj.1.weight" in state
    assert np.isfinite(model.embed(window)).all()


@pytest.mark.parametrize("field, value", [("feature_extractor_cqt", True), ("deepnorm", True),
                                          ("attention_relax", 32.0), ("do_stable_layer_norm", True)])
def test_mert_snapshot_with_unsupported_options_is_refused(tmp_path: Path, field: str, value: object) -> None:
    write_snapshot(tmp_path, **{field: value})
    with pytest.raises(InputError, match=field) as caught:
        load_mert_snapshot(tmp_path)
    assert str(caught.value).startswith(str(tmp_path / "config.json"))


def test_mert_snapshot_without_weights_or_with_foreign_weights_is_refused(tmp_path: Path) -> None:
    write_snapshot(tmp_path)
    (tmp_path / "pytorch_model.bin").unlink()
    with pytest.raises(InputError, match="no model.safetensors or pytorch_model.bin"):
        load_mert_snapshot(tmp_path)
    torch.save({"lm_head.weight": torch.zeros(2)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(InputError, match="unexpected keys 'lm_head.weight'"):
        load_mert_snapshot(tmp_path)


def test_pick_device() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(None).type in {"cpu", "cuda", "mps"}
    with pytest.raises(InputError, match="unknown device"):
        pick_device("quantum")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="not available"):
            pick_device("cuda")
