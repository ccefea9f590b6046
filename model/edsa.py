"""The EDSA adapter (efficient dance self-attention) and the HuBERT encoder layer that carries it.

Both are built from transformers' own HuBERT modules: the adapter is a one-head ``HubertAttention`` whose four
projections are bottlenecks, and the layer is a ``HubertEncoderLayer`` whose forward adds the adapter on the
feed-forward output. All tensors are (batch, frames, hidden) unless stated otherwise.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import HubertConfig
from transformers.models.hubert.modeling_hubert import HubertAttention, HubertEncoderLayer

ADAPTER_DROPOUT: float = 0.1
"""Dropout on the adapter's output before its residual sum (training only)."""


def bottleneck(hidden_size: int, bottleneck_dim: int, eps: float) -> nn.Sequential:
    """LayerNorm -> Linear(hidden -> bottleneck) -> ReLU -> Linear(bottleneck -> hidden); keys ``0``, ``1``, ``3``."""
    return nn.Sequential(
        nn.LayerNorm(hidden_size, eps=eps),
        nn.Linear(hidden_size, bottleneck_dim),
        nn.ReLU(),
        nn.Linear(bottleneck_dim, hidden_size),
    )


class EdsaAdapterAttention(HubertAttention):
    """One-head self-attention over the frames whose q/k/v/out projections are bottleneck MLPs.

    The scores are ``q_proj(x) k_proj(x)^T * hidden_size**-0.5`` (one head, so the head size is the hidden size); the
    attention kernel is the one ``config._attn_implementation`` names (SDPA by default). No attention mask is used.
    """

    def __init__(self, config: HubertConfig, bottleneck_dim: int) -> None:
        super().__init__(
            embed_dim=config.hidden_size, num_heads=1, dropout=config.attention_dropout, config=config
        )
        for name in ("k_proj", "v_proj", "q_proj", "out_proj"):
            setattr(self, name, bottleneck(config.hidden_size, bottleneck_dim, config.layer_norm_eps))


class FeedForwardAdapterLayer(HubertEncoderLayer):
    """A post-LayerNorm HuBERT layer with an adapter on its feed-forward output (subclasses say which):

    ``h = LN1(x + attn(x)); f = FFN(h); f = f + dropout(adapt(f)); out = LN2(h + f)``.
    """

    def __init__(self, config: HubertConfig) -> None:
        super().__init__(config)
        self.adapter_dropout = nn.Dropout(ADAPTER_DROPOUT)

    def adapt(self, ffn: torch.Tensor) -> torch.Tensor:
        """The adapter's output for the feed-forward output ``ffn`` (B, T, H)."""
        raise NotImplementedError

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs: object
    ) -> torch.Tensor:
        """(B, T, H) -> (B, T, H); ``attention_mask`` and ``kwargs`` go to the layer's own self-attention only."""
        attended, _ = self.attention(hidden_states, attention_mask=attention_mask, **kwargs)
        hidden_states = self.layer_norm(hidden_states + self.dropout(attended))
        ffn = self.feed_forward(hidden_states)
        ffn = ffn + self.adapter_dropout(self.adapt(ffn))
        return self.final_layer_norm(hidden_states + ffn)


class EdsaEncoderLayer(FeedForwardAdapterLayer):
    """The paper's layer: the EDSA adapter (one-head self-attention over the FFN output) as ``adapt``."""

    def __init__(self, config: HubertConfig, bottleneck_dim: int) -> None:
        super().__init__(config)
        self.adapter_attention = EdsaAdapterAttention(config, bottleneck_dim)

    def adapt(self, ffn: torch.Tensor) -> torch.Tensor:
        adapted, _ = self.adapter_attention(ffn)
        return adapted
