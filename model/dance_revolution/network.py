"""The Dance Revolution v2 network (Huang et al., ICLR 2021): local self-attention music encoder + LSTM pose decoder.

Module and parameter names are the reference's (``encoder.src_emb``, ``encoder.position_enc``,
``encoder.layer_stack.N.slf_attn.{w_qs,w_ks,w_vs,layer_norm,fc}``, ``...pos_ffn.{w_1,w_2,layer_norm}``,
``decoder.{tgt_emb,lstm1,lstm2,lstm3}``, ``linear``), so the released checkpoint's state dict loads strictly.

Shapes: music features (B, T, F) float32 with F = ``feature_dim`` (438), positions (B, T) int64 from 1, poses
(B, T, P) with P = ``pose_dim`` (50 for 2D OpenPose BODY_25 root-relative, 147 for SMPL: 3 root translation in metres
+ 24 x 6D rotations). One model step = one music frame (15 per second for the reference).

Faithful quirks: the decoder's cell 2 reads cell 1's hidden state of the *previous* step (and cell 3 cell 2's), so
a pose fed at step t first reaches the output at step t + 2; the attention band is symmetric (|i - j| <= w) unless
``causal`` (then i - w <= j <= i, for live use); zero rows are not masked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

POSE_KINDS: dict[str, int] = {"openpose2d": 50, "smpl6d": 3 + 24 * 6}
"""Pose representations and their vector widths."""
OPENPOSE_ROOT: int = 8
"""BODY_25 joint whose slot keeps absolute coordinates (MidHip); the others are stored relative to it."""
BOS_POSE_2D: np.ndarray = np.array([
    -0.00647944, -0.540766, -0.00655532, -0.3829, -0.0862469, -0.388304, -0.107649, -0.137507, -0.0648178, 0.0423361,
    0.0791047, -0.382726, 0.0882645, -0.148286, 0.0699688, 0.0641147, 0.0056175, 0.05319, -0.0464647, 0.0476973,
    -0.0465082, 0.467254, -0.031224, 0.854397, 0.0576743, 0.0585055, 0.0394117, 0.478282, 0.0208931, 0.854322,
    -0.0158758, -0.568058, 0.0147899, -0.568106, -0.0465137, -0.568036, 0.0391742, -0.562693, 0.0209782, 0.936187,
    0.0424097, 0.930442, 0.0148087, 0.886806, -0.0249588, 0.935932, -0.0434218, 0.935805, -0.0280986, 0.886854,
], np.float64)
"""The reference's ``BOS_POSE`` (``v2/utils/pose.py``): a standing BODY_25 pose, absolute, in [-1, 1] coordinates."""


@dataclass(frozen=True)
class DanceRevolutionConfig:
    """Architecture and curriculum. Defaults: the released v2 model (README training command).

    Attributes:
        feature_dim: music feature columns (438). d_model: encoder width (``frame_emb_size``).
        pose_kind: ``openpose2d`` (50-d) or ``smpl6d`` (147-d); pose_dim follows from it.
        pose_emb: decoder input embedding width (``pose_emb_size``). n_layers, n_head, d_k, d_v: encoder layers,
            heads and per-head widths. d_inner: FFN width and LSTM hidden size.
        window: attention half-width w in frames (``sliding_windown_size``). seq_len: training window in frames.
        max_seq_len: longest sequence the positional table covers (table rows = max_seq_len + 1).
        dropout: everywhere (attention probabilities fixed at 0.1 as in the reference).
        condition_step: q, ground-truth steps per curriculum period. lambda_v: lambda, p = int(epoch * lambda).
        causal: attention to the past only (live use; not the reference).
    """

    feature_dim: int = 438
    d_model: int = 200
    pose_kind: str = "openpose2d"
    pose_emb: int = 50
    n_layers: int = 1
    n_head: int = 8
    d_k: int = 64
    d_v: int = 64
    d_inner: int = 1024
    window: int = 900
    seq_len: int = 900
    max_seq_len: int = 4500
    dropout: float = 0.1
    condition_step: int = 10
    lambda_v: float = 0.01
    causal: bool = False

    @property
    def pose_dim(self) -> int:
        return POSE_KINDS[self.pose_kind]

    def reference_args(self) -> dict[str, object]:
        """The reference's argparse names for this configuration (stored in checkpoints as ``args``)."""
        return {"d_frame_vec": self.feature_dim, "frame_emb_size": self.d_model, "d_model": self.d_model,
                "d_pose_vec": self.pose_dim, "pose_emb_size": self.pose_emb, "n_layers": self.n_layers,
                "n_head": self.n_head, "d_k": self.d_k, "d_v": self.d_v, "d_inner": self.d_inner,
                "sliding_windown_size": self.window, "seq_len": self.seq_len, "max_seq_len": self.max_seq_len,
                "dropout": self.dropout, "condition_step": self.condition_step, "lambda_v": self.lambda_v,
                "pose_kind": self.pose_kind, "causal": self.causal}

    @classmethod
    def from_reference_args(cls, args: dict[str, object]) -> DanceRevolutionConfig:
        """Inverse of :meth:`reference_args`; missing entries take the defaults (``d_pose_vec`` 50 = 2D)."""
        pose_kind = str(args.get("pose_kind", "openpose2d" if args.get("d_pose_vec", 50) == 50 else "smpl6d"))
        names = {"d_frame_vec": "feature_dim", "frame_emb_size": "d_model", "pose_emb_size": "pose_emb",
                 "n_layers": "n_layers", "n_head": "n_head", "d_k": "d_k", "d_v": "d_v", "d_inner": "d_inner",
                 "sliding_windown_size": "window", "seq_len": "seq_len", "max_seq_len": "max_seq_len",
                 "dropout": "dropout", "condition_step": "condition_step", "lambda_v": "lambda_v", "causal": "causal"}
        values = {field: args[key] for key, field in names.items() if key in args}
        return cls(pose_kind=pose_kind, **values)


