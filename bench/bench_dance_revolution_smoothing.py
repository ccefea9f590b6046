"""The smoothing cutoff of generated dances (:mod:`model.dance_revolution.smoothing`), chosen on the TRAINING dances
only.

Criterion: a filtered dance should be no jerkier than the real dances the model learned from. On each training
dance's own music (as ``train-dance`` reads the data set: its raw 15-fps feature rows, at most ``--seconds``), the
model generates a dance (``generate``'s path); for every candidate cutoff (a 0.25-Hz grid), the generated poses are filtered (zero phase as ``generate``
does, and causally as the live mode does), turned into joint positions on the mean-shape body and their jerk (mean
norm of the third difference, m/s^3 at 15 fps, pooled over dances) compared with the real training dances' jerk.
The chosen cutoff of each filter is the highest whose jerk does not exceed the real one. Also printed: the
frequencies under which 90/95/99 % of the real dances' pose-velocity power lies (Welch), and Bailando's mean kinetic
features (horizontal and vertical velocity energy, acceleration) per candidate.

The songs ``evaluate-dance`` scores on are never used here.

    nice -n 10 .venv/bin/python bench/bench_dance_revolution_smoothing.py out/dance_ballroom/last.pt \
        [--data ../shared/data/ballroom] [--layout ballroom|aist] [--seconds 60] [--json FILE]

Prints a table and writes bench/results/dance_revolution_smoothing.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from model.dance_revolution.smoothing import CausalSmoother, smooth_offline  # noqa: E402

RESULTS: Path = REPO / "bench" / "results" / "dance_revolution_smoothing.json"
BALLROOM: Path = REPO.parent / "shared" / "data" / "ballroom"
FPS: float = 15.0
CUTOFFS: tuple[float, ...] = tuple(np.round(np.arange(0.5, 7.01, 0.25), 2))


def joint_positions(vectors: np.ndarray, skeleton) -> np.ndarray:
    """(T, 147) model vectors -> (T, 24, 3) joint positions (metres)."""
    from model.dance_revolution.poses import vector_to_smpl
    from motion.ik import forward_kinematics, local_matrices

    pose, transl = vector_to_smpl(vectors)
    return np.stack([forward_kinematics(local_matrices(p.reshape(24, 3)), r, skeleton)[1]
                     for p, r in zip(pose, transl)])


def pooled_jerk(clips: list[np.ndarray]) -> float:
    from motion.metrics import jerk

    values = [jerk(c, FPS) for c in clips]
    return float(sum(v * n for v, n in values) / sum(n for _, n in values))


def kinetic(clips: list[np.ndarray]) -> list[float]:
    """Mean over 5-s windows and joints of the kinetic features: horizontal, vertical velocity energy, acceleration."""
    from motion.metrics import kinetic_features

    length = int(5 * FPS)
    rows = [kinetic_features(c[i:i + length], FPS).reshape(24, 3).mean(0)
            for c in clips for i in range(0, len(c) - length + 1, length)]
    return [round(float(v), 3) for v in np.mean(rows, axis=0)]


def causal(poses: np.ndarray, cutoff_hz: float) -> np.ndarray:
    smoother = CausalSmoother(cutoff_hz, FPS)
    return np.stack([smoother.push(p) for p in poses])


def velocity_power_cutoff(sequences: list[np.ndarray], share: float, segment: int = 128) -> float:
    """The frequency (Hz) below which ``share`` of the sequences' pose-velocity power lies (Welch spectra of the first
    differences of every channel, summed)."""
    from scipy.signal import welch

    total = 0.0
    for poses in sequences:
        freqs, power = welch(np.diff(poses, axis=0) * FPS, fs=FPS, nperseg=segment, axis=0)
        total = total + power.sum(axis=1)
    return float(freqs[np.searchsorted(np.cumsum(total) / np.sum(total), share)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--data", type=Path, default=BALLROOM, help="the data set the model trained on")
    parser.add_argument("--layout", choices=("ballroom", "aist"), default="ballroom",
                        help="its layout: ballroom (the usable dances) or aist (the crossmodal_train split)")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of each training dance used")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the results (default {RESULTS})")
    args = parser.parse_args()
    import torch

    from model.dance_revolution.aist import aist_sequences
    from model.dance_revolution.ballroom import ballroom_sequences
    from model.dance_revolution.checkpoint import load_dance_model
    from model.dance_revolution.generate import generate_rows
    from motion.ik import skeleton_of
    from pose_db.body import load_body

    torch.set_num_threads(1)
    started = time.perf_counter()
    skeleton = skeleton_of(load_body())
    loaded = load_dance_model(args.checkpoint)
    rows = int(args.seconds * FPS)
    sequences = ballroom_sequences(args.data) if args.layout == "ballroom" else aist_sequences(args.data, "train")
    real = [joint_positions(s.poses[:rows], skeleton) for s in sequences]
    generated = [generate_rows(loaded, s.music[:rows]) for s in sequences]
    real_jerk = pooled_jerk(real)
    table = [{"cutoff_hz": 0.0, "offline_jerk": pooled_jerk([joint_positions(g, skeleton) for g in generated]),
              "causal_jerk": None, "offline_kinetic": kinetic([joint_positions(g, skeleton) for g in generated])}]
    for cutoff in CUTOFFS:
        offline = [joint_positions(smooth_offline(g, FPS, cutoff), skeleton) for g in generated]
        live = [joint_positions(causal(g, cutoff), skeleton) for g in generated]
        table.append({"cutoff_hz": float(cutoff), "offline_jerk": pooled_jerk(offline),
                      "causal_jerk": pooled_jerk(live), "offline_kinetic": kinetic(offline),
                      "causal_kinetic": kinetic(live), "causal_delay_s": CausalSmoother(cutoff, FPS).delay_s})

    def chosen(key: str) -> float:
        return max((r["cutoff_hz"] for r in table[1:] if r[key] <= real_jerk), default=min(CUTOFFS))

    document = {
        "checkpoint": str(args.checkpoint), "dances": [s.name for s in sequences], "seconds": args.seconds,
        "real_jerk": real_jerk, "real_kinetic": kinetic(real),
        "velocity_power_cutoff_hz": {str(share): velocity_power_cutoff([s.poses for s in sequences], share)
                                     for share in (0.9, 0.95, 0.99)},
        "chosen_offline_hz": chosen("offline_jerk"), "chosen_causal_hz": chosen("causal_jerk"), "table": table,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "wall_s": time.perf_counter() - started,
    }
    print(f"training dances: {', '.join(document['dances'])}; real jerk {real_jerk:.1f} m/s^3 (15 fps), kinetic "
          f"{document['real_kinetic']}; velocity power under: {document['velocity_power_cutoff_hz']}")
    print(f"{'cutoff Hz':>9} {'offline jerk':>12} {'causal jerk':>11} {'causal delay s':>14}  offline kinetic")
    for r in table:
        causal_jerk = "-" if r["causal_jerk"] is None else f"{r['causal_jerk']:.1f}"
        delay = f"{r.get('causal_delay_s', 0.0):.3f}"
        print(f"{r['cutoff_hz']:>9.2f} {r['offline_jerk']:>12.1f} {causal_jerk:>11} {delay:>14}  "
              f"{r['offline_kinetic']}")
    print(f"chosen (highest cutoff with jerk <= real): offline {document['chosen_offline_hz']} Hz, "
          f"causal {document['chosen_causal_hz']} Hz")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=1), encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
