"""The network against the reference implementation's outputs on the tiny checkpoint (../shared/reference)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model import EdsaModel, load_model

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
TINY_CHECKPOINT = REFERENCE / "tiny_edsa.chkpt"
TINY_IO = REFERENCE / "tiny_edsa_io.npz"

pytestmark = pytest.mark.skipif(
    not (TINY_CHECKPOINT.is_file() and TINY_IO.is_file()),
    reason=f"the reference fixtures tiny_edsa.chkpt / tiny_edsa_io.npz are not in {REFERENCE}",
)


@pytest.fixture(scope="module")
def io() -> dict[str, np.ndarray]:
    with np.load(TINY_IO) as data:
        return dict(data)


@pytest.fixture(scope="module")
def model32() -> EdsaModel:
    return load_model(TINY_CHECKPOINT)


@pytest.fixture(scope="module")
def model64() -> EdsaModel:
    return load_model(TINY_CHECKPOINT, dtype=torch.float64)


def reference_top_k(queries: np.ndarray, db: np.ndarray, scale: float, k: int) -> np.ndarray:
    """The reference rule: logits = scale * q @ normalize(db)^T, ranked descending; (Q, k) indices."""
    db_unit = db / np.linalg.norm(db, axis=1, keepdims=True)
    logits = scale * queries @ db_unit.T
    return np.argsort(-logits, axis=1, kind="stable")[:, :k]


def test_float32_embedding_matches_reference(model32: EdsaModel, io: dict[str, np.ndarray]) -> None:
    out = model32.embed(io["audio"])
    assert out.dtype == np.float32 and out.shape == (4, 82)
    np.testing.assert_allclose(out, io["output"], rtol=0, atol=1e-6)


def test_float64_embedding_matches_reference(model64: EdsaModel, io: dict[str, np.ndarray]) -> None:
    out = model64.embed_tensor(torch.from_numpy(io["audio"]))
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), io["output_f64"], rtol=0, atol=1e-10)


def test_retrieval_rule_gives_reference_top_k(model32: EdsaModel, io: dict[str, np.ndarray]) -> None:
    assert model32.logit_scale == 2.5
    top = reference_top_k(model32.embed(io["audio"]), io["db"], model32.logit_scale, k=io["topk_index"].shape[1])
    np.testing.assert_array_equal(top, io["topk_index"])


def test_batches_and_single_windows_agree(model32: EdsaModel, io: dict[str, np.ndarray]) -> None:
    whole = model32.embed(io["audio"])
    singles = np.concatenate([model32.embed(row[None]) for row in io["audio"]])
    np.testing.assert_allclose(singles, whole, rtol=0, atol=1e-6)
    assert model32.embed(io["audio"][:0]).shape == (0, 82)


def test_inferred_architecture_is_the_tiny_config(model32: EdsaModel) -> None:
    tiny = json.loads((REFERENCE / "tiny_edsa_config.json").read_text())
    config = model32.config
    assert config.num_hidden_layers == tiny["num_hidden_layers"]
    assert config.intermediate_size == tiny["intermediate_size"]
    assert list(config.conv_dim) == tiny["conv_dim"] and list(config.conv_kernel) == tiny["conv_kernel"]
    assert list(config.conv_stride) == tiny["conv_stride"]
    assert config.num_conv_pos_embeddings == tiny["num_conv_pos_embeddings"]
    assert config.num_conv_pos_embedding_groups == tiny["num_conv_pos_embedding_groups"]
    assert config.adapter_layers == tuple(i for i, flag in enumerate(tiny["adapter_layer_index"]) if flag)
    assert config.adapter_bottleneck == tiny["derived"]["adapter_bottleneck_dim"]
    assert config.num_frames == tiny["derived"]["num_frames"]
    assert (model32.encoder_name, model32.device, model32.dtype) == ("edsa", torch.device("cpu"), torch.float32)


@pytest.mark.parametrize("shape", [(48480,), (2, 48000), (1, 2, 48480)])
def test_embed_rejects_wrong_window_shapes(model32: EdsaModel, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="48480"):
        model32.embed(np.zeros(shape, dtype=np.float32))
