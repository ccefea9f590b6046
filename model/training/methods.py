"""The fine-tuning methods the paper compares, as which parameters train and how the result is saved.

Every method trains the two head MLPs and ``logit_scale``; the backbone is frozen except where stated.

| method | also trainable | saved as |
|---|---|---|
| ``edsa`` (the paper) | the EDSA adapters of ``adapter_layers`` | the published layout |
| ``bottleneck`` | a plain bottleneck adapter (LayerNorm, down, ReLU, up) on the FFN output of ``adapter_layers`` | ``encoder.layers.{i}.bottleneck_adapter.*`` keys, which :func:`model.checkpoint.load_model` infers |
| ``linear`` (linear probe) | nothing else | the published layout |
| ``lora`` | LoRA (``peft``) on the self-attention q/k/v/out projections of every layer | merged into those weights on save: the published layout |
| ``full`` | everything (the backbone included) | the published layout |

Every checkpoint is ``{'model': state_dict}`` with ``model_hubert.`` keys, so every command loads it unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from common.errors import InputError
from model.checkpoint import load_model
from model.hf_snapshot import load_mert_snapshot
from model.network import EdsaConfig, EdsaNetwork
from model.training import METHODS
HEADS: tuple[str, ...] = ("mert_output_step_mlp", "audio_feature_mlp", "logit_scale")
LORA_TARGETS: str = r".*encoder\.layers\.\d+\.attention\.(q_proj|k_proj|v_proj|out_proj)"
"""Modules LoRA adapts: the backbone's own self-attention projections (not the EDSA adapter's)."""


@dataclass(frozen=True)
class MethodConfig:
    """How to fine-tune.

    Attributes:
        method: one of :data:`METHODS`.
        adapter_layers: 0-based encoder layers given an adapter (edsa, bottleneck); the paper uses (0,).
        adapter_bottleneck: width of new adapters' bottleneck; None: the source's (64, the paper's, for a snapshot).
        lora_rank, lora_alpha, lora_dropout: LoRA's rank, scaling numerator (scale = alpha / rank) and dropout.
    """

    method: str = "edsa"
    adapter_layers: tuple[int, ...] = (0,)
    adapter_bottleneck: int | None = None
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.05


@dataclass(frozen=True)
class Prepared:
    """A network set up for training.

    Attributes:
        module: what to run and optimise (the network itself, or peft's wrapper around it for LoRA).
        network: the EDSA network inside ``module`` (shares its parameters).
        export: the network to save, in the published layout (LoRA merged into a copy).
        train_prefixes: names of the sub-modules put in training mode (dropout on); empty: the whole module.
    """

    module: nn.Module
    network: EdsaNetwork
    export: Callable[[], EdsaNetwork]
    train_prefixes: tuple[str, ...]

    def trainable(self) -> dict[str, nn.Parameter]:
        """The parameters that train, by name in ``module``."""
        return {name: p for name, p in self.module.named_parameters() if p.requires_grad}

    def set_training(self, training: bool) -> None:
        """Training mode on the trained sub-modules only (a frozen backbone keeps dropout and LayerDrop off)."""
        self.module.train(training and not self.train_prefixes)
        if training:
            for name, sub in self.module.named_modules():
                if any(part in name for part in self.train_prefixes):
                    sub.train()


def target_architecture(source: EdsaConfig, config: MethodConfig) -> EdsaConfig:
    """The architecture to train: the source's, with the adapters the method adds."""
    if config.method not in METHODS:
        raise InputError(None, f"unknown method {config.method!r}: choose one of {', '.join(METHODS)}")
    if any(not 0 <= i < source.num_hidden_layers for i in config.adapter_layers):
        raise InputError(None, f"--adapter-layers {config.adapter_layers} must be 0-based layer indices below "
                               f"{source.num_hidden_layers}")
    layers = tuple(sorted(set(config.adapter_layers)))
    width = config.adapter_bottleneck or source.adapter_bottleneck
    if config.method == "edsa":
        return replace(source, adapter_layers=layers, bottleneck_layers=(), adapter_bottleneck=width)
    if config.method == "bottleneck":
        return replace(source, adapter_layers=(), bottleneck_layers=layers, adapter_bottleneck=width)
    return source


def load_source(init: Path) -> EdsaNetwork:
    """The starting network: a MERT Hugging Face snapshot folder (no adapters, fresh head) or an EDSA checkpoint."""
    init = Path(init)
    model = load_mert_snapshot(init, adapter_layers=()) if init.is_dir() else load_model(init)
    return model.torch_module


def initial_network(source: EdsaNetwork, config: MethodConfig) -> EdsaNetwork:
    """``source`` rebuilt with the method's adapters: every tensor whose name and shape match is copied, new
    adapters get the reference's initialisation (a new bottleneck adapter starts as the identity: up-projection 0)."""
    arch = target_architecture(source.arch, config)
    if arch == source.arch:
        return source
    network = EdsaNetwork(arch)
    state = network.state_dict()
    copied = {key: value for key, value in source.state_dict().items()
              if key in state and state[key].shape == value.shape}
    network.load_state_dict(copied, strict=False)
    for index in arch.bottleneck_layers:
        if f"encoder.layers.{index}.bottleneck_adapter.3.weight" not in copied:
            nn.init.zeros_(network.encoder.layers[index].bottleneck_adapter[3].weight)
            nn.init.zeros_(network.encoder.layers[index].bottleneck_adapter[3].bias)
    return network


def prepare(network: EdsaNetwork, config: MethodConfig) -> Prepared:
    """Freeze and unfreeze ``network``'s parameters (adding LoRA layers for ``lora``) as the method says."""
    network.requires_grad_(config.method == "full")
    adapter_parts = {"edsa": ("adapter_attention", "adapter_dropout"),
                     "bottleneck": ("bottleneck_adapter", "adapter_dropout")}.get(config.method, ())
    parts = HEADS + adapter_parts
    for name, parameter in network.named_parameters():
        if any(part in name for part in parts):
            parameter.requires_grad_(True)
    if config.method == "full":
        return Prepared(network, network, lambda: network, ())
    if config.method != "lora":
        return Prepared(network, network, lambda: network, parts)
    from peft import LoraConfig, LoraModel

    lora = LoraModel(network, LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha,
                                         lora_dropout=config.lora_dropout, target_modules=LORA_TARGETS), "default")
    for name, parameter in network.named_parameters():  # peft leaves only its own layers trainable
        if any(part in name for part in HEADS):
            parameter.requires_grad_(True)
    return Prepared(lora, network, lambda: copy.deepcopy(lora).merge_and_unload(), HEADS + ("lora_",))


def trainable_count(arch: EdsaConfig, config: MethodConfig) -> int:
    """Trainable parameters of ``method`` on the architecture ``arch`` (built on the meta device, no memory)."""
    with torch.device("meta"):
        prepared = prepare(EdsaNetwork(target_architecture(arch, config)), config)
        return sum(p.numel() for p in prepared.trainable().values())
