"""Speed of the EDSA network (full published size, random weights): ms per 2.02 s snippet.

Rows: the product's fast path (eval, inference_mode, SDPA attention, last hidden state only, cached weight norm) at
batch 1 and batch 16, on the CPU for each thread count and, when there is one, on CUDA in float32 and under bf16
autocast; and a reference-style baseline (eager attention, output_hidden_states and output_attentions, all-ones mask,
batch 1) as music2danceposes' inference.py runs it. For information only, a CPU bf16-autocast row (the product does
not use it: it changes the embeddings by about 1%). Runs are interleaved so that load from other processes hits all
rows alike. The script also checks that the fast path and the baseline rank a random pose bank identically.

Usage: python bench/bench_model.py [--runs 5] [--threads 1,2]; writes bench/results/model.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.network import EdsaConfig, EdsaModel, EdsaNetwork  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "model.json"
BIG_BATCH = 16
TOP_K = 5
BANK_SIZE = 2000
CHECK_WINDOWS = 4


@dataclass(frozen=True)
class Row:
    """One timed configuration: median and fastest milliseconds per snippet over ``runs`` calls after a warm-up
    (the fastest is the better estimate on a machine shared with other jobs)."""

    name: str
    device: str
    threads: int
    batch: int
    ms_per_snippet: float
    ms_per_snippet_min: float
    runs: int


def windows(count: int, seed: int = 0) -> np.ndarray:
    """(count, 48480) float32 unit-variance noise standing in for normalised music windows."""
    return np.random.default_rng(seed).standard_normal((count, EdsaConfig().input_samples)).astype(np.float32)


def baseline_embed(network: EdsaNetwork) -> Callable[[np.ndarray], np.ndarray]:
    """The reference's way: one window per call, mask of ones, every hidden state and attention map returned."""

    def embed(audio: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            for row in audio:
                window = torch.from_numpy(row[None])
                out.append(network(window, attention_mask=torch.ones_like(window), output_hidden_states=True,
                                   output_attentions=True))
        return torch.cat(out).numpy()

    return embed


def reference_top_k(queries: np.ndarray, bank: np.ndarray, scale: float) -> np.ndarray:
    """logits = scale * q @ normalize(bank)^T, ranked descending: (Q, TOP_K) indices."""
    logits = scale * queries @ (bank / np.linalg.norm(bank, axis=1, keepdims=True)).T
    return np.argsort(-logits, axis=1, kind="stable")[:, :TOP_K]


def time_interleaved(calls: dict[str, tuple[Callable[[], object], int]], runs: int) -> dict[str, list[float]]:
    """Seconds per call for each named call; one warm-up each, then ``runs`` rounds that take turns."""
    for call, _ in calls.values():
        call()
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, (call, _) in calls.items():
            start = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def cpu_bf16_embed(model: EdsaModel) -> Callable[[np.ndarray], np.ndarray]:
    """The fast path under CPU bf16 autocast (AMX where present); information only, not a product setting."""

    def embed(audio: np.ndarray) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model.embed(audio)

    return embed


def bench_device(fast: EdsaNetwork, baseline: EdsaNetwork, device: torch.device, runs: int) -> list[Row]:
    """Rows for one device: on the CPU the baseline, fast fp32 and (information) bf16; on CUDA fast fp32 and bf16."""
    audio = windows(BIG_BATCH)
    model = EdsaModel(fast, device=device)
    embeds: dict[str, Callable[[np.ndarray], np.ndarray]] = {"fast fp32": model.embed}
    if device.type == "cuda":
        embeds["fast bf16 autocast"] = EdsaModel(fast, device=device, autocast=torch.bfloat16).embed
    else:
        embeds["(info) fast bf16 autocast"] = cpu_bf16_embed(model)
    calls: dict[str, tuple[Callable[[], object], int]] = {}
    if device.type == "cpu":
        reference = baseline_embed(baseline)
        calls["reference-style fp32"] = (lambda: reference(audio[:1]), 1)
    for name, embed in embeds.items():
        for batch in (1, BIG_BATCH):
            calls[f"{name}|{batch}"] = (lambda e=embed, b=batch: e(audio[:b]), batch)
    seconds = time_interleaved(calls, runs)
    threads = torch.get_num_threads() if device.type == "cpu" else 0
    return [Row(name.split("|")[0], str(device), threads, batch, 1000 * statistics.median(seconds[name]) / batch,
                1000 * min(seconds[name]) / batch, runs) for name, (_, batch) in calls.items()]


def ranking_check(fast: EdsaNetwork, baseline: EdsaNetwork) -> dict[str, object]:
    """Fast path vs baseline on a few windows: max embedding difference and whether top-k agrees exactly."""
    audio = windows(CHECK_WINDOWS, seed=1)
    bank = np.random.default_rng(2).standard_normal((BANK_SIZE, 82)).astype(np.float32)
    model = EdsaModel(fast)
    ours, bf16 = model.embed(audio), cpu_bf16_embed(model)(audio)
    theirs = baseline_embed(baseline)(audio)
    expected = reference_top_k(theirs, bank, model.logit_scale)
    return {
        "windows": CHECK_WINDOWS,
        "bank_size": BANK_SIZE,
        "top_k": TOP_K,
        "max_abs_embedding_diff": float(np.abs(ours - theirs).max()),
        "top_k_identical": bool((reference_top_k(ours, bank, model.logit_scale) == expected).all()),
        "info_cpu_bf16_top_k_agreement": float((reference_top_k(bf16, bank, model.logit_scale) == expected).mean()),
    }


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else the machine type."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.machine()


def print_table(rows: list[Row]) -> None:
    print(f"{'path':<26} {'device':<7} {'threads':>7} {'batch':>5} {'median ms/snippet':>18} {'min':>7}")
    for row in rows:
        print(f"{row.name:<26} {row.device:<7} {row.threads:>7} {row.batch:>5} {row.ms_per_snippet:>18.1f} "
              f"{row.ms_per_snippet_min:>7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed rounds per row (median reported)")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch CPU thread counts to time")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    thread_counts = [int(count) for count in args.threads.split(",")]
    torch.manual_seed(0)
    fast = EdsaNetwork(EdsaConfig()).eval()
    baseline = EdsaNetwork(EdsaConfig(), attn_implementation="eager").eval()
    baseline.load_state_dict(fast.state_dict())
    load_before = os.getloadavg()
    check = ranking_check(fast, baseline)
    rows = []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        rows += bench_device(fast, baseline, torch.device("cpu"), args.runs)
    if torch.cuda.is_available():
        rows += bench_device(fast, baseline, torch.device("cuda"), args.runs)
    print_table(rows)
    print(f"fast vs reference-style on {CHECK_WINDOWS} windows: max |diff| {check['max_abs_embedding_diff']:.2e}, "
          f"top-{TOP_K} identical: {check['top_k_identical']}; (info) CPU bf16 top-{TOP_K} agreement: "
          f"{check['info_cpu_bf16_top_k_agreement']:.0%}")
    result = {
        "architecture": asdict(EdsaConfig()),
        "torch": torch.__version__,
        "cpu": cpu_name(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "load_average_before_after": [load_before[0], os.getloadavg()[0]],
        "rows": [asdict(row) for row in rows],
        "ranking_check": check,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
