"""EDSA network latency and reduced-precision agreement on real music: per-call p50/p99 milliseconds at batch 1
and 16 in float32 and under bf16 and fp16 autocast, and how many of each window's top-5 bank poses under autocast
are also in the float32 top 5.

Windows come from the bundled demo song (``assets/demo/demo_song.flac``, cut on its beat grid like the offline
pipeline); poses from the bundled bank. The network is the full published architecture with seeded random weights
(or ``--checkpoint``): the timing and the numerical agreement do not depend on training.

Usage: python bench/bench_model_precision.py [--device cuda|cpu] [--runs N] [--checkpoint PATH] [--json PATH].
``--device cpu`` is a smoke run (a tiny network, CPU bf16 autocast only, a few runs) that checks the script works.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common.paths import DEFAULT_BANK, DEMO_SONG  # noqa: E402
from model.network import EdsaConfig, EdsaModel, EdsaNetwork  # noqa: E402
from offline.pipeline import analyse_song  # noqa: E402
from pose_db.bank import PoseBank  # noqa: E402

BATCHES = (1, 16)
TOP_K = 5
SMOKE_CONFIG = EdsaConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=4, intermediate_size=128,
                          conv_dim=(32,) * 7, num_conv_pos_embedding_groups=4, adapter_bottleneck=8)
"""A tiny network for the CPU smoke run (same code paths, seconds instead of minutes)."""


def top_k(embeddings: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """(Q, TOP_K) bank indices ranked by cosine to the normalised bank rows (the product's ranking)."""
    logits = embeddings @ (bank / np.linalg.norm(bank, axis=1, keepdims=True)).T
    return np.argsort(-logits, axis=1, kind="stable")[:, :TOP_K]


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Mean share of each row's top-k indices in ``a`` that are also in that row of ``b``."""
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b)]))


def latency_ms(embed: Callable[[np.ndarray], np.ndarray], windows: np.ndarray, runs: int) -> dict[str, float]:
    """p50 and p99 wall milliseconds per call (results copied back to the host, so the GPU has finished)."""
    embed(windows)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        embed(windows)
        times.append(1000 * (time.perf_counter() - start))
    return {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99)), "runs": runs}


def embedders(network: EdsaNetwork, device: torch.device) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """float32 and the autocast variants available on ``device`` (CPU: bf16 through torch.autocast)."""
    fp32 = EdsaModel(network, device=device)
    if device.type == "cuda":
        return {"fp32": fp32.embed,
                "bf16 autocast": EdsaModel(network, device=device, autocast=torch.bfloat16).embed,
                "fp16 autocast": EdsaModel(network, device=device, autocast=torch.float16).embed}

    def cpu_bf16(audio: np.ndarray) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return fp32.embed(audio)

    return {"fp32": fp32.embed, "bf16 autocast (cpu)": cpu_bf16}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--runs", type=int, default=None, help="timed calls per row (default 100; 3 on cpu)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="trained weights (default: seeded random)")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "model_precision.json")
    args = parser.parse_args()
    device = torch.device(args.device)
    smoke = device.type == "cpu"
    runs = args.runs or (3 if smoke else 100)
    torch.manual_seed(0)
    if args.checkpoint is not None:
        from model import load_model

        network = load_model(args.checkpoint).torch_module
    else:
        network = EdsaNetwork(SMOKE_CONFIG if smoke else EdsaConfig()).eval()
    windows = analyse_song(DEMO_SONG, "8th").windows
    windows = windows[: 8 if smoke else 64]
    bank = np.asarray(PoseBank.open(DEFAULT_BANK).vectors, np.float32)
    rows, reference = [], None
    for name, embed in embedders(network, device).items():
        ranked = top_k(embed(windows), bank)
        reference = ranked if reference is None else reference
        for batch in BATCHES:
            rows.append({"precision": name, "batch": batch, **latency_ms(embed, windows[:batch], runs),
                         f"top{TOP_K}_agreement_vs_fp32": agreement(ranked, reference)})
    result = {"device": str(device), "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
              "torch": torch.__version__, "windows": len(windows), "song": DEMO_SONG.name, "smoke": smoke,
              "rows": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(f"| precision | batch | p50 ms | p99 ms | top-{TOP_K} agreement vs fp32 |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['precision']} | {r['batch']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r[f'top{TOP_K}_agreement_vs_fp32']:.0%} |")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
