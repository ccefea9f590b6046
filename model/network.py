"""The music-to-pose network (MERT/HuBERT backbone + EDSA adapter + time-pooling head) and its inference wrapper.

Audio is mono float32 at 24 kHz, already normalised as the reference does (zero mean, unit variance over the whole
song). One window is 48,480 samples (2.02 s), which the convolutional encoder turns into 151 frames of 768 values;
the head pools those frames into one 82-value embedding in the space of pose vectors (10 SMPL betas, then 72
axis-angle values), which is ranked against a pose bank.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize
from transformers import HubertConfig, HubertModel

from common.constants import POSE_DIM, WINDOW_SAMPLES
from model.edsa import EdsaEncoderLayer, FeedForwardAdapterLayer, bottleneck

HUBERT_CONV_STRIDES: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
"""Strides of HuBERT's 7-layer convolutional encoder (not stored in checkpoints: they have no weights)."""
HUBERT_HEAD_DIM: int = 64
"""Size of one self-attention head in HuBERT/MERT (not recoverable from weights): heads = hidden_size / 64."""
HEAD_DROPOUT: float = 0.1
EMBED_BATCH: int = 16
"""Windows per forward pass in :meth:`EdsaModel.embed`."""


@dataclass(frozen=True)
class EdsaConfig:
    """The architecture: everything that fixes the parameter shapes and the maths.

    Defaults are the published model (MERT-v1-95M / HuBERT-base backbone, adapter in the first layer). Layer indices
    are 0-based: the reference's ``adapter_layer_index=[1, 0, ..., 0]`` is ``adapter_layers=(0,)``.
    """

    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    conv_dim: tuple[int, ...] = (512,) * 7
    conv_kernel: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    conv_stride: tuple[int, ...] = HUBERT_CONV_STRIDES
    conv_bias: bool = False
    feat_extract_norm: str = "group"
    num_conv_pos_embeddings: int = 128
    num_conv_pos_embedding_groups: int = 16
    adapter_layers: tuple[int, ...] = (0,)
    adapter_bottleneck: int = 64
    bottleneck_layers: tuple[int, ...] = ()
    """0-based layers carrying a plain bottleneck adapter (the fine-tuning baseline, keys
    ``encoder.layers.{i}.bottleneck_adapter.*``) instead of EDSA; empty for the published model."""
    input_samples: int = WINDOW_SAMPLES
    step_hidden: int = 75
    feature_hidden: int = 384
    output_dim: int = POSE_DIM

    @property
    def num_frames(self) -> int:
        """Frames the convolutional encoder makes from ``input_samples`` samples (151 for 48,480)."""
        length = self.input_samples
        for kernel, stride in zip(self.conv_kernel, self.conv_stride):
            length = (length - kernel) // stride + 1
        return length

    def hubert_config(self, attn_implementation: str = "sdpa") -> HubertConfig:
        """The transformers config of the backbone; SpecAugment off, everything else HuBERT's defaults."""
        return HubertConfig(
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            conv_dim=list(self.conv_dim),
            conv_kernel=list(self.conv_kernel),
            conv_stride=list(self.conv_stride),
            conv_bias=self.conv_bias,
            feat_extract_norm=self.feat_extract_norm,
            num_conv_pos_embeddings=self.num_conv_pos_embeddings,
            num_conv_pos_embedding_groups=self.num_conv_pos_embedding_groups,
            do_stable_layer_norm=False,
            apply_spec_augment=False,
            attn_implementation=attn_implementation,
        )


def mlp(sizes: tuple[int, int, int]) -> nn.Sequential:
    """Linear -> GELU (exact) -> Linear -> Dropout(0.1); keys ``0`` and ``2``."""
    first, hidden, last = sizes
    return nn.Sequential(nn.Linear(first, hidden), nn.GELU(), nn.Linear(hidden, last), nn.Dropout(HEAD_DROPOUT))


class BottleneckEncoderLayer(FeedForwardAdapterLayer):
    """A post-LayerNorm HuBERT layer with a plain (Houlsby-style) bottleneck adapter on its feed-forward output.

    ``h = LN1(x + attn(x)); f = FFN(h); f = f + dropout(B(f)); out = LN2(h + f)`` with ``B`` = LayerNorm -> Linear(H ->
    bottleneck) -> ReLU -> Linear(bottleneck -> H): EDSA's place and projection shape, without the self-attention.
    """

    def __init__(self, config: HubertConfig, bottleneck_dim: int) -> None:
        super().__init__(config)
        self.bottleneck_adapter = bottleneck(config.hidden_size, bottleneck_dim, config.layer_norm_eps)

    def adapt(self, ffn: torch.Tensor) -> torch.Tensor:
        return self.bottleneck_adapter(ffn)


