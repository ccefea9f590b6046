"""Training throughput of the full-size model (MERT-v1-95M architecture + EDSA), in windows per second, per method.

Random weights and random normalised windows (the speed does not depend on the values; data loading runs in
background workers and is not measured). One optimiser step = forward, contrastive loss, backward, AdamW.

    .venv/bin/python bench/bench_train.py [--device cuda] [--batch 8] [--steps 5] [--methods edsa,linear]

Writes bench/results/train_<device>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.network import EdsaConfig, EdsaNetwork  # noqa: E402
from model.training.losses import LossConfig, training_loss  # noqa: E402
from model.training.methods import METHODS, MethodConfig, initial_network, prepare  # noqa: E402
from model.training.trainer import autocast_dtype  # noqa: E402


def throughput(method: str, device: torch.device, batch: int, steps: int) -> dict[str, float]:
    """Windows per second and trainable parameters of one method (one warm-up step, then ``steps`` timed)."""
    torch.manual_seed(0)
    config = MethodConfig(method=method)
    prepared = prepare(initial_network(EdsaNetwork(EdsaConfig(adapter_layers=())), config), config)
    prepared.module.to(device)
    prepared.set_training(True)
    optimizer = torch.optim.AdamW(prepared.trainable().values(), lr=1e-4)
    amp = autocast_dtype("auto", device)
    windows = torch.randn(batch, EdsaConfig.input_samples, device=device)
    targets = torch.randn(batch, 82, device=device)
    ids = torch.arange(batch, device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp) if amp else contextlib.nullcontext():
            predicted = prepared.module(windows)
        loss, _ = training_loss(predicted, targets, ids, prepared.network.logit_scale, LossConfig())
        loss.backward()
        optimizer.step()

    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {"windows_per_s": batch * steps / seconds, "s_per_step": seconds / steps,
            "trainable_parameters": sum(p.numel() for p in prepared.trainable().values()),
            "precision": str(amp or torch.float32)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    results = {}
    print(f"{name}, batch {args.batch}, torch threads {torch.get_num_threads()}")
    print(f"{'method':<11}{'trainable':>12}{'windows/s':>11}{'s/step':>9}")
    for method in args.methods.split(","):
        results[method] = throughput(method, device, args.batch, args.steps)
        r = results[method]
        print(f"{method:<11}{r['trainable_parameters']:>12,}{r['windows_per_s']:>11.2f}{r['s_per_step']:>9.3f}",
              flush=True)
    out = Path(__file__).parent / "results" / f"train_{device.type}.json"
    out.write_text(json.dumps({"device": name, "batch": args.batch, "steps": args.steps,
                               "threads": torch.get_num_threads(), "results": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
