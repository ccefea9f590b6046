"""Starting an EDSA network from a MERT Hugging Face snapshot (the backbone only, e.g. m-a-p/MERT-v1-95M).

A snapshot directory holds ``config.json`` and ``model.safetensors`` or ``pytorch_model.bin``. The backbone weights
come from it; the adapters and the pose head are freshly initialised as the reference does (HF init for the
adapters, torch defaults for the head MLPs, ``logit_scale = 1``), ready for training.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import torch

from common.errors import InputError
from model.checkpoint import canonical_state, check_state, describe, first_line, StateDict
from model.network import EdsaConfig, EdsaModel, EdsaNetwork

BACKBONE_FIELDS: tuple[str, ...] = (
    "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "conv_dim", "conv_kernel",
    "conv_stride", "conv_bias", "feat_extract_norm", "num_conv_pos_embeddings", "num_conv_pos_embedding_groups",
)
"""config.json fields copied into :class:`EdsaConfig` (absent ones take HuBERT-base values)."""
REFUSED_FEATURES: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("feature_extractor_cqt", bool, "the CQT feature branch"),
    ("deepnorm", bool, "DeepNorm residual scaling"),
    ("attention_relax", lambda value: value is not None and value > 0, "relaxed attention"),
    ("do_stable_layer_norm", bool, "pre-LayerNorm layers"),
    ("conv_pos_batch_norm", bool, "batch norm in the positional conv"),
)
"""MERT/HuBERT options this backbone does not implement: (field, is it enabled?, what it is)."""
FIXED_VALUES: dict[str, object] = {
    "hidden_act": "gelu", "feat_extract_activation": "gelu", "layer_norm_eps": 1e-5, "feat_proj_layer_norm": True,
}
"""config.json fields whose value the backbone assumes."""
WEIGHT_PREFIXES: tuple[str, ...] = ("mert_model.", "hubert.")
"""Base-model prefixes a snapshot's keys may carry; they are dropped."""
OPTIONAL_KEYS: frozenset[str] = frozenset({"masked_spec_embed"})
"""Backbone keys a snapshot may lack (SpecAugment is off, so the value is never used)."""


def load_mert_snapshot(
    directory: str | os.PathLike[str],
    adapter_layers: tuple[int, ...] = (0,),
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> EdsaModel:
    """An EDSA model whose backbone is the snapshot's and whose adapters and head are new.

    Args:
        directory: the snapshot folder (config.json + model.safetensors or pytorch_model.bin).
        adapter_layers: 0-based encoder layers that get an adapter; the reference uses the first, (0,).
    Raises:
        InputError: the folder or its files are missing or unreadable, the config enables a MERT option this
            backbone lacks, or the weights do not fit the config.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "not a folder; expected a MERT snapshot folder with config.json and weights")
    arch = config_from_snapshot(directory / "config.json", tuple(adapter_layers))
    weights_path, state = read_weights(directory)
    network = EdsaNetwork(arch)
    expected = {key: value for key, value in network.state_dict().items()
                if not is_edsa_only(key) and (key in state or key not in OPTIONAL_KEYS)}
    check_state(expected, state, weights_path)
    network.load_state_dict(state, strict=False)
    return EdsaModel(network, device=device, dtype=dtype)


def config_from_snapshot(path: Path, adapter_layers: tuple[int, ...]) -> EdsaConfig:
    """The architecture from a MERT/HuBERT ``config.json``, refusing options the backbone does not implement."""
    config = read_json(path)
    for field, enabled, what in REFUSED_FEATURES:
        if enabled(config.get(field)):
            raise InputError(path, f"{field}={config[field]!r} ({what}) is not supported: only a plain HuBERT "
                                   f"backbone such as MERT-v1-95M's loads")
    for field, value in FIXED_VALUES.items():
        if config.get(field, value) != value:
            raise InputError(path, f"{field}={config[field]!r} is not supported (expected {value!r})")
    fields = {name: tuple(config[name]) if isinstance(config[name], list) else config[name]
              for name in BACKBONE_FIELDS if name in config}
    arch = EdsaConfig(**fields, adapter_layers=adapter_layers)
    if any(not 0 <= index < arch.num_hidden_layers for index in adapter_layers):
        raise ValueError(f"adapter_layers {adapter_layers} must be 0-based indices below {arch.num_hidden_layers}")
    return arch


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or an InputError."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputError(path, "missing: a MERT snapshot folder needs its config.json") from err
    except (OSError, ValueError) as err:
        raise InputError(path, f"cannot read it as JSON: {first_line(err)}") from err
    if not isinstance(config, dict):
        raise InputError(path, f"expected a JSON object, got {describe(config)}")
    return config


def read_weights(directory: Path) -> tuple[Path, StateDict]:
    """(weights file, canonical state dict): model.safetensors if present, else pytorch_model.bin."""
    safetensors_path, bin_path = directory / "model.safetensors", directory / "pytorch_model.bin"
    path = safetensors_path if safetensors_path.is_file() else bin_path
    if not path.is_file():
        raise InputError(directory, "no model.safetensors or pytorch_model.bin in the snapshot folder")
    try:
        if path == safetensors_path:
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # damaged files raise many types; all mean the same to the user
        raise InputError(path, f"cannot read the weights (truncated or corrupt file?): {first_line(err)}") from err
    if not isinstance(state, dict):
        raise InputError(path, f"expected a state dict, got {describe(state)}")
    prefix = next((p for p in WEIGHT_PREFIXES if state and all(str(key).startswith(p) for key in state)), "")
    return path, canonical_state(state, path, prefix)


def is_edsa_only(key: str) -> bool:
    """Whether a network key belongs to the EDSA additions (adapters, head, logit_scale) rather than the backbone."""
    return key == "logit_scale" or ".adapter_attention." in key or key.startswith(
        ("mert_output_step_mlp.", "audio_feature_mlp."))
