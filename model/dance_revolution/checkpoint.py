"""Reading and writing Dance Revolution checkpoints in the reference's layout.

File: ``torch.save({'model': state_dict, 'args': dict, 'epoch': int, ...})`` where every state-dict key starts with
``module.`` (the reference trains under ``nn.DataParallel``). The released v2 checkpoint stores ``args`` as an
``argparse.Namespace``; it is read with ``weights_only=True`` and only that class allowed. Ours add
``feature_mean``/``feature_std`` ((438,) float32, the training features' normalisation; absent = identity, as the
reference) beside the weights. Keys and shapes are checked strictly; any mismatch is one :class:`InputError` line
naming the first offending keys.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from common.errors import InputError
from model.checkpoint import describe, first_line, listing
from model.dance_revolution.features import FeatureNorm
from model.dance_revolution.network import POSE_KINDS, DanceRevolution, DanceRevolutionConfig

PREFIX: str = "module."
"""Every state-dict key starts with this (``nn.DataParallel``)."""


@dataclass(frozen=True)
class LoadedModel:
    """A checkpoint ready to generate: the network (eval mode), its feature normalisation and stored epoch."""

    network: DanceRevolution
    norm: FeatureNorm
    epoch: int


def read_payload(path: str | os.PathLike[str]) -> dict:
    """The checkpoint dict (weights only; ``argparse.Namespace`` args become plain dicts)."""
    path = Path(path)
    if path.is_dir() or not path.exists():
        raise InputError(path, "is a directory, expected a checkpoint file" if path.is_dir() else "no such file")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises many types for damaged files: all mean the same to the user
        raise InputError(path, f"cannot read it as a PyTorch checkpoint: {first_line(err)}") from err
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), Mapping):
        raise InputError(path, f"expected {{'model': state_dict, 'args': ...}} (Dance Revolution's layout), got "
                               f"{describe(payload)}")
    args = payload.get("args", {})
    payload["args"] = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
    return payload


def load_dance_model(path: str | os.PathLike[str], device: torch.device | str = "cpu",
                     dtype: torch.dtype = torch.float32) -> LoadedModel:
    """Load a Dance Revolution checkpoint for generation (strict keys and shapes).

    The architecture comes from the stored ``args`` (the reference's argparse names); sizes not in ``args`` are
    inferred from the tensor shapes where they can be, the rest take the released model's values.

    Raises:
        InputError: unreadable file, another architecture (first mismatched keys named), or wrong shapes.
    """
    payload = read_payload(path)
    state = strip_prefix(payload["model"], path)
    config = config_from(payload["args"], state, path)
    network = network_from_state(state, config, path).to(device=device, dtype=dtype).eval()
    norm = FeatureNorm.identity(config.feature_dim)
    if "feature_mean" in payload and "feature_std" in payload:
        norm = FeatureNorm(np.asarray(payload["feature_mean"], np.float32), np.asarray(payload["feature_std"],
                                                                                       np.float32))
    return LoadedModel(network, norm, int(payload.get("epoch", 0)))


def strip_prefix(state: Mapping[object, object], path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Keys without ``module.``; every value must be a floating tensor."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not (isinstance(value, torch.Tensor) and value.is_floating_point()):
            raise InputError(path, f"{key!r} is {describe(value)}, not a floating-point tensor")
        name = str(key)
        out[name[len(PREFIX):] if name.startswith(PREFIX) else name] = value
    return out


def config_from(args: Mapping[str, object], state: Mapping[str, torch.Tensor],
                path: str | os.PathLike[str] | None = None) -> DanceRevolutionConfig:
    """The configuration in ``args``, completed from the tensor shapes (feature, model, pose and LSTM widths,
    layer count, positional table length)."""
    inferred: dict[str, object] = {}
    shapes = {key: tuple(value.shape) for key, value in state.items()}
    if "encoder.src_emb.weight" in shapes:
        inferred["frame_emb_size"], inferred["d_frame_vec"] = shapes["encoder.src_emb.weight"]
    if "decoder.tgt_emb.weight" in shapes:
        inferred["pose_emb_size"], inferred["d_pose_vec"] = shapes["decoder.tgt_emb.weight"]
    if "decoder.lstm2.weight_hh" in shapes:
        inferred["d_inner"] = shapes["decoder.lstm2.weight_hh"][1]
    if "encoder.position_enc.weight" in shapes:
        inferred["max_seq_len"] = shapes["encoder.position_enc.weight"][0] - 1
    inferred["n_layers"] = len({key.split(".")[2] for key in shapes if key.startswith("encoder.layer_stack.")})
    if "encoder.layer_stack.0.slf_attn.w_qs.weight" in shapes and "n_head" not in args:
        heads = DanceRevolutionConfig.n_head
        inferred["d_k"] = inferred["d_v"] = shapes["encoder.layer_stack.0.slf_attn.w_qs.weight"][0] // heads
    merged = {**inferred, **{key: value for key, value in args.items() if value is not None}}
    for key in ("d_frame_vec", "frame_emb_size", "d_pose_vec", "pose_emb_size", "d_inner", "max_seq_len"):
        if key in inferred:
            merged[key] = inferred[key]
    if merged.get("d_pose_vec", 50) not in POSE_KINDS.values():
        raise InputError(path, f"poses of {merged['d_pose_vec']} values are not supported (2D OpenPose: 50, "
                               f"SMPL 6D: 147)")
    return DanceRevolutionConfig.from_reference_args(merged)


def network_from_state(state: Mapping[str, torch.Tensor], config: DanceRevolutionConfig,
                       path: str | os.PathLike[str]) -> DanceRevolution:
    """A network of ``config`` holding exactly ``state`` (built on the meta device, tensors assigned)."""
    with torch.device("meta"):
        network = DanceRevolution(config)
    expected = network.state_dict()
    unexpected = [key for key in state if key not in expected]
    missing = [key for key in expected if key not in state]
    if unexpected or missing:
        parts = [f"{label} keys {listing([PREFIX + k for k in keys])}"
                 for label, keys in (("unexpected", unexpected), ("missing", missing)) if keys]
        raise InputError(path, "not a Dance Revolution v2 checkpoint: " + "; ".join(parts))
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise InputError(path, f"not a Dance Revolution v2 checkpoint of its stored configuration: "
                                   f"{PREFIX + key!r} is {tuple(state[key].shape)}, expected {tuple(tensor.shape)}")
    network.load_state_dict(dict(state), strict=True, assign=True)
    network.encoder.position_enc.weight.requires_grad_(False)
    return network


def checkpoint_payload(network: DanceRevolution, epoch: int, norm: FeatureNorm | None = None) -> dict:
    """What :func:`save_dance_checkpoint` writes: the reference's layout plus the feature normalisation."""
    payload = {"model": {PREFIX + key: value.detach().cpu().float() for key, value in network.state_dict().items()},
               "args": network.config.reference_args(), "epoch": int(epoch)}
    if norm is not None:
        payload["feature_mean"] = torch.from_numpy(np.asarray(norm.mean, np.float32))
        payload["feature_std"] = torch.from_numpy(np.asarray(norm.std, np.float32))
    return payload


def save_dance_checkpoint(network: DanceRevolution, path: str | os.PathLike[str], epoch: int,
                          norm: FeatureNorm | None = None) -> None:
    """Write the checkpoint atomically (temporary sibling, then rename)."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    torch.save(checkpoint_payload(network, epoch, norm), partial)
    partial.replace(path)
