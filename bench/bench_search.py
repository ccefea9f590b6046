"""Pose bank search speed: top-10 for 1 and 64 queries at 10k / 100k / 1M rows, brute force and FAISS, plus the time
to open a 1M-row bank. Random banks are written with ``write_bank`` to a temporary folder.

    python bench/bench_search.py [--sizes 10000 100000 1000000] [--device cpu] [--repeats 5]

Prints a table and writes ``bench/results/search.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pose_db.bank import PoseBank, write_bank  # noqa: E402
from pose_db.search import PoseSearcher  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "search.json"
TOP_K = 10
QUERY_COUNTS = (1, 64)
SCALE = 2.5


def best_of(repeats: int, action: Callable[[], object]) -> float:
    """Fastest of ``repeats`` runs of ``action``, in milliseconds (after one warm-up run)."""
    action()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def random_bank(folder: Path, rows: int, seed: int) -> Path:
    """Write a bank of ``rows`` random pose vectors under ``folder``."""
    vectors = np.random.default_rng(seed).normal(size=(rows, 82)).astype(np.float32)
    return write_bank(folder / f"bank_{rows}", vectors, names=[f"r{i}" for i in range(rows)], sources=["bench"] * rows,
                      frame_ids=np.arange(rows), info={"importer": "bench"})


def bench_size(path: Path, rows: int, device: str, repeats: int) -> list[dict]:
    """Rows of the result table for one bank size: each method x query count."""
    bank = PoseBank.open(path)
    queries = np.random.default_rng(rows).normal(scale=0.2, size=(max(QUERY_COUNTS), 82)).astype(np.float32)
    records = []
    for method, threshold in (("brute-force", rows), ("faiss", 0)):
        start = time.perf_counter()
        searcher = PoseSearcher(bank, device, brute_force_max_rows=threshold)
        build_ms = 1000 * (time.perf_counter() - start)
        for count in QUERY_COUNTS:
            ms = best_of(repeats, lambda: searcher.search(queries[:count], TOP_K, scale=SCALE))
            records.append({"rows": rows, "method": method, "queries": count, "build_ms": round(build_ms, 1),
                            "search_ms": round(ms, 3), "ms_per_query": round(ms / count, 4)})
    return records


def time_open(path: Path, repeats: int) -> float:
    """Milliseconds to open the bank at ``path`` (headers only; entry data stays on disk)."""
    return best_of(repeats, lambda: PoseBank.open(path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--device", default="cpu", help="torch device for the brute-force path")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    records, open_ms = [], {}
    with tempfile.TemporaryDirectory(prefix="dancepose-bench-") as tmp:
        for rows in args.sizes:
            start = time.perf_counter()
            path = random_bank(Path(tmp), rows, seed=rows)
            print(f"wrote a {rows}-row bank in {time.perf_counter() - start:.1f} s", flush=True)
            open_ms[rows] = round(time_open(path, args.repeats), 3)
            records += bench_size(path, rows, args.device, args.repeats)
    print(f"\n{'rows':>9} {'method':>12} {'queries':>7} {'build ms':>9} {'search ms':>10} {'ms/query':>9}")
    for r in records:
        print(f"{r['rows']:>9} {r['method']:>12} {r['queries']:>7} {r['build_ms']:>9.1f} {r['search_ms']:>10.2f} "
              f"{r['ms_per_query']:>9.3f}")
    print("\nPoseBank.open: " + ", ".join(f"{rows} rows {ms:.2f} ms" for rows, ms in open_ms.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "top_k": TOP_K, "scale": SCALE, "device": args.device, "repeats": args.repeats,
        "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.platform(),
        "processor": platform.processor(), "open_ms": open_ms, "search": records,
    }, indent=1) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
