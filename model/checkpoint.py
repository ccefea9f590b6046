"""Reading and writing EDSA checkpoints (``{'model': state_dict}``, keys ``model_hubert.*``) with no config file.

The architecture is inferred from the tensor shapes alone; every way a file can be wrong becomes one
:class:`common.errors.InputError` line naming the file.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Mapping

import torch

from common.errors import InputError
from common.paths import DEFAULT_CHECKPOINT, REPO_ROOT
from model.network import HUBERT_CONV_STRIDES, HUBERT_HEAD_DIM, EdsaConfig, EdsaModel, EdsaNetwork

CHECKPOINT_PREFIX: str = "model_hubert."
"""Every key of a reference checkpoint starts with this (the wrapper's attribute name)."""
WEIGHT_NORM_NAMES: dict[str, str] = {
    "weight_g": "parametrizations.weight.original0",
    "weight_v": "parametrizations.weight.original1",
}
"""Legacy ``torch.nn.utils.weight_norm`` names (as in the published file) -> torch's parametrizations names."""
SHOWN_KEYS: int = 3
"""How many offending keys an error message names."""

StateDict = dict[str, torch.Tensor]


def load_model(
    path: str | os.PathLike[str],
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    autocast: torch.dtype | None = None,
) -> EdsaModel:
    """Load an EDSA checkpoint for inference, inferring its architecture from the tensor shapes.

    Args:
        path: the ``.chkpt`` file (``torch.save({'model': state_dict})``, legacy or parametrized weight-norm names).
        device: where to run. dtype: weight and arithmetic precision (float32, or float64 for checks).
        autocast: optional bfloat16/float16 autocast, CUDA only.
    Raises:
        InputError: the file is missing, a directory, unreadable, or not an EDSA checkpoint.
    """
    state = read_state_dict(path)
    network = network_from_state(state, path)
    return EdsaModel(network, device=device, dtype=dtype, autocast=autocast)


def read_state_dict(path: str | os.PathLike[str]) -> StateDict:
    """The checkpoint's tensors, keys without ``model_hubert.`` and with parametrizations weight-norm names."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, f"is a directory; expected the checkpoint file itself "
                               f"(e.g. {path / DEFAULT_CHECKPOINT.name})")
    if not path.exists():
        raise InputError(path, f"checkpoint not found; put the published EDSA weights at "
                               f"{DEFAULT_CHECKPOINT.relative_to(REPO_ROOT)}")
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # torch.load raises many types for damaged files: all mean the same to the user
        if isinstance(err, pickle.UnpicklingError) and "Unsupported global" in str(err):  # a hostile file, refused
            raise InputError(path, f"refused: the file asks to build Python objects other than tensors "
                                   f"({first_line(err)}); only weights are loaded") from None
        raise InputError(path, f"cannot read it as a PyTorch checkpoint (truncated or corrupt file?): "
                               f"{first_line(err)}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), dict):
        raise InputError(path, f"expected a dict {{'model': state_dict}} as music2danceposes saves, "
                               f"got {describe(payload)}")
    return canonical_state(payload["model"], path, CHECKPOINT_PREFIX)


def canonical_state(state: Mapping[object, object], path: str | os.PathLike[str], prefix: str) -> StateDict:
    """Check that ``state`` maps ``prefix``-ed names to floating tensors; drop the prefix, modernise weight-norm names.

    Raises:
        InputError: a key lacks the prefix, or a value is not a floating-point tensor.
    """
    foreign = [key for key in state if not (isinstance(key, str) and key.startswith(prefix))]
    if foreign:
        raise InputError(path, f"not an EDSA checkpoint: keys without the {prefix!r} prefix: {listing(foreign)}")
    canonical: StateDict = {}
    for key, value in state.items():
        if not (isinstance(value, torch.Tensor) and value.is_floating_point()):
            raise InputError(path, f"{key!r} is {describe(value)}, not a floating-point tensor")
        if not torch.isfinite(value).all():
            raise InputError(path, f"{key!r} holds NaN or infinite values (damaged weights)")
        canonical[parametrized_name(key[len(prefix):])] = value
    return canonical


def parametrized_name(key: str) -> str:
    """``...conv.weight_g`` -> ``...conv.parametrizations.weight.original0`` (likewise ``weight_v``); others as is."""
    stem, _, leaf = key.rpartition(".")
    return f"{stem}.{WEIGHT_NORM_NAMES[leaf]}" if leaf in WEIGHT_NORM_NAMES else key


def legacy_name(key: str) -> str:
    """The inverse of :func:`parametrized_name`: the names the published checkpoint uses."""
    for legacy, modern in WEIGHT_NORM_NAMES.items():
        if key.endswith("." + modern):
            return key[: -len(modern)] + legacy
    return key


def infer_config(state: Mapping[str, torch.Tensor], path: str | os.PathLike[str]) -> EdsaConfig:
    """The architecture implied by the shapes of a canonical state dict (see :func:`canonical_state`).

    Not stored in weights, so fixed: HuBERT's conv strides (checked against the head's frame count), 64-value
    attention heads, post-LayerNorm layers, eps 1e-5, GELU.

    Raises:
        InputError: a key the inference needs is missing, or the frame counts disagree.
    """

    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise missing_key_error(path, state, key)
        return tuple(state[key].shape)

    hidden, _ = shape("feature_projection.projection.weight")
    num_conv = count_indexed(state, "feature_extractor.conv_layers.{}.conv.weight")
    convs = [shape(f"feature_extractor.conv_layers.{i}.conv.weight") for i in range(num_conv)]
    if any(key.startswith(f"feature_extractor.conv_layers.{num_conv}.") for key in state):
        raise missing_key_error(path, state, f"feature_extractor.conv_layers.{num_conv}.conv.weight")
    if num_conv != len(HUBERT_CONV_STRIDES):
        raise InputError(path, f"has {num_conv} conv encoder layers; only HuBERT's {len(HUBERT_CONV_STRIDES)}-layer "
                               f"encoder is supported")
    num_layers = count_indexed(state, "encoder.layers.{}.final_layer_norm.weight")
    adapters = tuple(i for i in range(num_layers) if f"encoder.layers.{i}.adapter_attention.q_proj.1.weight" in state)
    bottlenecks = tuple(i for i in range(num_layers) if f"encoder.layers.{i}.bottleneck_adapter.1.weight" in state)
    down_key = (f"encoder.layers.{adapters[0]}.adapter_attention.q_proj.1.weight" if adapters else
                f"encoder.layers.{bottlenecks[0]}.bottleneck_adapter.1.weight" if bottlenecks else None)
    _, in_per_group, pos_kernel = shape("encoder.pos_conv_embed.conv.parametrizations.weight.original1")
    step_hidden, frames = shape("mert_output_step_mlp.0.weight")
    feature_hidden, _ = shape("audio_feature_mlp.0.weight")
    arch = EdsaConfig(
        hidden_size=hidden,
        num_hidden_layers=num_layers,
        num_attention_heads=max(hidden // HUBERT_HEAD_DIM, 1),
        intermediate_size=shape("encoder.layers.0.feed_forward.intermediate_dense.weight")[0],
        conv_dim=tuple(conv[0] for conv in convs),
        conv_kernel=tuple(conv[2] for conv in convs),
        conv_bias="feature_extractor.conv_layers.0.conv.bias" in state,
        feat_extract_norm="layer" if "feature_extractor.conv_layers.1.layer_norm.weight" in state else "group",
        num_conv_pos_embeddings=pos_kernel,
        num_conv_pos_embedding_groups=max(hidden // in_per_group, 1),
        adapter_layers=adapters,
        adapter_bottleneck=shape(down_key)[0] if down_key else EdsaConfig.adapter_bottleneck,
        bottleneck_layers=bottlenecks,
        step_hidden=step_hidden,
        feature_hidden=feature_hidden,
        output_dim=shape("audio_feature_mlp.2.weight")[0],
    )
    if arch.num_frames != frames:
        raise InputError(path, f"the time-pooling head takes {frames} frames but the conv encoder (kernels "
                               f"{arch.conv_kernel}, strides {arch.conv_stride}) makes {arch.num_frames} from "
                               f"{arch.input_samples} samples")
    return arch


def network_from_state(state: StateDict, path: str | os.PathLike[str]) -> EdsaNetwork:
    """The network with the inferred architecture holding exactly ``state`` (strict keys and shapes).

    The network is built on the meta device and takes the file's tensors as its parameters (no random init).
    """
    arch = infer_config(state, path)
    with torch.device("meta"):
        network = EdsaNetwork(arch)
    check_state(network.state_dict(), state, path)
    network.load_state_dict(state, strict=True, assign=True)
    return network


def check_state(expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor],
                path: str | os.PathLike[str]) -> None:
    """Raise an InputError unless ``state`` has exactly the keys of ``expected``, with the same shapes."""
    if set(expected) != set(state):
        raise key_mismatch_error(path, state, expected)
    for key, tensor in expected.items():
        if state[key].shape != tensor.shape:
            raise InputError(path, f"shape mismatch at {key!r}: the file has {tuple(state[key].shape)}, the "
                                   f"architecture inferred from the file needs {tuple(tensor.shape)}")


def key_mismatch_error(path: str | os.PathLike[str], state: Mapping[str, object],
                       expected: Mapping[str, object] | set[str]) -> InputError:
    """'not an EDSA checkpoint' naming the first unexpected and missing keys (canonical names)."""
    unexpected = [key for key in state if key not in expected]
    missing = [key for key in expected if key not in state]
    parts = [f"{label} keys {listing(keys)}" for label, keys in (("unexpected", unexpected), ("missing", missing))
             if keys]
    return InputError(path, "not an EDSA checkpoint: " + "; ".join(parts))


def missing_key_error(path: str | os.PathLike[str], state: Mapping[str, object], key: str) -> InputError:
    """'not an EDSA checkpoint' naming the missing ``key`` the architecture inference needs, and the file's keys that
    fit no EDSA key pattern (layer numbers aside), so that a renamed key shows up as itself."""
    known = {key_pattern(name) for name in reference_keys()}
    unexpected = [name for name in state if key_pattern(name) not in known]
    found = f"; unexpected keys {listing(unexpected)}" if unexpected else ""
    return InputError(path, f"not an EDSA checkpoint: missing key {key!r}{found}")


def key_pattern(key: str) -> str:
    """``key`` with its layer numbers replaced by ``#`` (``encoder.layers.3.x`` -> ``encoder.layers.#.x``)."""
    return re.sub(r"\.\d+(?=\.|$)", ".#", key)