class EdsaNetwork(HubertModel):
    """HF ``HubertModel`` with EDSA layers and the pose head; ``state_dict`` keys are the reference's minus
    ``model_hubert.`` (the positional conv's weight norm uses torch's parametrizations names).

    Initialisation follows the reference: HF's ``_init_weights`` for the backbone and adapters, torch defaults for the
    two head MLPs, ``logit_scale = 1``.
    """

    def __init__(self, arch: EdsaConfig, attn_implementation: str = "sdpa") -> None:
        super().__init__(arch.hubert_config(attn_implementation))
        self.arch = arch
        if set(arch.adapter_layers) & set(arch.bottleneck_layers):
            raise ValueError(f"a layer cannot carry both adapters: {arch.adapter_layers} and {arch.bottleneck_layers}")
        for index in arch.adapter_layers + arch.bottleneck_layers:
            kind = EdsaEncoderLayer if index in arch.adapter_layers else BottleneckEncoderLayer
            layer = kind(self.config, arch.adapter_bottleneck)
            layer.apply(self._init_weights)
            self.encoder.layers[index] = layer
        self.mert_output_step_mlp = mlp((arch.num_frames, arch.step_hidden, 1))
        self.audio_feature_mlp = mlp((arch.hidden_size, arch.feature_hidden, arch.output_dim))
        self.logit_scale = nn.Parameter(torch.ones([]))

    def forward(
        self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs: object
    ) -> torch.Tensor:
        """Audio (B, 48480) -> pose embeddings (B, 82), not L2-normalised.

        ``kwargs`` (e.g. ``output_attentions``) go to ``HubertModel.forward``; only the last layer output is used.
        """
        outputs = super().forward(input_values, attention_mask=attention_mask, **kwargs)
        return self.head(outputs.last_hidden_state)

    def head(self, last_hidden: torch.Tensor) -> torch.Tensor:
        """Last layer output (B, 151, H) -> (B, 82): an MLP over time per channel, then an MLP over channels."""
        pooled = self.mert_output_step_mlp(last_hidden.transpose(1, 2)).squeeze(-1)
        return self.audio_feature_mlp(pooled)


class EdsaModel:
    """A loaded network for inference: numpy windows in, pose embeddings out, in batches on one device."""

    encoder_name: str = "edsa"

    def __init__(
        self,
        network: EdsaNetwork,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        autocast: torch.dtype | None = None,
        batch_size: int = EMBED_BATCH,
    ) -> None:
        """Moves ``network`` to ``device``/``dtype`` in eval mode.

        Args:
            autocast: torch.bfloat16 or torch.float16 to run matrix products in that precision (CUDA only; the
                weights stay in ``dtype``); None for plain ``dtype`` arithmetic.
            batch_size: windows per forward pass.
        """
        self.device = torch.device(device)
        if autocast is not None and (self.device.type != "cuda" or dtype != torch.float32):
            raise ValueError(f"autocast {autocast} needs a CUDA device and float32 weights, got {self.device} {dtype}")
        self.dtype = dtype
        self.autocast = autocast
        self.batch_size = batch_size
        self.torch_module: EdsaNetwork = network.to(device=self.device, dtype=dtype).eval()

    @property
    def config(self) -> EdsaConfig:
        """The architecture (inferred from the checkpoint)."""
        return self.torch_module.arch

    @property
    def logit_scale(self) -> float:
        """The retrieval temperature: logits = logit_scale * q . normalize(db)."""
        return float(self.torch_module.logit_scale.detach().float().cpu())

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """Pose embeddings of normalised windows: (B, 48480) float32 -> (B, 82) float32 (not L2-normalised)."""
        samples = np.require(audio, dtype=np.float32, requirements=["C", "W"])  # read-only windows are copied
        return self.embed_tensor(torch.from_numpy(samples)).float().numpy()

    def embed_tensor(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, 48480) -> (B, 82) on the CPU, in the model's dtype (float32 under autocast); batched, no autograd."""
        self._check_windows(tuple(audio.shape))
        out_dtype = torch.float32 if self.autocast is not None else self.dtype
        if audio.shape[0] == 0:
            return torch.empty((0, self.config.output_dim), dtype=out_dtype)
        with self._inference():
            chunks = [self.torch_module(chunk.to(self.device, self.dtype)) for chunk in audio.split(self.batch_size)]
        return torch.cat(chunks).to("cpu", out_dtype)

    def _check_windows(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 2 or shape[1] != self.config.input_samples:
            raise ValueError(f"expected windows of shape (B, {self.config.input_samples}), got {shape}")

    @contextlib.contextmanager
    def _inference(self) -> Iterator[None]:
        """No autograd, the weight-normed positional conv computed once per call, optional CUDA autocast."""
        amp = (
            torch.autocast(self.device.type, dtype=self.autocast)
            if self.autocast is not None
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), parametrize.cached(), amp:
            yield
