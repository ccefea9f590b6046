"""Streaming vs whole-song Dance Revolution features on a few dev songs (../shared/data/beats; measuring only).

Each song is decoded at 15,360 Hz, analysed whole (:func:`song_features`, the reference) and fed in 512-sample blocks
to :class:`StreamingFeatures`. Per column block: the median over rows of the max-abs difference relative to the
block's batch range, the Pearson correlation, and for the tempogram also against the batch row 191 frames earlier
(the trailing window's exact counterpart). The beat column is compared as beat F-measure (+-2 rows = 67 ms). The
first 8 s of each song are left out (the stream's loudness reference and tempogram history fill up there). Real-time
factor = stream analysis seconds / audio seconds.

    nice -n 10 .venv/bin/python bench/bench_dance_revolution_features.py [--songs N] [--lookahead 4 17]

Prints a table and writes bench/results/dance_revolution_features.json.
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
from model.dance_revolution.features import (  # noqa: E402
    BEAT_COLUMN, COLUMNS, FEATURE_FPS, FEATURE_RATE, HOP, TEMPOGRAM_WINDOW, StreamConfig, StreamingFeatures,
    song_features,
)

SONGS_DIR: Path = REPO.parent / "shared" / "data" / "beats"
RESULTS: Path = REPO / "bench" / "results" / "dance_revolution_features.json"
SKIP_S: float = 8.0
BEAT_TOLERANCE_ROWS: int = 2


def beat_f_measure(reference: np.ndarray, estimate: np.ndarray) -> float:
    """F-measure of two one-hot columns, a match within +-2 rows, each reference beat matched once."""
    ref, est = np.flatnonzero(reference), np.flatnonzero(estimate)
    if len(ref) == 0 or len(est) == 0:
        return 0.0
    used, hits = set(), 0
    for e in est:
        near = [r for r in ref if abs(r - e) <= BEAT_TOLERANCE_ROWS and r not in used]
        if near:
            used.add(near[0])
            hits += 1
    precision, recall = hits / len(est), hits / len(ref)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def compare(batch: np.ndarray, stream: np.ndarray) -> dict[str, float]:
    """Per-block differences over rows from SKIP_S on."""
    start = int(SKIP_S * FEATURE_FPS)
    rows = min(len(batch), len(stream))
    b, s = batch[start:rows], stream[start:rows]
    out: dict[str, float] = {}
    for name, cols in COLUMNS.items():
        if name == "beat":
            continue
        span = float(np.ptp(b[:, cols])) or 1.0
        out[f"{name}_rel_err"] = float(np.median(np.abs(b[:, cols] - s[:, cols]).max(axis=1)) / span)
        out[f"{name}_corr"] = float(np.corrcoef(b[:, cols].ravel(), s[:, cols].ravel())[0, 1])
    shift = TEMPOGRAM_WINDOW // 2 - 1
    lagged = batch[start - shift : rows - shift, COLUMNS["tempogram"]]
    out["tempogram_vs_lag191_corr"] = float(np.corrcoef(lagged.ravel(), s[:, COLUMNS["tempogram"]].ravel())[0, 1])
    out["beat_f"] = beat_f_measure(b[:, BEAT_COLUMN], s[:, BEAT_COLUMN])
    return out


def stream(samples: np.ndarray, config: StreamConfig) -> tuple[np.ndarray, float]:
    """All streamed rows and the analysis time in seconds."""
    features = StreamingFeatures(config)
    started = time.perf_counter()
    rows = [features.push(samples[i : i + HOP]) for i in range(0, len(samples), HOP)]
    return np.concatenate(rows), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=3, help="how many dev songs (default 3)")
    parser.add_argument("--lookahead", type=int, nargs="+", default=[4, 17], help="lookahead rows to compare")
    args = parser.parse_args()
    songs = sorted(SONGS_DIR.glob("*.flac"))[: args.songs]
    if not songs:
        sys.exit(f"no songs in {SONGS_DIR}")
    results = []
    for path in songs:
        samples = load_song(path, sample_rate=FEATURE_RATE, min_samples=FEATURE_RATE).samples
        started = time.perf_counter()
        batch = song_features(samples)
        batch_s = time.perf_counter() - started
        for lookahead in args.lookahead:
            rows, stream_s = stream(samples, StreamConfig(lookahead_frames=lookahead))
            entry = {"song": path.stem, "lookahead_frames": lookahead, "audio_s": len(samples) / FEATURE_RATE,
                     "batch_s": batch_s, "stream_rtf": stream_s / (len(samples) / FEATURE_RATE),
                     **compare(batch, rows)}
            results.append(entry)
    keys = ["mfcc_rel_err", "mfcc_corr", "mfcc_delta_corr", "chroma_corr", "onset_corr", "tempogram_corr",
            "tempogram_vs_lag191_corr", "beat_f", "stream_rtf"]
    print(f"{'song':28s} {'look':>4s} " + " ".join(f"{k[:14]:>14s}" for k in keys))
    for entry in results:
        print(f"{entry['song'][:28]:28s} {entry['lookahead_frames']:4d} "
              + " ".join(f"{entry[k]:14.4f}" for k in keys))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
