"""Evaluating retrieval on a held-out split, with a random-retrieval baseline and the nearest-pose oracle.

Every window of the split is a query; the gallery is the split's distinct target poses (or a pose bank). For each
ranker (the model: ``logit_scale * q . normalize(gallery)``; random: a uniformly random order; oracle: the gallery
ordered by MPJPE to the true pose, the best any ranker can do) it reports:

- ``R@k``: share of queries whose true pose is among the first k (null when the gallery lacks the true poses);
- ``R@k<=T mm``: share with any of the first k within T mm MPJPE of the true pose;
- ``median_rank`` of the true pose;
- ``MPJPE`` and ``PA-MPJPE`` (mm) between the top-1 pose's joints and the true pose's (through the body model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from common.constants import NUM_BETAS
from model.training.data import PairSet, evaluation_loader
from model.training.metrics import mpjpe, pa_mpjpe, ranks_of, top_k

BODY_CHUNK: int = 256
"""Poses per body-model call (each makes a (N, V, 3) vertex array)."""
ORACLE_CHUNK: int = 64
"""Queries per block of the (Q, G) oracle distance matrix."""


@dataclass(frozen=True)
class EvalConfig:
    """ks: the k of R@k; tolerance_mm: the MPJPE under which a retrieved pose counts as right; seed: random ranker."""

    ks: tuple[int, ...] = (1, 5, 10)
    tolerance_mm: float = 50.0
    seed: int = 0


def embed_pairs(embed: Callable[[torch.Tensor], torch.Tensor], pairs: PairSet, batch_size: int,
                workers: int) -> np.ndarray:
    """(M, 82) float32 model outputs of every pair's window, in order; ``embed`` maps (B, 48480) -> (B, 82)."""
    outputs = [embed(windows).float().cpu() for windows, _, _ in evaluation_loader(pairs, batch_size, workers)]
    return torch.cat(outputs).numpy()


def model_scores(queries: np.ndarray, gallery: np.ndarray, logit_scale: float) -> np.ndarray:
    """(Q, G) the reference's ranking scores ``logit_scale * q . normalize(gallery)``."""
    unit = F.normalize(torch.from_numpy(gallery).float(), dim=1)
    return (logit_scale * torch.from_numpy(queries).float() @ unit.T).numpy()


def joints_of(body, vectors: np.ndarray) -> np.ndarray:
    """(N, 24, 3) joints in metres of (N, 82) pose vectors (betas, then axis-angle pose)."""
    chunks = [body.forward(part[:, NUM_BETAS:], part[:, :NUM_BETAS]).joints
              for part in np.array_split(vectors, max(1, -(-len(vectors) // BODY_CHUNK)))]
    return np.concatenate(chunks).astype(np.float64)


def oracle_scores(true_joints: np.ndarray, gallery_joints: np.ndarray) -> np.ndarray:
    """(Q, G) minus the MPJPE (mm) between each true pose and each gallery pose."""
    blocks = [-mpjpe(true_joints[i : i + ORACLE_CHUNK, None], gallery_joints[None])
              for i in range(0, len(true_joints), ORACLE_CHUNK)]
    return np.concatenate(blocks)


def ranker_metrics(scores: np.ndarray, truth: np.ndarray | None, true_joints: np.ndarray,
                   gallery_joints: np.ndarray, config: EvalConfig) -> dict[str, float | None]:
    """The metrics of one (Q, G) score matrix; ``truth`` (Q,) gallery indices of the true poses, or None."""
    width = min(max(config.ks), scores.shape[1])
    best = top_k(scores, width)
    errors = np.stack([mpjpe(gallery_joints[best[:, j]], true_joints) for j in range(width)], axis=1)
    ranks = ranks_of(scores, truth) if truth is not None else None
    metrics: dict[str, float | None] = {}
    for k in config.ks:
        metrics[f"R@{k}"] = None if ranks is None else float((ranks <= k).mean())
    for k in config.ks:
        metrics[f"R@{k}<={config.tolerance_mm:g}mm"] = float((errors[:, :k] <= config.tolerance_mm).any(axis=1).mean())
    metrics["median_rank"] = None if ranks is None else float(np.median(ranks))
    metrics["MPJPE_mm"] = float(errors[:, 0].mean())
    metrics["PA-MPJPE_mm"] = float(pa_mpjpe(gallery_joints[best[:, 0]], true_joints).mean())
    return metrics


def gallery_truth(targets: np.ndarray, gallery: np.ndarray) -> np.ndarray | None:
    """(Q,) index of each target in ``gallery`` (exact match), or None unless every target is there."""
    lookup = {row.tobytes(): i for i, row in enumerate(np.ascontiguousarray(gallery, np.float32))}
    found = [lookup.get(row.tobytes()) for row in np.ascontiguousarray(targets, np.float32)]
    return None if any(i is None for i in found) else np.asarray(found, np.int64)


def evaluate_retrieval(queries: np.ndarray, logit_scale: float, targets: np.ndarray, gallery: np.ndarray, body,
                       config: EvalConfig) -> dict[str, dict[str, float | None]]:
    """Metrics of the model, a random ranker and the oracle.

    Args:
        queries: (Q, 82) model outputs. targets: (Q, 82) the true poses. gallery: (G, 82) the poses ranked.
        body: a :class:`pose_db.body.BodyModel` (joints for MPJPE).
    Returns:
        ``{"model": {...}, "random": {...}, "oracle": {...}}``, metric name -> value.
    """
    truth = gallery_truth(targets, gallery)
    true_joints, gallery_joints = joints_of(body, targets), joints_of(body, gallery)
    rng = np.random.default_rng(config.seed)
    rankers = {
        "model": model_scores(queries, gallery, logit_scale),
        "random": rng.random((len(queries), len(gallery))),
        "oracle": oracle_scores(true_joints, gallery_joints),
    }
    return {name: ranker_metrics(scores, truth, true_joints, gallery_joints, config)
            for name, scores in rankers.items()}


def format_table(report: dict[str, dict[str, float | None]]) -> str:
    """The report as a fixed-width text table, one row per ranker."""
    columns = list(next(iter(report.values())))
    width = max(len(column) for column in columns) + 2
    lines = ["ranker".ljust(8) + "".join(column.rjust(width) for column in columns)]
    for name, metrics in report.items():
        cells = ["n/a" if metrics[c] is None else f"{metrics[c]:.3f}" if "R@" in c else f"{metrics[c]:.1f}"
                 for c in columns]
        lines.append(name.ljust(8) + "".join(cell.rjust(width) for cell in cells))
    return "\n".join(lines)
