"""A trained 3D Dance Revolution model on a dev song: offline speed and freeze share, live per-frame latency and drops.

Offline: ``generate``'s path (whole-song features, even rows, encoder windows, decoder) on the first ``--seconds`` of
the song; speed as generated seconds per wall second. Freeze share: the share of 15-fps frames whose mean joint
rotation speed (geodesic, over the 24 SMPL joints) is below ``FREEZE_RAD_S``, for the generated dance and, with the
same threshold, for the real ballroom dances (../shared, if present) as a yardstick.

Live: the song fed in 512-sample blocks as from a sound card to :class:`StreamingFeatures` (every other row kept:
15 per second) and :class:`StreamingDanceGenerator` (one decoder step per row), on a simulated audio clock: the
generator's step time per frame, and the share of frames that are late (ready after their row's centre + the
features' nominal latency + one frame), i.e. where the live loop falls behind the audio.

    nice -n 10 .venv/bin/python bench/bench_dance_revolution_generate.py CHECKPOINT [--song FILE] [--seconds 60]

Prints a table and writes bench/results/dance_revolution_generate.json.
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

from live.audio_file import load_song  # noqa: E402
from model.dance_revolution.checkpoint import load_dance_model  # noqa: E402
from model.dance_revolution.features import FEATURE_RATE, HOP, StreamConfig, StreamingFeatures  # noqa: E402
from model.dance_revolution.generate import dance_for_song  # noqa: E402
from model.dance_revolution.poses import vector_to_smpl  # noqa: E402
from model.dance_revolution.stream import StreamingDanceGenerator  # noqa: E402

RESULTS: Path = REPO / "bench" / "results" / "dance_revolution_generate.json"
DEFAULT_SONG: Path = REPO.parent / "shared" / "data" / "beats" / "blupi_music004_060s.flac"
BALLROOM: Path = REPO.parent / "shared" / "data" / "ballroom"
FREEZE_RAD_S: float = 0.1
MODEL_FPS: int = 15


def joint_speed(vectors: np.ndarray) -> np.ndarray:
    """(T, 147) model vectors -> (T-1,) mean joint rotation speed in rad/s."""
    from scipy.spatial.transform import Rotation

    pose, _ = vector_to_smpl(vectors)
    rotations = Rotation.from_rotvec(pose.reshape(-1, 3).astype(np.float64)).as_matrix().reshape(len(pose), 24, 3, 3)
    relative = np.einsum("tjab,tjac->tjbc", rotations[:-1], rotations[1:])
    angle = np.linalg.norm(Rotation.from_matrix(relative.reshape(-1, 3, 3)).as_rotvec(), axis=1)
    return angle.reshape(len(pose) - 1, 24).mean(axis=1) * MODEL_FPS


def freeze_share(vectors: np.ndarray) -> float:
    return float((joint_speed(vectors) < FREEZE_RAD_S).mean())


def live_run(loaded, samples: np.ndarray) -> dict[str, float]:
    """Feed the song block by block on a simulated audio clock (block k arrives at (k + 1) * 512 / 15360 s; work is
    sequential and starts when both the block and the worker are there). A frame is late (a drop) when it is ready
    after its row's centre + the stream's nominal latency + one frame (66.7 ms)."""
    import torch

    torch.set_num_threads(1)  # one small step per frame: extra intra-op threads only contend (82 vs 5 ms measured)
    features, generator = StreamingFeatures(StreamConfig()), StreamingDanceGenerator(loaded)
    step_ms, lateness, row_index, busy_until = [], [], 0, 0.0
    for start in range(0, len(samples), HOP):
        arrival = (start + HOP) / FEATURE_RATE
        began = time.perf_counter()
        rows = features.push(samples[start : start + HOP])
        clock = max(arrival, busy_until) + time.perf_counter() - began
        for index in range(row_index, row_index + len(rows)):
            if index % 2:
                continue
            began = time.perf_counter()
            generator.step_vector(rows[index - row_index])
            cost = time.perf_counter() - began
            step_ms.append(1000 * cost)
            clock += cost
            lateness.append(clock - (index * HOP / FEATURE_RATE + features.latency_s + 1 / MODEL_FPS))
        row_index += len(rows)
        busy_until = clock
    step, late = np.array(step_ms), np.array(lateness)
    return {"live_frames": len(step), "step_ms_mean": float(step.mean()), "step_ms_p95": float(np.percentile(step, 95)),
            "step_ms_max": float(step.max()), "drop_share": float((late > 0).mean()),
            "lateness_s_max": float(late.max()), "feature_latency_s": features.latency_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--song", type=Path, default=DEFAULT_SONG)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    loaded = load_dance_model(args.checkpoint)
    samples = load_song(args.song, sample_rate=FEATURE_RATE, min_samples=1).samples[: int(args.seconds * FEATURE_RATE)]
    began = time.perf_counter()
    dance = dance_for_song(loaded, samples, args.song)
    offline_s = time.perf_counter() - began
    result = {"song": args.song.name, "seconds": len(samples) / FEATURE_RATE, "offline_wall_s": offline_s,
              "freeze_share": freeze_share(dance.poses)}
    if BALLROOM.is_dir():
        from model.dance_revolution.ballroom import ballroom_sequences

        result["real_freeze_share"] = float(np.mean([freeze_share(s.poses) for s in ballroom_sequences(BALLROOM)]))
    if loaded.network.config.causal:
        result.update(live_run(loaded, samples))
    for key, value in result.items():
        print(f"{key:22s} {value:.4g}" if isinstance(value, float) else f"{key:22s} {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
