"""The live ``generate`` motion source on this CPU: a song played in real time (or ``--speed`` times faster) into
:class:`motion.generate.GenerateSource` exactly as a show feeds it, with a 30-fps render loop on the same clock.

The song is decoded at the engine's 24 kHz and posted in 20-ms chunks as the (wall-clock) audio clock reaches them,
as :class:`live.file_source.FileSource` delivers them to a session; every 1/30 s of audio the loop advances the source
and reads a frame. Measured: the worker's milliseconds per keyframe (streaming features + one decoder step, torch on
one thread), each keyframe's lag (when the render loop got it, minus its time on the audio clock; the body is shown
``delay_s`` behind the clock, so a lag above that is a late, held frame), and the share of late frames after the
first keyframe was due; and, from the same lags, the share of keyframes that would be late at other delays.

    nice -n 10 .venv/bin/python bench/bench_dance_revolution_live.py [--checkpoint out/dance_ballroom/last.pt]
        [--song FILE] [--seconds 30] [--speed 1]

Skips with a message when there is no checkpoint. Prints a table and writes bench/results/dance_revolution_live.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common.constants import MODEL_SAMPLE_RATE  # noqa: E402
from live.audio_file import load_song  # noqa: E402
from live.ring_buffer import Chunk  # noqa: E402

RESULTS: Path = REPO / "bench" / "results" / "dance_revolution_live.json"
DEFAULT_CHECKPOINT: Path = REPO / "out" / "dance_ballroom" / "last.pt"
DEFAULT_SONG: Path = REPO.parent / "shared" / "data" / "beats" / "blupi_music004_060s.flac"
CHUNK = 480
"""Samples per posted chunk (20 ms at 24 kHz)."""
FPS = 30.0
DELAYS_S = (0.9, 1.0, 1.2, 1.4)
"""Display delays (seconds) for which the share of keyframes that would come too late is reported."""


def run(checkpoint: Path, song: Path, seconds: float, speed: float) -> dict:
    from motion.generate import GenerateSource
    from motion.ik import skeleton_of
    from motion.source import MotionSetup
    from pose_db.body import load_body

    samples = load_song(song, sample_rate=MODEL_SAMPLE_RATE, min_samples=1).samples[: int(seconds * MODEL_SAMPLE_RATE)]
    source = GenerateSource(MotionSetup(np.zeros((0, 24, 3)), skeleton_of(load_body()), checkpoint=checkpoint))
    warm_deadline = time.monotonic() + 120.0
    while not source.ready and time.monotonic() < warm_deadline:  # the worker warms up on silence first
        time.sleep(0.05)
    arrivals, posted, frame = [], 0, 0
    start = time.monotonic()
    duration = len(samples) / MODEL_SAMPLE_RATE
    while frame / FPS < duration:
        t = frame / FPS
        wait = start + t / speed - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        while posted + CHUNK <= min(len(samples), t * MODEL_SAMPLE_RATE):
            source.on_event(Chunk(posted, samples[posted: posted + CHUNK]), t)
            posted += CHUNK
        before = source.stats.keyframes
        source.advance(t)
        source.frame_at(t)
        arrivals += [t] * (source.stats.keyframes - before)
        frame += 1
    source.close()
    lags = np.array(arrivals) - np.arange(len(arrivals)) / 15.0
    work = np.array(source.stats.work_ms)
    first_due = source.config.delay_s
    shown_after = max(1, int((duration - first_due) * FPS))
    return {
        "song": song.name, "seconds": round(duration, 2), "speed": speed, "delay_s": source.config.delay_s,
        "keyframes": len(arrivals), "work_ms_mean": float(work.mean()) if len(work) else None,
        "work_ms_p95": float(np.percentile(work, 95)) if len(work) else None,
        "lag_s_median": float(np.median(lags)) if len(lags) else None,
        "lag_s_p95": float(np.percentile(lags, 95)) if len(lags) else None,
        "lag_s_max": float(lags.max()) if len(lags) else None,
        "late_frames": source.stats.late_frames, "late_share": source.stats.late_frames / shown_after,
        "dropped_chunks": source.stats.dropped_chunks,
        **{f"late_keyframes_at_delay_{d:.1f}": float(np.mean(lags > d)) if len(lags) else None for d in DELAYS_S},
        "cpus": os.cpu_count(), "load_1min": os.getloadavg()[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--song", type=Path, default=DEFAULT_SONG)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--speed", type=float, default=1.0, help="audio seconds per wall second (default 1)")
    args = parser.parse_args()
    if not args.checkpoint.is_file():
        print(f"skipped: no checkpoint at {args.checkpoint} (train one: train-dance --pose smpl6d --causal)")
        return 0
    if not args.song.is_file():
        print(f"skipped: no song at {args.song}")
        return 0
    result = run(args.checkpoint, args.song, args.seconds, args.speed)
    for key, value in result.items():
        print(f"{key:>16}  {value:.3f}" if isinstance(value, float) else f"{key:>16}  {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
