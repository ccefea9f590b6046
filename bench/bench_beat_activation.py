"""CPU cost of the learned beat activation on the live path: per frame, and as a share of one core at real time.

    .venv/bin/python bench/bench_beat_activation.py [--weights assets/beats/beat_activation.npz] [--seconds 30]

Feeds ``--seconds`` of synthetic drums hop by hop, as the live engine does, at 22.05, 44.1 and 48 kHz, through:
the features alone (:class:`live.beat_features.BeatFeatures`), the whole activation
(:class:`live.beat_activation.BeatActivation`: features + network), and, side by side, the current DSP tracker
(``OnlineBeatTracker``, backend ``cumscore``: onset function + tempo + beat decisions) fed the same audio. Times are
CPU seconds of this process (``time.process_time``, which a busy machine inflates less than wall time); "% core" is
the CPU time per second of audio. Also the import time of ``live.beat_activation`` and the whole-file
``process`` speed. Prints a table and writes bench/results/beat_activation.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from live.beat_activation import DEFAULT_WEIGHTS, BeatActivation  # noqa: E402
from live.beat_features import BeatFeatures  # noqa: E402
from live.beat_tracker import BeatTrackerConfig, OnlineBeatTracker  # noqa: E402

RESULTS: Path = REPO / "bench" / "results" / "beat_activation.json"
RATES: tuple[int, ...] = (22_050, 44_100, 48_000)


def drums(sample_rate: int, seconds: float) -> np.ndarray:
    """A 120 BPM kick/snare/hat loop over faint noise, float32 (L,)."""
    rng = np.random.default_rng(0)
    audio = (0.003 * rng.standard_normal(int(seconds * sample_rate))).astype(np.float32)
    t = np.arange(int(0.12 * sample_rate)) / sample_rate
    kick = 0.8 * np.sin(2 * np.pi * 60 * t) * np.exp(-t * 20)
    snare = 0.4 * rng.standard_normal(len(t)) * np.exp(-t * 40)
    for k, start in enumerate(np.arange(0.1, seconds - 0.2, 0.5)):
        i = int(start * sample_rate)
        audio[i : i + len(t)] += kick if k % 2 == 0 else snare
    return audio


def cpu_per_frame_s(step, hops: list[np.ndarray]) -> float:
    """CPU seconds per call of ``step`` over ``hops`` (after 50 warm-up calls)."""
    for hop in hops[:50]:
        step(hop)
    start = time.process_time()
    for hop in hops:
        step(hop)
    return (time.process_time() - start) / len(hops)


def import_time_s() -> float:
    """Wall seconds to import live.beat_activation in a fresh interpreter (numpy already imported)."""
    code = ("import time, numpy; t = time.perf_counter(); import live.beat_activation; "
            "print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    rows = []
    for rate in RATES:
        audio = drums(rate, args.seconds)
        act = BeatActivation.load(args.weights, sample_rate=rate)
        hops = [audio[i * act.hop : (i + 1) * act.hop] for i in range(len(audio) // act.hop)]
        tracker = OnlineBeatTracker(rate, BeatTrackerConfig(backend="cumscore"))
        cases = {"features": BeatFeatures(rate), "activation": act, "cumscore tracker": tracker.process}
        for name, step in cases.items():
            per_frame = cpu_per_frame_s(step, hops)
            rows.append({"rate_hz": rate, "case": name, "us_per_frame": per_frame * 1e6,
                         "core_pct": 100.0 * per_frame * act.frame_rate})
        start = time.process_time()
        act.process(audio)
        rows.append({"rate_hz": rate, "case": "activation, whole file", "us_per_frame":
                     (time.process_time() - start) / len(hops) * 1e6,
                     "core_pct": 100.0 * (time.process_time() - start) / args.seconds})
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.processor() or
              platform.machine(), "cpus": os.cpu_count(), "load_1min": os.getloadavg()[0],
              "weights": str(args.weights), "parameters": act.header.get("parameters"),
              "import_s": import_time_s(), "rows": rows}
    print(f"{result['date']}, {result['cpus']} CPUs, load {result['load_1min']:.1f}, {result['parameters']} parameters,"
          f" import {result['import_s'] * 1000:.0f} ms")
    print(f"{'rate':>7} {'case':<24} {'us/frame':>9} {'% core':>7}")
    for row in rows:
        print(f"{row['rate_hz']:>7} {row['case']:<24} {row['us_per_frame']:>9.1f} {row['core_pct']:>7.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
