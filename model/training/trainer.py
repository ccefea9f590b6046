"""The training loop: AdamW with linear warm-up and a cosine decay, mixed precision on CUDA, gradient accumulation,
validation Recall@k with early stopping, checkpoint/resume, TensorBoard, and DDP under ``torchrun``.

Files in the output folder:

- ``best.chkpt``: the network at the best validation Recall@k, published layout (``{'model': ...}``,
  ``model_hubert.`` keys): ``main.py retrieve --checkpoint out/best.chkpt`` and :func:`model.load_model` read it;
- ``last.chkpt``: the same at the latest validation;
- ``state.pt``: what ``--resume`` needs (trainable tensors, optimizer, schedule, scaler, step, RNG states);
- ``tensorboard/``: loss, learning rate, logit scale, throughput and validation metrics;
- ``summary.json``: the configuration, trainable parameter count, best step and metric.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from common.errors import InputError
from model.checkpoint import save_checkpoint
from model.network import EdsaModel
from model.training.data import PairSet, SongCache, training_loader
from model.training.evaluate import embed_pairs, model_scores
from model.training.losses import LossConfig, training_loss
from model.training.methods import MethodConfig, Prepared, initial_network, load_source, prepare
from model.training.metrics import ranks_of

GRAD_CLIP: float = 1.0
"""Gradient norm clip."""


def write_resume_state(out: Path, state: dict, summary: dict) -> None:
    """Write ``out/state.pt`` (a ``torch.save`` dict, atomically: a ``.partial`` file renamed into place) and
    ``out/summary.json``, for ``--resume``."""
    partial = out / "state.pt.partial"
    torch.save(state, partial)
    partial.replace(out / "state.pt")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")


def read_resume_state(out: Path) -> tuple[Path, dict]:
    """``out/state.pt`` and its content, read with ``weights_only=True``; one-line error when there is none."""
    path = out / "state.pt"
    if not path.is_file():
        raise InputError(path, "nothing to resume: no state.pt in the output folder")
    return path, torch.load(path, map_location="cpu", weights_only=True)


@dataclass(frozen=True)
class DataConfig:
    """Where the pairs come from.

    Attributes:
        layout: ``aist`` (motions/, splits/, music) or ``cliff`` (CLIFF_output/{split}/npz + one song).
        root: the dataset folder. music: AIST++ music folder (default root/music) or the CLIFF song (default: the
            one audio file in root). resolution: positions per beat for AIST++ (4th, 8th, 16th).
        cache: decoded-audio cache folder.
    """

    layout: str
    root: Path
    cache: Path
    music: Path | None = None
    resolution: str = "4th"

    def pairs(self, split: str) -> PairSet:
        """The pairs of ``split`` (train, val, test)."""
        from model.training.aist import aist_pairs
        from model.training.cliff import cliff_pairs

        cache = SongCache(self.cache)
        if self.layout == "aist":
            return aist_pairs(self.root, split, cache, self.resolution, self.music)
        if self.layout == "cliff":
            return cliff_pairs(self.root, split, cache, self.music)
        raise InputError(None, f"unknown layout {self.layout!r}: choose aist or cliff")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Steps are optimiser steps (``batch_size * accumulate * world`` windows each)."""

    init: Path
    data: DataConfig
    out: Path
    method: MethodConfig = field(default_factory=MethodConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    batch_size: int = 16
    accumulate: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    max_steps: int = 3000
    eval_every: int = 200
    patience: int = 5
    recall_k: int = 1
    log_every: int = 10
    workers: int = 2
    eval_batch: int = 32
    seed: int = 0
    precision: str = "auto"
    device: str | None = None
    resume: bool = False


@dataclass(frozen=True)
class Distributed:
    """This process's place in a ``torchrun`` job (rank 0 of 1 without one)."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def start_distributed(device: str | None) -> Distributed:
    """Join the ``torchrun`` process group when ``WORLD_SIZE`` > 1 (NCCL on CUDA, else gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if chosen.type == "cuda" and chosen.index is None:
        chosen = torch.device("cuda", local)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    return Distributed(int(os.environ.get("RANK", "0")), world, chosen)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bfloat16/float16 for CUDA autocast, None for float32 (``auto``: bfloat16 where supported, else float16)."""
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise InputError(None, f"unknown precision {precision!r}: choose auto, fp32, bf16 or fp16")
    if device.type != "cuda" or precision == "fp32":
        if precision in ("bf16", "fp16"):
            raise InputError(None, f"--precision {precision} needs a CUDA device, got {device}")
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def warmup_cosine(warmup: int, total: int) -> Callable[[int], float]:
    """Learning-rate factor at a step: linear 0 -> 1 over ``warmup`` steps, then cosine 1 -> 0 at ``total``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def make_optimizer(prepared: Prepared, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices only (not on biases, norms or ``logit_scale``)."""
    params = list(prepared.trainable().values())
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr)


class Trainer:
    """Owns the model, optimiser and data of one run; :meth:`run` trains to the end or to early stopping."""

    def __init__(self, config: TrainConfig) -> None:
        if config.batch_size < 2:
            raise InputError(None, f"--batch-size must be at least 2 (the loss contrasts poses in a batch), "
                                   f"got {config.batch_size}")
        self.config = config
        self.place = start_distributed(config.device)
        self.autocast = autocast_dtype(config.precision, self.place.device)
        torch.manual_seed(config.seed)
        network = initial_network(load_source(config.init), config.method)
        self.prepared = prepare(network, config.method)
        self.prepared.module.to(self.place.device)
        self.optimizer = make_optimizer(self.prepared, config)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_cosine(config.warmup_steps, config.max_steps))
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast == torch.float16)
        self.step, self.best, self.best_step, self.stale = 0, -1.0, 0, 0
        self.train_pairs = config.data.pairs("train")
        self.val_pairs = config.data.pairs("val") if self.place.main else None
        if config.resume:
            self.load_state()
        self.module = (DistributedDataParallel(self.prepared.module, device_ids=[self.place.device.index]
                                               if self.place.device.type == "cuda" else None)
                       if self.place.world > 1 else self.prepared.module)

    @property
    def trainable_count(self) -> int:
        """Trainable parameters of the chosen method."""
        return sum(p.numel() for p in self.prepared.trainable().values())

    def run(self, until: int | None = None) -> dict[str, float | int]:
        """Train from the current step to ``max_steps`` (or early stopping, or step ``until``, validating and saving
        there: a session of a longer run that ``--resume`` continues); returns the summary."""
        config = self.config
        until = config.max_steps if until is None else min(until, config.max_steps)
        writer = self.tensorboard()
        batches = training_loader(self.train_pairs, config.batch_size, config.seed, config.workers,
                                  self.step * config.accumulate, self.place.rank, self.place.world)
        windows_per_step = config.batch_size * config.accumulate * self.place.world
        started, last_logged = time.perf_counter(), self.step
        stop = False
        while self.step < until and not stop:
            parts = self.optimisation_step(batches)
            self.step += 1
            if writer is not None and self.step % config.log_every == 0:
                rate = windows_per_step * (self.step - last_logged) / (time.perf_counter() - started)
                self.log(writer, parts, rate)
                started, last_logged = time.perf_counter(), self.step
            if self.step % config.eval_every == 0 or self.step == until:
                stop = self.validate(writer)
        if writer is not None:
            writer.close()
        return self.summary()

    def optimisation_step(self, batches: Iterator) -> dict[str, float]:
        """One optimiser step over ``accumulate`` micro-batches; returns the last micro-batch's loss parts."""
        self.prepared.set_training(True)
        self.optimizer.zero_grad(set_to_none=True)
        parts: dict[str, float] = {}
        for micro in range(self.config.accumulate):
            windows, targets, pose_ids = (t.to(self.place.device, non_blocking=True) for t in next(batches))
            last = micro == self.config.accumulate - 1
            sync = contextlib.nullcontext() if last or self.place.world == 1 else self.module.no_sync()
            with sync:
                with self.autocast_context():
                    predicted = self.module(windows)
                loss, parts = training_loss(predicted, targets, pose_ids, self.prepared.network.logit_scale,
                                            self.config.loss)
                self.scaler.scale(loss / self.config.accumulate).backward()
        self.scaler.unscale_(self.optimizer)
        parts["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.prepared.trainable().values(), GRAD_CLIP))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return parts

    def autocast_context(self) -> contextlib.AbstractContextManager:
        return (torch.autocast(self.place.device.type, dtype=self.autocast) if self.autocast is not None
                else contextlib.nullcontext())

    def validation_recall(self) -> float:
        """Recall@``recall_k`` of the true pose among the validation split's distinct poses."""
        self.prepared.set_training(False)
        model = EdsaModel(self.prepared.network, self.place.device, autocast=self.autocast,
                          batch_size=self.config.eval_batch)
        queries = embed_pairs(model.embed_tensor, self.val_pairs, self.config.eval_batch, self.config.workers)
        gallery, truth = self.val_pairs.gallery()
        ranks = ranks_of(model_scores(queries, gallery, model.logit_scale), truth)
        return float((ranks <= self.config.recall_k).mean())

    def validate(self, writer) -> bool:
        """Validate and save on rank 0; returns whether to stop early (agreed by every rank)."""
        stop = torch.zeros(1, device=self.place.device)
        if self.place.main:
            recall = self.validation_recall()
            if recall > self.best:
                self.best, self.best_step, self.stale = recall, self.step, 0
                save_checkpoint(self.prepared.export(), self.config.out / "best.chkpt")
            else:
                self.stale += 1
            save_checkpoint(self.prepared.export(), self.config.out / "last.chkpt")
            self.save_state()
            writer.add_scalar(f"val/recall@{self.config.recall_k}", recall, self.step)
            print(f"step {self.step}: val R@{self.config.recall_k} {recall:.3f} (best {self.best:.3f} at step "
                  f"{self.best_step})", flush=True)
            stop[0] = float(0 < self.config.patience <= self.stale)
        if self.place.world > 1:
            dist.broadcast(stop, 0)
        return bool(stop.item())

    def tensorboard(self):
        """A SummaryWriter into ``out/tensorboard`` on rank 0, None elsewhere."""
        if not self.place.main:
            return None
        from torch.utils.tensorboard import SummaryWriter

        self.config.out.mkdir(parents=True, exist_ok=True)
        return SummaryWriter(str(self.config.out / "tensorboard"), purge_step=self.step or None)

    def log(self, writer, parts: dict[str, float], windows_per_s: float) -> None:
        for name, value in parts.items():
            writer.add_scalar(f"train/{name}", value, self.step)
        writer.add_scalar("train/lr", self.scheduler.get_last_lr()[0], self.step)
        writer.add_scalar("train/logit_scale", float(self.prepared.network.logit_scale.detach()), self.step)
        writer.add_scalar("train/windows_per_s", windows_per_s, self.step)

    def save_state(self) -> None:
        """Write ``state.pt`` (atomically) for ``--resume``."""
        state = {
            "trainable": {name: p.detach().cpu() for name, p in self.prepared.trainable().items()},
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(), "step": self.step, "best": self.best, "best_step": self.best_step,
            "stale": self.stale, "cpu_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }
        write_resume_state(self.config.out, state, self.summary())

    def load_state(self) -> None:
        """Continue from ``out/state.pt``."""
        path, state = read_resume_state(self.config.out)
        trainable = self.prepared.trainable()
        if set(state["trainable"]) != set(trainable):
            raise InputError(path, "was written for another method or architecture (trainable tensors differ)")
        with torch.no_grad():
            for name, tensor in state["trainable"].items():
                trainable[name].copy_(tensor)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.best, self.best_step, self.stale = (state[k] for k in ("step", "best", "best_step", "stale"))
        torch.set_rng_state(state["cpu_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])

    def summary(self) -> dict[str, float | int]:
        return {"config": asdict(self.config), "trainable_parameters": self.trainable_count, "step": self.step,
                f"best_val_recall@{self.config.recall_k}": self.best, "best_step": self.best_step,
                "train_pairs": len(self.train_pairs), "val_pairs": len(self.val_pairs) if self.val_pairs else None}