def reference_keys() -> list[str]:
    """State-dict keys of the published architecture (canonical names), built on the meta device; the adapter
    variants' keys (bottleneck baseline) included."""
    with torch.device("meta"):
        keys = list(EdsaNetwork(EdsaConfig()).state_dict())
        return keys + [k for k in EdsaNetwork(EdsaConfig(adapter_layers=(), bottleneck_layers=(0,))).state_dict()
                       if k not in keys]


def count_indexed(state: Mapping[str, object], template: str) -> int:
    """How many of ``template.format(0)``, ``template.format(1)``, ... are keys of ``state``, counting from 0."""
    count = 0
    while template.format(count) in state:
        count += 1
    return count


def checkpoint_state(network: EdsaNetwork) -> StateDict:
    """The network's state dict as the reference writes it: ``model_hubert.`` keys, legacy weight-norm names."""
    return {CHECKPOINT_PREFIX + legacy_name(key): value.detach().cpu()
            for key, value in network.state_dict().items()}


def save_checkpoint(network: EdsaNetwork, path: str | os.PathLike[str]) -> None:
    """Write ``{'model': checkpoint_state(network)}`` to ``path`` (via a temporary sibling, then a rename)."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    torch.save({"model": checkpoint_state(network)}, partial)
    partial.replace(path)


def first_line(err: BaseException) -> str:
    """The gist of an exception for a one-line message: the first sentence (at most 160 characters), or, for
    torch's weights-only unpickler, the reason it gives after its long preamble."""
    text = str(err)
    _, marker, reason = text.partition("WeightsUnpickler error:")
    lines = [line.strip() for line in (reason if marker else text).splitlines() if line.strip()]
    return lines[0].split(". ")[0][:160] if lines else type(err).__name__


def describe(value: object) -> str:
    """A short description of an unexpected object for error messages."""
    if isinstance(value, dict):
        return f"a dict with keys {listing([str(key) for key in value])}" if value else "an empty dict"
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor"
    return f"a {type(value).__name__}"


def listing(keys: list[object]) -> str:
    """The first few keys, quoted, and how many more there are."""
    shown = ", ".join(repr(key) for key in keys[:SHOWN_KEYS])
    return shown + (f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else "")
