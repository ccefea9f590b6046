"""Training loop of the beat activation network: random chunks, weighted soft-target cross-entropy, validation F.

Recipe (defaults of :class:`TrainConfig`): items from a beat-data folder, ~10 % of the source songs held out; batches
of ``batch_size`` random ``chunk_s``-second chunks, ``stretch_p`` of them tempo-stretched by a factor in
``stretch``; AdamW with a cosine learning-rate decay over the planned run
(``epochs`` or ``max_minutes``, whichever ends first); the per-frame cross-entropy against the widened soft targets,
weighted by ``class_weights`` (no beat / beat / downbeat) for the imbalance. After every epoch the whole validation
items are run, beats and downbeats are picked as activation peaks, and their F-measure (70 ms) is logged; each new
best (beat F + downbeat F) is exported at once as the weights file, so the file always holds the best network so far.
"""

from __future__ import annotations

import math
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from model.beat_training.dataset import ChunkSampler, Item, load_items, normalisation, split_items
from model.beat_training.network import NetworkConfig

BEAT_MIN_GAP_S: float = 0.2
"""Closest two picked beats may be (215 BPM is 0.28 s)."""
DOWNBEAT_MIN_GAP_S: float = 0.5
"""Closest two picked downbeats may be."""
THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
"""Peak-picking thresholds tried on the validation set (the best is reported)."""
F_WINDOW_S: float = 0.07
"""Tolerance of the F-measure in seconds (mir_eval's default)."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Times in seconds unless named otherwise."""

    data_dir: Path
    out_path: Path
    cache_dir: Path | None = None
    epochs: int = 60
    max_minutes: float = 45.0
    chunk_s: float = 16.0
    batch_size: int = 12
    learning_rate: float = 2e-3
    final_lr_share: float = 0.05
    weight_decay: float = 1e-4
    class_weights: tuple[float, float, float] = (1.0, 5.0, 8.0)
    stretch: tuple[float, float] | None = (0.85, 1.18)
    stretch_p: float = 0.5
    validation_share: float = 0.1
    seed: int = 0
    threads: int = 2
    network: NetworkConfig = field(default_factory=NetworkConfig)


@dataclass(frozen=True)
class Validation:
    """Validation figures: mean weighted loss, best mean F of picked beats / downbeats and their thresholds, and the
    median offset in ms of matched picked beats from the annotations (positive: late)."""

    loss: float
    beat_f: float
    beat_threshold: float
    downbeat_f: float
    downbeat_threshold: float
    beat_offset_ms: float

    @property
    def score(self) -> float:
        return self.beat_f + self.downbeat_f


def pick_peaks(activation: np.ndarray, frame_rate: float, threshold: float, min_gap_s: float) -> np.ndarray:
    """Times in seconds (frame k at k / frame_rate) of the activation's peaks over ``threshold``, at least
    ``min_gap_s`` apart."""
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(activation, height=threshold, distance=max(1, int(round(min_gap_s * frame_rate))))
    return peaks / frame_rate


def _f_measure(reference: np.ndarray, estimated: np.ndarray) -> float:
    import mir_eval

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mir_eval warns about empty beat lists
        return float(mir_eval.beat.f_measure(reference, estimated, f_measure_threshold=F_WINDOW_S))


def _matched_offsets(reference: np.ndarray, estimated: np.ndarray) -> np.ndarray:
    import mir_eval

    pairs = mir_eval.util.match_events(reference, estimated, F_WINDOW_S)
    return np.array([estimated[j] - reference[i] for i, j in pairs])


def weighted_loss(logits, targets, mask, class_weights):
    """Cross-entropy of logits (B, T, 3) against soft targets (B, T, 3), each frame weighted by
    ``targets @ class_weights`` times ``mask`` (B, T); the weighted mean (a torch scalar)."""
    import torch

    ce = -(targets * torch.log_softmax(logits, dim=-1)).sum(dim=-1)
    weights = (targets @ torch.as_tensor(class_weights, dtype=targets.dtype)) * mask
    return (ce * weights).sum() / weights.sum().clamp_min(1e-6)


def validate(net, items: list[Item], class_weights: tuple[float, float, float]) -> Validation:
    """Run ``net`` on each whole item (from zero history, as live) and measure loss and peak-picking F."""
    import torch

    net.eval()
    losses, probs = [], []
    with torch.no_grad():
        for item in items:
            logits = net(torch.from_numpy(item.features.astype(np.float32))[None])
            targets = torch.from_numpy(item.targets)[None]
            losses.append(float(weighted_loss(logits, targets, torch.ones(targets.shape[:2]), class_weights)))
            probs.append(torch.softmax(logits[0], dim=-1).numpy()[:, 1:])
    return peak_scores(items, probs, float(np.mean(losses)))


