"""The training objective: the retrieval ranking turned into a contrastive loss over the batch, plus an optional
regression term.

Logits are the reference's ranking scores, ``logit_scale * q . normalize(t)``, between every predicted 82-d vector
``q`` and every target vector ``t`` of the batch. A batch can hold the same pose more than once (repeated frames,
the same music under two dancers), so the target of row ``i`` is the uniform distribution over every column with
the same pose as ``i`` (several positives), not just column ``i``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class LossConfig:
    """regression_weight: weight of the mean squared error between predicted and target vectors (0: off)."""

    regression_weight: float = 0.0


def contrastive_loss(predicted: torch.Tensor, targets: torch.Tensor, pose_ids: torch.Tensor,
                     logit_scale: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the batch ranking against the rows' own poses.

    Args:
        predicted: (B, 82) model outputs (not normalised). targets: (B, 82) target pose vectors.
        pose_ids: (B,) int64, equal ids for equal poses. logit_scale: () the model's scale.
    Returns:
        () mean loss.
    """
    logits = logit_scale * predicted.float() @ F.normalize(targets.float(), dim=1).T
    positives = (pose_ids[:, None] == pose_ids[None, :]).float()
    return F.cross_entropy(logits, positives / positives.sum(dim=1, keepdim=True))


def training_loss(predicted: torch.Tensor, targets: torch.Tensor, pose_ids: torch.Tensor,
                  logit_scale: torch.Tensor, config: LossConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """The total loss and its parts for logging (``contrastive``, ``regression``)."""
    contrastive = contrastive_loss(predicted, targets, pose_ids, logit_scale)
    regression = F.mse_loss(predicted.float(), targets.float())
    total = contrastive + config.regression_weight * regression if config.regression_weight else contrastive
    return total, {"contrastive": float(contrastive.detach()), "regression": float(regression.detach())}
