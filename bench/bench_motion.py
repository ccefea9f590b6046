"""Cost and smoothness of the motion modes side by side: milliseconds per rendered frame (advance + frame_at), the
time a live mode switch takes, the peak joint acceleration and the pelvis' travel, on a synthetic 120 BPM song with a
bank pose on every beat (the bundled bank) and a steady level.

Usage: python bench/bench_motion.py [--seconds S]. Writes bench/results/motion.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from common.paths import DEFAULT_BANK, REPO_ROOT  # noqa: E402
from live.events import BeatTick, Latency, PoseEvent  # noqa: E402
from motion.energy import AudioLevel  # noqa: E402
from motion.frame import bank_rotvecs  # noqa: E402
from motion.ik import forward_kinematics, local_matrices, skeleton_of  # noqa: E402
from motion.player import MotionPlayer  # noqa: E402
from motion.source import MODEL_FREE_MOTION, MotionSetup  # noqa: E402
from pose_db.bank import PoseBank  # noqa: E402
from pose_db.body import load_body  # noqa: E402

BPM = 120.0
FPS = 30.0


def song_log(seconds: float, bank_size: int) -> list[tuple[float, object]]:
    """A tick 50 ms after each beat, a pose event 0.3 s before each beat, a level every 20 ms."""
    period, log = 60.0 / BPM, []
    for k, beat in enumerate(np.arange(0.0, seconds, period)):
        log.append((beat + 0.05, BeatTick(float(beat), float(beat) + 0.05, BPM)))
        index = (37 * k) % bank_size
        log.append((beat - 0.3, PoseEvent(k, float(beat), 0, 0.0, 0.0, float(beat), 0.0, (index,), (1.0,), "bench",
                                          "predictive", BPM, 0, Latency(0.0, 0.0, 0.0))))
    log += [(float(t), AudioLevel(float(t), 0.7, 0.8 if t % period < 0.02 else 0.1))
            for t in np.arange(0.0, seconds, 0.02)]
    return sorted(log, key=lambda entry: entry[0])


def run(setup: MotionSetup, mode: str, log, seconds: float) -> dict[str, float]:
    player, i, times, positions = MotionPlayer(setup, mode), 0, [], []
    for t in np.arange(1.0, seconds, 1.0 / FPS):
        while i < len(log) and log[i][0] <= t:
            player.post(log[i][1], log[i][0])
            i += 1
        started = time.perf_counter()
        frame = player.sample(float(t))
        times.append(time.perf_counter() - started)
        positions.append(forward_kinematics(local_matrices(frame.rotvecs()), frame.root_m, setup.skeleton)[1])
    started = time.perf_counter()
    player.switch(MODEL_FREE_MOTION[1] if mode == MODEL_FREE_MOTION[0] else MODEL_FREE_MOTION[0], seconds)
    player.sample(seconds)
    switch_ms = 1000 * (time.perf_counter() - started)
    pos = np.stack(positions)
    acc = np.linalg.norm(np.diff(pos, 2, axis=0) * FPS * FPS, axis=-1)
    ms = 1000 * np.array(times)
    return {"mode": mode, "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "switch_ms": switch_ms, "peak_acc_m_s2": float(acc.max()),
            "pelvis_range_cm": (100 * np.ptp(pos[:, 0], axis=0)).round(1).tolist()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    bank = PoseBank.open(DEFAULT_BANK)
    setup = MotionSetup(bank_rotvecs(bank.vectors), skeleton_of(load_body()))
    log = song_log(args.seconds, len(bank))
    rows = [run(setup, mode, log, args.seconds) for mode in MODEL_FREE_MOTION]
    out = REPO_ROOT / "bench" / "results" / "motion.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print("| mode | p50 ms/frame | p99 ms/frame | switch ms | peak joint acc m/s^2 | pelvis range x,y,z cm |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['switch_ms']:.0f} | "
              f"{r['peak_acc_m_s2']:.1f} | {r['pelvis_range_cm']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