def sinusoid_table(n_position: int, d_hid: int) -> torch.Tensor:
    """(n_position, d_hid) float32 positional table: row 0 zeros, sin on even and cos on odd dims, computed in float64
    and rounded (the reference's ``get_sinusoid_encoding_table(..., padding_idx=0)``)."""
    position = np.arange(n_position, dtype=np.float64)[:, None]
    rate = np.power(10000.0, 2 * (np.arange(d_hid) // 2) / d_hid)
    table = position / rate
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    table[0] = 0.0
    return torch.from_numpy(table.astype(np.float32))


def band_mask(length: int, window: int, causal: bool, device: torch.device | None = None) -> torch.Tensor:
    """(length, length) bool, True where query i may NOT see key j: |i - j| > w (and j > i when causal)."""
    i = torch.arange(length, device=device)[:, None]
    j = torch.arange(length, device=device)[None, :]
    blocked = (i - j).abs() > window
    return blocked | (j > i) if causal else blocked


class MultiHeadAttention(nn.Module):
    """Post-LN multi-head self-attention: ``LN(x + Drop(fc(heads)))`` with a blocked-key mask."""

    def __init__(self, n_head: int, d_model: int, d_k: int, d_v: int, dropout: float) -> None:
        super().__init__()
        self.n_head, self.d_k, self.d_v = n_head, d_k, d_v
        self.w_qs = nn.Linear(d_model, n_head * d_k)
        self.w_ks = nn.Linear(d_model, n_head * d_k)
        self.w_vs = nn.Linear(d_model, n_head * d_v)
        nn.init.normal_(self.w_qs.weight, mean=0, std=math.sqrt(2.0 / (d_model + d_k)))
        nn.init.normal_(self.w_ks.weight, mean=0, std=math.sqrt(2.0 / (d_model + d_k)))
        nn.init.normal_(self.w_vs.weight, mean=0, std=math.sqrt(2.0 / (d_model + d_v)))
        self.layer_norm = nn.LayerNorm(d_model)
        self.fc = nn.Linear(n_head * d_v, d_model)
        nn.init.xavier_normal_(self.fc.weight)
        self.attn_dropout = nn.Dropout(0.1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_model), blocked (T, T) bool -> (B, T, d_model)."""
        batch, length, _ = x.shape
        q = self.w_qs(x).view(batch, length, self.n_head, self.d_k).transpose(1, 2)  # (B, H, T, d_k)
        k = self.w_ks(x).view(batch, length, self.n_head, self.d_k).transpose(1, 2)
        v = self.w_vs(x).view(batch, length, self.n_head, self.d_v).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_k)  # (B, H, T, T)
        scores = scores.masked_fill(blocked, float("-inf"))
        heads = self.attn_dropout(torch.softmax(scores, dim=-1)) @ v  # (B, H, T, d_v)
        heads = heads.transpose(1, 2).reshape(batch, length, self.n_head * self.d_v)
        return self.layer_norm(self.dropout(self.fc(heads)) + x)


class PositionwiseFeedForward(nn.Module):
    """Post-LN FFN with 1x1 convolutions (the reference's Conv1d weights [out, in, 1])."""

    def __init__(self, d_model: int, d_inner: int, dropout: float) -> None:
        super().__init__()
        self.w_1 = nn.Conv1d(d_model, d_inner, 1)
        self.w_2 = nn.Conv1d(d_inner, d_model, 1)
        self.layer_norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> (B, T, d_model)."""
        hidden = self.w_2(torch.relu(self.w_1(x.transpose(1, 2)))).transpose(1, 2)
        return self.layer_norm(self.dropout(hidden) + x)


class EncoderLayer(nn.Module):
    def __init__(self, config: DanceRevolutionConfig) -> None:
        super().__init__()
        self.slf_attn = MultiHeadAttention(config.n_head, config.d_model, config.d_k, config.d_v, config.dropout)
        self.pos_ffn = PositionwiseFeedForward(config.d_model, config.d_inner, config.dropout)

    def forward(self, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        return self.pos_ffn(self.slf_attn(x, blocked))


class Encoder(nn.Module):
    """Linear(F -> d_model) + frozen sinusoidal positions, then post-LN local-attention layers (no final norm)."""

    def __init__(self, config: DanceRevolutionConfig) -> None:
        super().__init__()
        self.config = config
        self.src_emb = nn.Linear(config.feature_dim, config.d_model)
        self.position_enc = nn.Embedding.from_pretrained(sinusoid_table(config.max_seq_len + 1, config.d_model),
                                                         freeze=True)
        self.layer_stack = nn.ModuleList([EncoderLayer(config) for _ in range(config.n_layers)])

    def forward(self, music: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """music (B, T, F), positions (B, T) int64 in 1..max_seq_len -> (B, T, d_model)."""
        x = self.src_emb(music) + self.position_enc(positions)
        blocked = band_mask(music.shape[1], self.config.window, self.config.causal, music.device)
        for layer in self.layer_stack:
            x = layer(x, blocked)
        return x


LstmState = tuple[list[torch.Tensor], list[torch.Tensor]]
"""(h, c) of the three cells, each a list of three (B, d_inner) tensors."""


class Decoder(nn.Module):
    """Pose embedding, dropout, three LSTM cells wired with the reference's one-step lag between cells."""

    def __init__(self, config: DanceRevolutionConfig) -> None:
        super().__init__()
        self.tgt_emb = nn.Linear(config.pose_dim, config.pose_emb)
        self.dropout = nn.Dropout(config.dropout)
        self.lstm1 = nn.LSTMCell(config.pose_emb, config.d_inner)
        self.lstm2 = nn.LSTMCell(config.d_inner, config.d_inner)
        self.lstm3 = nn.LSTMCell(config.d_inner, config.d_inner)

    def forward(self, pose: torch.Tensor, state: LstmState) -> tuple[torch.Tensor, LstmState]:
        """One step: pose (B, P) and the previous state -> (top hidden (B, d_inner), new state).

        Cell 2 reads cell 1's *previous* h and cell 3 cell 2's previous h (quirk 17.1 of the facts).
        """
        h, c = state
        h1, c1 = self.lstm1(self.dropout(self.tgt_emb(pose)), (h[0], c[0]))
        h2, c2 = self.lstm2(h[0], (h[1], c[1]))
        h3, c3 = self.lstm3(h[1], (h[2], c[2]))
        return h3, ([h1, h2, h3], [c1, c2, c3])


def curriculum_mask(steps: int, epoch: int, condition_step: int, lambda_v: float) -> torch.Tensor:
    """(steps,) bool, True where the ground truth is fed: p = int(epoch * lambda) predicted steps, then q ground-truth
    steps, repeated and cut (the reference's dynamic auto-condition schedule; p = 0 is pure teacher forcing)."""
    p = int(epoch * lambda_v)
    return (torch.arange(steps) % (p + condition_step)) >= p


class DanceRevolution(nn.Module):
    """Encoder + decoder + Linear(d_inner + d_model -> P). No activation, no residual on the output."""

    def __init__(self, config: DanceRevolutionConfig = DanceRevolutionConfig()) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.linear = nn.Linear(config.d_inner + config.d_model, config.pose_dim)

    def initial_state(self, batch: int, generator: torch.Generator | None = None) -> LstmState:
        """N(0, 1) h and c for every cell, drawn in the reference's order (c0, c1, c2, h0, h1, h2)."""
        ref = self.linear.weight
        draw = [torch.randn(batch, self.config.d_inner, generator=generator).to(ref) for _ in range(6)]
        return draw[3:], draw[:3]

    def bos(self, batch: int) -> torch.Tensor:
        """(B, P) begin-of-sequence pose in model form (see :func:`bos_pose`)."""
        return torch.from_numpy(bos_pose(self.config.pose_kind)).to(self.linear.weight).expand(batch, -1)

    def step(self, pose: torch.Tensor, encoded: torch.Tensor, state: LstmState) -> tuple[torch.Tensor, LstmState]:
        """One decoder step: previous pose (B, P), encoder frame (B, d_model) -> next pose (B, P), new state."""
        top, state = self.decoder(pose, state)
        return self.linear(torch.cat([top, encoded], dim=1)), state

    def forward(self, music: torch.Tensor, positions: torch.Tensor, targets_in: torch.Tensor, state: LstmState,
                bos: torch.Tensor, epoch: int) -> torch.Tensor:
        """The training forward (reference ``Model.forward``).

        Args:
            music (B, S, F), positions (B, S), targets_in (B, S, P): poses 0..S-1 (the ground-truth inputs).
            state: initial LSTM state. bos (B, P): the input at step 0 when it is a prediction step.
            epoch: 1-based epoch of the curriculum.
        Returns:
            (B, S, P) predictions of poses 1..S.
        """
        encoded = self.encoder(music, positions)
        feed_truth = curriculum_mask(music.shape[1], epoch, self.config.condition_step, self.config.lambda_v)
        previous, outputs = bos, []
        for i in range(music.shape[1]):
            pose_in = targets_in[:, i] if feed_truth[i] else previous.detach()
            previous, state = self.step(pose_in, encoded[:, i], state)
            outputs.append(previous)
        return torch.stack(outputs, dim=1)

    @torch.no_grad()
    def generate(self, music: torch.Tensor, state: LstmState, bos: torch.Tensor | None = None) -> torch.Tensor:
        """Autoregressive generation over the whole music (reference ``Generator.generate``): (B, T, F) -> (B, T, P).

        The music is encoded once (positions 1..T, so T <= max_seq_len); step 0 reads BOS, step t the output t - 1.
        """
        length = music.shape[1]
        positions = torch.arange(1, length + 1, device=music.device).expand(music.shape[0], -1)
        encoded = self.encoder(music, positions)
        previous = self.bos(music.shape[0]) if bos is None else bos
        outputs = []
        for i in range(length):
            previous, state = self.step(previous, encoded[:, i], state)
            outputs.append(previous)
        return torch.stack(outputs, dim=1)


def bos_pose(pose_kind: str) -> np.ndarray:
    """(P,) float32 begin-of-sequence pose in model form.

    openpose2d: the standing pose made root-relative like ``Decoder.init_state`` (slot 8 keeps the absolute root);
    smpl6d: zero translation and identity rotations.
    """
    if pose_kind == "openpose2d":
        return absolute_to_relative(BOS_POSE_2D).astype(np.float32)
    identity_6d = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    return np.concatenate([np.zeros(3), np.tile(identity_6d, 24)]).astype(np.float32)


def absolute_to_relative(pose: np.ndarray) -> np.ndarray:
    """(..., 50) absolute BODY_25 (x, y) -> the model's form: every joint minus MidHip, MidHip kept absolute."""
    pose = np.asarray(pose, np.float64)
    root = pose[..., 2 * OPENPOSE_ROOT : 2 * OPENPOSE_ROOT + 2]
    out = pose - np.tile(root, 25)
    out[..., 2 * OPENPOSE_ROOT : 2 * OPENPOSE_ROOT + 2] = root
    return out


def relative_to_absolute(pose: np.ndarray) -> np.ndarray:
    """Inverse of :func:`absolute_to_relative`."""
    pose = np.asarray(pose, np.float64)
    root = pose[..., 2 * OPENPOSE_ROOT : 2 * OPENPOSE_ROOT + 2]
    out = pose + np.tile(root, 25)
    out[..., 2 * OPENPOSE_ROOT : 2 * OPENPOSE_ROOT + 2] = root
    return out
