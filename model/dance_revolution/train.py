"""Training Dance Revolution as the reference does (v2/train.py): L1 loss, Adam (constant lr, no clipping), the
dynamic auto-condition curriculum (``p = int(epoch * lambda)`` predicted steps then ``q`` ground-truth steps), random
N(0, 1) LSTM states per batch; plus what the reference lacks: resume, TensorBoard, mixed precision on CUDA and DDP
under ``torchrun`` (helpers shared with :mod:`model.training.trainer`), a progress bar, feature normalisation.

A window of S rows gives S - 1 steps: inputs music rows 0..S-2 (positions 1..S-1) and poses 0..S-2, targets poses
1..S-1. Each epoch visits every window once in an order drawn from ``(seed, epoch)``; under DDP each rank takes every
world-th window of that order.

Files in the output folder:
- ``epoch_N.pt`` (epoch 1 and every ``save_every``) and ``last.pt``: the reference's checkpoint layout
  (``module.`` keys, ``args``, ``epoch``) plus the feature normalisation; ``main.py generate --checkpoint`` reads them;
- ``state.pt``: what ``--resume`` needs (weights, optimizer, scaler, epoch, RNG state);
- ``tensorboard/``: L1 per epoch, the curriculum's p, windows per second; ``summary.json``.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from common.errors import InputError
from model.dance_revolution.checkpoint import save_dance_checkpoint
from model.dance_revolution.data import DanceSequence, cut_windows, read_json2d
from model.dance_revolution.features import FeatureNorm
from model.dance_revolution.network import DanceRevolution, DanceRevolutionConfig
from model.training.trainer import autocast_dtype, read_resume_state, start_distributed, write_resume_state

LAYOUTS: tuple[str, ...] = ("json2d", "ballroom", "aist")
"""Dataset layouts ``--layout`` accepts."""


@dataclass(frozen=True)
class DanceTrainConfig:
    """One training run. Defaults: the reference (10000 epochs of batch 32 at lr 1e-4, seed 1234, saves every 500).

    Attributes:
        data: the dataset folder; layout: one of :data:`LAYOUTS`. out: output folder.
        model: architecture and curriculum (lambda = ``model.lambda_v``, q = ``model.condition_step``).
        normalise: fit per-column mean/std of the training features and store them (the reference does not).
    """

    data: Path
    out: Path
    layout: str = "json2d"
    model: DanceRevolutionConfig = field(default_factory=DanceRevolutionConfig)
    epochs: int = 10000
    batch_size: int = 32
    lr: float = 1e-4
    seed: int = 1234
    save_every: int = 500
    normalise: bool = True
    precision: str = "auto"
    device: str | None = None
    resume: bool = False
    progress: bool = True


def load_sequences(config: DanceTrainConfig) -> list[DanceSequence]:
    """The training dances of ``config.data`` in ``config.layout``."""
    if config.layout == "json2d":
        if config.model.pose_kind != "openpose2d":
            raise InputError(config.data, "the json2d layout holds 2D OpenPose dances: use --pose openpose2d")
        return read_json2d(config.data)
    if config.layout == "ballroom":
        from model.dance_revolution.ballroom import ballroom_sequences

        if config.model.pose_kind != "smpl6d":
            raise InputError(config.data, "the ballroom layout is fitted to SMPL: use --pose smpl6d")
        return ballroom_sequences(config.data)
    if config.layout == "aist":
        from model.dance_revolution.aist import aist_sequences

        if config.model.pose_kind != "smpl6d":
            raise InputError(config.data, "the aist layout holds SMPL motion: use --pose smpl6d")
        return aist_sequences(config.data, "train")
    raise InputError(None, f"unknown layout {config.layout!r}: choose {', '.join(LAYOUTS)}")


class DanceTrainer:
    """Owns the network, optimiser and windows of one run; :meth:`run` trains epoch by epoch."""

    def __init__(self, config: DanceTrainConfig) -> None:
        if config.batch_size < 1 or config.epochs < 1 or config.save_every < 1:
            raise InputError(None, "--batch-size, --epochs and --save-every must be positive")
        self.config = config
        self.place = start_distributed(config.device)
        self.autocast = autocast_dtype(config.precision, self.place.device)
        torch.manual_seed(config.seed)
        self.network = DanceRevolution(config.model).to(self.place.device)
        music, poses = cut_windows(load_sequences(config), config.model.seq_len)
        if music.shape[1] - 1 > config.model.max_seq_len:
            raise InputError(None, f"--seq-len {config.model.seq_len} exceeds --max-seq-len {config.model.max_seq_len}")
        self.norm = (FeatureNorm.fit(music.reshape(-1, music.shape[-1])) if config.normalise
                     else FeatureNorm.identity(music.shape[-1]))
        self.music = torch.from_numpy(self.norm.apply(music))
        self.poses = torch.from_numpy(poses.astype(np.float32))
        self.optimizer = torch.optim.Adam([p for p in self.network.parameters() if p.requires_grad], lr=config.lr)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast == torch.float16)
        self.epoch = 0
        self.history: list[float] = []
        if config.resume:
            self.load_state()
        self.module = (DistributedDataParallel(self.network, device_ids=[self.place.device.index]
                                               if self.place.device.type == "cuda" else None)
                       if self.place.world > 1 else self.network)

    @property
    def windows(self) -> int:
        return len(self.music)

    def run(self, until: int | None = None) -> dict[str, object]:
        """Train from the current epoch to ``epochs`` (or to epoch ``until``, saving there: a session that
        ``--resume`` continues); returns the summary."""
        config = self.config
        until = config.epochs if until is None else min(until, config.epochs)
        writer = self.tensorboard()
        bar = None
        if self.place.main and config.progress:
            from tqdm import tqdm

            bar = tqdm(total=until, initial=self.epoch, unit="epoch", dynamic_ncols=True)
        while self.epoch < until:
            started = time.perf_counter()
            loss = self.train_epoch(self.epoch + 1)
            self.epoch += 1
            self.history.append(loss)
            if writer is not None:
                writer.add_scalar("train/l1", loss, self.epoch)
                writer.add_scalar("train/predicted_steps_p", int(self.epoch * config.model.lambda_v), self.epoch)
                writer.add_scalar("train/windows_per_s", self.windows / (time.perf_counter() - started), self.epoch)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(l1=f"{loss:.4f}", p=int(self.epoch * config.model.lambda_v))
            if self.place.main and (self.epoch == 1 or self.epoch % config.save_every == 0 or self.epoch == until):
                self.save(numbered=self.epoch == 1 or self.epoch % config.save_every == 0)
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
        return self.summary()

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """This rank's window indices for ``epoch`` (the same permutation on every rank and after a resume)."""
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
        return torch.randperm(self.windows, generator=generator)[self.place.rank :: self.place.world]

    def train_epoch(self, epoch: int) -> float:
        """One pass over the windows; returns the mean L1 over its batches."""
        self.network.train()
        order = self.epoch_order(epoch)
        losses = []
        for start in range(0, len(order), self.config.batch_size):
            chosen = order[start : start + self.config.batch_size]
            losses.append(self.optimisation_step(epoch, self.music[chosen], self.poses[chosen]))
        return float(np.mean(losses)) if losses else float("nan")

    def optimisation_step(self, epoch: int, music: torch.Tensor, poses: torch.Tensor) -> float:
        """One Adam step on a batch of windows (B, S, F) and (B, S, P): the reference's ``train_epoch`` body."""
        device = self.place.device
        music, poses = music.to(device), poses.to(device)
        batch, rows = music.shape[:2]
        positions = torch.arange(1, rows, device=device).expand(batch, -1)
        state = self.network.initial_state(batch)
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast_context():
            predicted = self.module(music[:, :-1], positions, poses[:, :-1], state, self.network.bos(batch), epoch)
        loss = torch.nn.functional.l1_loss(predicted.float(), poses[:, 1:])
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach())

    def autocast_context(self) -> contextlib.AbstractContextManager:
        return (torch.autocast(self.place.device.type, dtype=self.autocast) if self.autocast is not None
                else contextlib.nullcontext())

    def tensorboard(self):
        """A SummaryWriter into ``out/tensorboard`` on rank 0, None elsewhere."""
        if not self.place.main:
            return None
        from torch.utils.tensorboard import SummaryWriter

        self.config.out.mkdir(parents=True, exist_ok=True)
        return SummaryWriter(str(self.config.out / "tensorboard"), purge_step=self.epoch or None)

    def save(self, numbered: bool) -> None:
        """Write ``last.pt`` (and ``epoch_N.pt``), then ``state.pt`` and ``summary.json`` (each atomically)."""
        out = self.config.out
        out.mkdir(parents=True, exist_ok=True)
        save_dance_checkpoint(self.network, out / "last.pt", self.epoch, self.norm)
        if numbered:
            save_dance_checkpoint(self.network, out / f"epoch_{self.epoch}.pt", self.epoch, self.norm)
        state = {"network": {k: v.detach().cpu() for k, v in self.network.state_dict().items()},
                 "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(), "epoch": self.epoch,
                 "history": torch.tensor(self.history, dtype=torch.float64), "cpu_rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
        write_resume_state(out, state, self.summary())

    def load_state(self) -> None:
        """Continue from ``out/state.pt`` (same configuration required)."""
        path, state = read_resume_state(self.config.out)
        expected = self.network.state_dict()
        if set(state["network"]) != set(expected) or any(state["network"][k].shape != v.shape
                                                         for k, v in expected.items()):
            raise InputError(path, "was written for another architecture (weights differ in names or shapes)")
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.history = [float(x) for x in state["history"]]
        torch.set_rng_state(state["cpu_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])

    def summary(self) -> dict[str, object]:
        return {"config": asdict(self.config), "epoch": self.epoch, "windows": self.windows,
                "trainable_parameters": sum(p.numel() for p in self.network.parameters() if p.requires_grad),
                "l1_first": self.history[0] if self.history else None,
                "l1_last": self.history[-1] if self.history else None}