def peak_scores(items: list[Item], probs: list[np.ndarray], loss: float = float("nan")) -> Validation:
    """Peak-picking figures of activations ``probs`` ((F, 2) [beat, downbeat] per item) against the items' beats."""
    beat_f = np.array([[_f_measure(it.beats_s, pick_peaks(p.sum(axis=1), it.frame_rate, th, BEAT_MIN_GAP_S))
                        for it, p in zip(items, probs, strict=True)] for th in THRESHOLDS]).mean(axis=1)
    down_f = np.array([[_f_measure(it.downbeats_s, pick_peaks(p[:, 1], it.frame_rate, th, DOWNBEAT_MIN_GAP_S))
                        for it, p in zip(items, probs, strict=True)] for th in THRESHOLDS]).mean(axis=1)
    best = int(np.argmax(beat_f))
    offsets = np.concatenate([_matched_offsets(it.beats_s, pick_peaks(p.sum(axis=1), it.frame_rate, THRESHOLDS[best],
                                                                         BEAT_MIN_GAP_S))
                              for it, p in zip(items, probs, strict=True)])
    return Validation(loss, float(beat_f[best]), THRESHOLDS[best], float(down_f.max()),
                      THRESHOLDS[int(np.argmax(down_f))], float(np.median(offsets) * 1000) if len(offsets) else 0.0)


def _learning_rate(config: TrainConfig, progress: float) -> float:
    """Cosine decay from ``learning_rate`` to ``final_lr_share`` of it as ``progress`` goes 0 -> 1."""
    share = config.final_lr_share + (1 - config.final_lr_share) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.learning_rate * share


def _recipe(config: TrainConfig) -> dict[str, Any]:
    recipe = asdict(config)
    recipe.pop("network")
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in recipe.items()}


def train(config: TrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, exporting the best network so far to ``config.out_path`` after each improving validation.

    Returns the ``training`` summary written into the weights header.
    """
    import torch

    from model.beat_training.network import BeatActivationNet, export

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    started = time.monotonic()
    items = load_items(config.data_dir, config.cache_dir, log)
    train_items, val_items = split_items(items, config.validation_share)
    hours = (sum(it.duration_s for it in train_items) / 3600, sum(it.duration_s for it in val_items) / 3600)
    log(f"{len(train_items)} training items ({hours[0]:.2f} h), {len(val_items)} validation items ({hours[1]:.2f} h); "
        f"features ready in {time.monotonic() - started:.0f} s")
    net = BeatActivationNet(config.network)
    net.set_normalisation(*normalisation(train_items))
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    frame_rate = train_items[0].frame_rate
    sampler = ChunkSampler(train_items, int(round(config.chunk_s * frame_rate)), config.batch_size, config.stretch,
                           config.stretch_p)
    steps = max(1, sampler.total_frames // (sampler.chunk_frames * config.batch_size))
    budget_s = config.max_minutes * 60.0
    summary: dict[str, Any] = {
        "recipe": _recipe(config), "parameters": net.parameter_count(), "train_items": len(train_items),
        "validation_items": len(val_items), "train_hours": round(hours[0], 3), "validation_hours": round(hours[1], 3),
        "steps_per_epoch": steps, "torch": torch.__version__, "machine": f"{platform.machine()} {platform.processor()}",
    }
    log(f"{net.parameter_count()} parameters, {steps} steps an epoch")
    best: Validation | None = None
    for epoch in range(config.epochs):
        net.train()
        epoch_loss = 0.0
        for step in range(steps):
            progress = max((epoch + step / steps) / config.epochs, (time.monotonic() - started) / budget_s)
            for group in optimiser.param_groups:
                group["lr"] = _learning_rate(config, progress)
            feats, targets, mask = (torch.from_numpy(a) for a in sampler.batch(rng))
            loss = weighted_loss(net(feats), targets, mask, config.class_weights)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimiser.step()
            epoch_loss += float(loss.detach())
        val = validate(net, val_items, config.class_weights)
        elapsed = time.monotonic() - started
        improved = best is None or val.score > best.score
        log(f"epoch {epoch + 1}: train loss {epoch_loss / steps:.4f}, val loss {val.loss:.4f}, beat F {val.beat_f:.3f} "
            f"(th {val.beat_threshold}), downbeat F {val.downbeat_f:.3f} (th {val.downbeat_threshold}), beat offset "
            f"{val.beat_offset_ms:+.0f} ms, {elapsed / 60:.1f} min{' *' if improved else ''}")
        if improved:
            best = val
            summary |= {"best_epoch": epoch + 1, "validation": asdict(val), "train_s": round(elapsed),
                        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
            export(net, config.out_path, summary)
        if elapsed > budget_s:
            log(f"time budget of {config.max_minutes} min reached after epoch {epoch + 1}")
            break
    summary["epochs_run"] = epoch + 1
    summary["total_s"] = round(time.monotonic() - started)
    net.load_state_dict(best_state)
    export(net, config.out_path, summary)
    log(f"done in {summary['total_s'] / 60:.1f} min; best epoch {summary['best_epoch']}: {summary['validation']}")
    return summary
