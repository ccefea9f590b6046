"""The torch twin of :class:`live.beat_activation.BeatActivation`: the same causal TCN, trained on whole chunks.

Shapes for a batch of B chunks of T frames: raw features (B, T, n_features) -> standardised -> causal Conv1d over
``kernel`` frames + ELU (B, T, channels) -> one residual block per dilation ``d`` (``x += mix(ELU(conv_d(x)))``, the
dilated convolution seeing frames t, t - d, ..., t - (kernel - 1) d, left zero padding) -> ELU -> 1x1 convolution to
(B, T, 3) logits of no beat / beat / downbeat. Dropout before each ``mix`` during training only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from live.beat_activation import CLASSES, save_weights
from live.beat_features import N_FEATURES


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes of the activation network (all but ``dropout`` go to the weights header as ``architecture``).

    The receptive field is ``1 + (kernel - 1) * (1 + sum(dilations))`` frames (2,045 frames, 20 s, by default).
    """

    n_features: int = N_FEATURES
    channels: int = 48
    kernel: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    dropout: float = 0.1

    def architecture(self) -> dict[str, Any]:
        """The ``architecture`` entry of the weights header."""
        return {"n_features": self.n_features, "channels": self.channels, "kernel": self.kernel,
                "dilations": list(self.dilations), "classes": list(CLASSES)}


class BeatActivationNet(nn.Module):
    """Causal TCN; ``forward`` raw features (B, T, n_features) -> logits (B, T, 3)."""

    def __init__(self, config: NetworkConfig = NetworkConfig()) -> None:
        super().__init__()
        self.config = config
        channels, kernel = config.channels, config.kernel
        self.register_buffer("feature_mean", torch.zeros(config.n_features))
        self.register_buffer("feature_scale", torch.ones(config.n_features))
        self.front = nn.Conv1d(config.n_features, channels, kernel)
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d) for d in config.dilations)
        self.mixes = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in config.dilations)
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Conv1d(channels, len(CLASSES), 1)

    def set_normalisation(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Standardise inputs with the training set's per-feature ``mean`` and ``std`` (n_features,)."""
        self.feature_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.feature_scale.copy_(torch.as_tensor(1.0 / np.maximum(std, 1e-3), dtype=torch.float32))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        elu, pad, kernel = nn.functional.elu, nn.functional.pad, self.config.kernel
        x = ((features - self.feature_mean) * self.feature_scale).transpose(1, 2)  # (B, n_features, T)
        x = elu(self.front(pad(x, (kernel - 1, 0))))  # (B, C, T)
        for conv, mix, dilation in zip(self.convs, self.mixes, self.config.dilations):
            x = x + mix(self.drop(elu(conv(pad(x, ((kernel - 1) * dilation, 0))))))
        return self.out(elu(x)).transpose(1, 2)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


def numpy_arrays(net: BeatActivationNet) -> dict[str, np.ndarray]:
    """The network's weights under the names of :func:`live.beat_activation.array_shapes` (float32)."""
    state = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    arrays = {"feature_mean": state["feature_mean"], "feature_scale": state["feature_scale"],
              "front_weight": state["front.weight"], "front_bias": state["front.bias"],
              "out_weight": state["out.weight"][:, :, 0], "out_bias": state["out.bias"]}
    for i in range(len(net.config.dilations)):
        arrays |= {f"block{i}_conv_weight": state[f"convs.{i}.weight"], f"block{i}_conv_bias": state[f"convs.{i}.bias"],
                   f"block{i}_mix_weight": state[f"mixes.{i}.weight"][:, :, 0],
                   f"block{i}_mix_bias": state[f"mixes.{i}.bias"]}
    return arrays


def export(net: BeatActivationNet, path: str | os.PathLike[str], training: dict[str, Any]) -> None:
    """Write ``net`` as a weights file for :class:`live.beat_activation.BeatActivation` (atomically)."""
    save_weights(path, numpy_arrays(net), {"architecture": net.config.architecture(),
                                           "parameters": net.parameter_count(), "training": training})
