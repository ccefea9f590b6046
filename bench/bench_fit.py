"""SMPL fitting of the ballroom markers (motion/fit.py): fit error per marker (mm) and fitting speed over a DANCES
folder in the ballroom layout (default ``../shared/data/ballroom``).

    nice -n 10 python bench/bench_fit.py [--data DIR] [--limit N] [--cache] [--metrics]

Fits every dance afresh (``--cache``: reuse and fill ``out/cache/fits``), prints the per-marker error table (mean,
median, 95th percentile over all frames) and the time per dance, and writes ``bench/results/fit.json``.
``--metrics`` also scores one half of the fitted dances against the other (motion/metrics.py): the noise floor that
generated motion is compared with.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from motion.dances import FIT_CACHE_DIR, fitted_motion, read_beats  # noqa: E402
from motion.fit import FitConfig, SkeletonFK  # noqa: E402
from motion.joint_files import list_joint_files, mapping_for, read_joint_file  # noqa: E402
from motion.metrics import DanceClip, score_dances  # noqa: E402
from pose_db.body import load_body  # noqa: E402

RESULTS: Path = REPO / "bench" / "results" / "fit.json"
DEFAULT_DATA: Path = REPO.parent / "shared" / "data" / "ballroom"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of joint-position .npz files")
    parser.add_argument("--limit", type=int, default=None, help="fit only the first N dances")
    parser.add_argument("--cache", action="store_true", help="reuse and fill out/cache/fits (times then mean little)")
    parser.add_argument("--metrics", action="store_true",
                        help="also score the fitted dances with motion/metrics.py: one half (alternate dances in name "
                             "order) against the other, the metrics' noise floor")
    args = parser.parse_args(argv)
    files = list_joint_files(args.data)[: args.limit]
    body = load_body()
    skeleton = SkeletonFK.from_body(body)
    config = FitConfig()
    errors, rows, names, clips = [], [], None, []
    start = time.perf_counter()
    for file in files:
        sequence = read_joint_file(file)
        mapping = mapping_for(sequence.names)
        began = time.perf_counter()
        fit = fitted_motion(sequence, mapping, skeleton, body.name, config=config,
                            cache_dir=FIT_CACHE_DIR if args.cache else None)
        seconds = time.perf_counter() - began
        names = fit.marker_names
        beats = file.with_name(f"{sequence.name}.beats.txt")
        clips.append(DanceClip(fit.joints, fit.fps, read_beats(beats) if beats.is_file() else None))
        errors.append(fit.marker_error_m * 1000)
        rows.append({"dance": sequence.name, "frames": len(fit.pose), "seconds": round(seconds, 2),
                     "mean_mm": round(float(fit.marker_error_m.mean() * 1000), 2)})
        print(f"{sequence.name:14s} {len(fit.pose):6d} frames {seconds:7.1f} s  mean {rows[-1]['mean_mm']:5.1f} mm",
              flush=True)
    total = time.perf_counter() - start
    every = np.concatenate(errors)  # (frames, markers) mm
    table = [{"marker": n, "mean_mm": round(float(every[:, m].mean()), 1),
              "median_mm": round(float(np.median(every[:, m])), 1),
              "p95_mm": round(float(np.percentile(every[:, m], 95)), 1)} for m, n in enumerate(names)]
    print(f"\n{'marker':16s} {'mean':>6s} {'median':>7s} {'p95':>6s}  (mm)")
    for row in table:
        print(f"{row['marker']:16s} {row['mean_mm']:6.1f} {row['median_mm']:7.1f} {row['p95_mm']:6.1f}")
    frames = sum(r["frames"] for r in rows)
    summary = {"dances": len(rows), "frames": frames, "minutes_of_motion": round(frames / 25 / 60, 1),
               "fit_seconds": round(total, 1), "frames_per_second": round(frames / total, 1),
               "mean_mm": round(float(every.mean()), 2), "median_mm": round(float(np.median(every)), 2),
               "p95_mm": round(float(np.percentile(every, 95)), 2)}
    print(f"{'all':16s} {summary['mean_mm']:6.1f} {summary['median_mm']:7.1f} {summary['p95_mm']:6.1f}")
    print(f"\n{frames} frames ({summary['minutes_of_motion']} min) in {total:.0f} s: {frames / total:.0f} frames/s"
          f"{' (cache used)' if args.cache else ''}")
    real = score_dances(clips[0::2], clips[1::2]).as_dict() if args.metrics and len(clips) >= 2 else None
    if real is not None:
        print("\nreal dances, odd half scored against the even half:")
        print("  ".join(f"{k} {v:.3g}" for k, v in real.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "load_average": os.getloadavg()},
        "config": asdict(config), "cache": args.cache, "summary": summary, "markers": table, "dances": rows,
        "real_half_vs_half": real,
    }, indent=1))
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
