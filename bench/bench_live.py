"""Live engine figures: songs from ../shared/data/beats played as live through the real engine.

1. Timing: for every dev song (played 4x faster than real time; offsets are on the audio clock, so speed does not
   change them), the distribution of (show-at time - nearest true 8th-note position) in predictive mode, for each
   beat tracker back end asked for (default: the learned tracker and the cumscore one it replaces, side by side).
2. Load: on one song near 128 BPM played in real time, processing latency per snippet and positions dropped at
   4th / 8th / 16th, for the reactive encoder and for the full-size EDSA architecture (random weights: the speed is
   what matters here).

Usage: python bench/bench_live.py [--songs N] [--trackers B,B] [--seconds S] [--timing-only]; prints tables and
writes bench/results/live.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common.constants import MODEL_SAMPLE_RATE  # noqa: E402
from common.paths import DEFAULT_BANK  # noqa: E402
from live.beat_tracker import BeatTrackerConfig, OnlineBeatTracker  # noqa: E402
from live.engine import EngineConfig, LiveEngine  # noqa: E402
from live.events import PoseEvent  # noqa: E402
from live.file_source import FileSource  # noqa: E402
from live.queues import drain  # noqa: E402
from model.retrieval import PoseRetriever  # noqa: E402

from bench_beats import machine  # noqa: E402  (bench/ is on the path when run as a script)

BEATS = REPO.parent / "shared" / "data" / "beats"
LOAD_SONG = "blupi_music005_060s"  # 129 BPM


@dataclass(frozen=True)
class TimingRow:
    song: str
    poses: int
    median_ms: float
    p95_abs_ms: float
    within_70ms: float


@dataclass(frozen=True)
class LoadRow:
    encoder: str
    resolution: str
    positions: int
    poses: int
    dropped: int
    late: int
    rank_median_ms: float
    rank_p95_ms: float
    lag_max_ms: float


def run(source: FileSource, retriever: PoseRetriever, seconds: float | None, **config) -> list[PoseEvent]:
    engine = LiveEngine(source, retriever, EngineConfig(**config))
    engine.start(seconds=seconds)
    events = []
    while not engine.wait(0.05):
        events += drain(engine.events)
    events += drain(engine.events)
    return [e for e in events if isinstance(e, PoseEvent)]


def eighth_grid(song: Path) -> np.ndarray:
    beats = np.loadtxt(song.with_suffix("").with_suffix(".beats.txt"))
    return np.sort(np.concatenate([beats, (beats[:-1] + beats[1:]) / 2]))


def timing_row(song: Path, retriever: PoseRetriever, tracker: BeatTrackerConfig) -> tuple[TimingRow, np.ndarray]:
    retriever.reset()
    poses = run(FileSource(song, speed=4.0), retriever, None, resolution="8th", tracker=tracker)
    shown = np.array([p.show_at_s for p in poses if p.show_at_s > 5.0])  # after trimming, as the beat scores do
    grid = eighth_grid(song)
    offsets = 1000 * (shown - grid[np.abs(shown[:, None] - grid[None, :]).argmin(axis=1)])
    return TimingRow(song.name.split(".")[0], len(shown), float(np.median(offsets)),
                     float(np.percentile(np.abs(offsets), 95)), float(np.mean(np.abs(offsets) < 70))), offsets


def load_row(name: str, retriever: PoseRetriever, resolution: str, seconds: float) -> LoadRow:
    retriever.reset()
    poses = run(FileSource(BEATS / f"{LOAD_SONG}.flac"), retriever, seconds, resolution=resolution)
    rank = np.array([1000 * p.latency.rank_s for p in poses])
    dropped = sum(p.dropped_before for p in poses)
    return LoadRow(name, resolution, len(poses) + dropped, len(poses), dropped, sum(p.late for p in poses),
                   float(np.median(rank)), float(np.percentile(rank, 95)),
                   float(max(1000 * (p.ready_at_s - p.window_end_s) for p in poses)))


def reactive_retriever() -> PoseRetriever:
    from model.reactive import ReactiveRetriever
    from pose_db.bank import PoseBank
    from pose_db.body import load_body

    return ReactiveRetriever(PoseBank.open(DEFAULT_BANK), load_body())


def edsa_retriever(folder: Path) -> PoseRetriever:
    """The full-size architecture with random weights, saved and loaded like a user's checkpoint."""
    import torch

    from model import load_model
    from model.checkpoint import save_checkpoint
    from model.network import EdsaConfig, EdsaNetwork
    from model.retrieval import EdsaRetriever
    from pose_db.bank import PoseBank
    from pose_db.search import PoseSearcher

    torch.manual_seed(0)
    path = folder / "full_size_random.chkpt"
    save_checkpoint(EdsaNetwork(EdsaConfig()).eval(), path)
    model = load_model(path)
    return EdsaRetriever(model, PoseSearcher(PoseBank.open(DEFAULT_BANK), model.device))


def timing_table(songs: list[Path], retriever: PoseRetriever, tracker: BeatTrackerConfig) -> dict:
    """Timing rows of ``songs`` with beat tracker ``tracker``, printed, and their summary over all songs (ms)."""
    timing, all_offsets = [], []
    for song in songs:
        row, offsets = timing_row(song, retriever, tracker)
        timing.append(row)
        all_offsets.append(offsets)
    offsets = np.concatenate(all_offsets)
    print(f"\nbeat tracker {tracker.backend!r}")
    print(f"{'song':<44} {'poses':>5} {'median ms':>9} {'p95 |ms|':>8} {'<70 ms':>6}")
    for row in timing:
        print(f"{row.song:<44} {row.poses:>5} {row.median_ms:>+9.1f} {row.p95_abs_ms:>8.1f} {row.within_70ms:>6.2f}")
    summary = {"median_ms": float(np.median(offsets)), "p95_abs_ms": float(np.percentile(np.abs(offsets), 95)),
               "within_70ms": float(np.mean(np.abs(offsets) < 70)), "poses": int(len(offsets))}
    print(f"{'all':<44} {summary['poses']:>5} {summary['median_ms']:>+9.1f} {summary['p95_abs_ms']:>8.1f} "
          f"{summary['within_70ms']:>6.2f}   (goal: median within 10 ms, p95 within 30 ms)")
    return {"rows": [asdict(r) for r in timing], "all": summary}


def tracker_error(tracker: BeatTrackerConfig) -> str | None:
    """Why the engine cannot build this beat tracker (one line), or None when it can."""
    try:
        OnlineBeatTracker(MODEL_SAMPLE_RATE, tracker)
    except Exception as error:  # noqa: BLE001 - reported, and the other trackers still run
        return f"{type(error).__name__}: {error}"
    return None


def load_table(reactive: PoseRetriever, seconds: float) -> list[LoadRow]:
    """Load rows (reactive and full-size EDSA at 4th / 8th / 16th) on :data:`LOAD_SONG` in real time, printed."""
    with tempfile.TemporaryDirectory() as folder:
        encoders = {"reactive": reactive, "edsa-full-size": edsa_retriever(Path(folder))}
        load = [load_row(name, retriever, resolution, seconds)
                for name, retriever in encoders.items() for resolution in ("4th", "8th", "16th")]
    print(f"\n{LOAD_SONG}, real time, {seconds:.0f} s")
    print(f"{'encoder':<15} {'res':>4} {'positions':>9} {'poses':>5} {'dropped':>7} {'late':>4} "
          f"{'rank med ms':>11} {'rank p95':>8} {'max lag ms':>10}")
    for r in load:
        print(f"{r.encoder:<15} {r.resolution:>4} {r.positions:>9} {r.poses:>5} {r.dropped:>7} {r.late:>4} "
              f"{r.rank_median_ms:>11.1f} {r.rank_p95_ms:>8.1f} {r.lag_max_ms:>10.1f}")
    return load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=12, help="dev songs for the timing table (default all 12)")
    parser.add_argument("--trackers", default="learned,cumscore",
                        help="beat tracker back ends for the timing table, comma-separated (default learned,cumscore)")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of the load song per run")
    parser.add_argument("--timing-only", action="store_true", help="skip the load table")
    args = parser.parse_args()
    started, load_start = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.getloadavg()
    reactive = reactive_retriever()

    songs = sorted(BEATS.glob("*.flac"))[: args.songs]
    timing: dict[str, dict] = {}
    for backend in args.trackers.split(","):
        tracker = BeatTrackerConfig(backend=backend)
        error = tracker_error(tracker)
        if error is not None:
            print(f"\nbeat tracker {backend!r}: not available: {error}")
            timing[backend] = {"error": error}
            continue
        timing[backend] = timing_table(songs, reactive, tracker)
    print(f"\nshow time - true 8th position over {len(songs)} songs, side by side:")
    print(f"{'tracker':<10} {'poses':>5} {'median ms':>9} {'p95 |ms|':>8} {'<70 ms':>6}")
    for backend, table in timing.items():
        if "all" in table:
            a = table["all"]
            print(f"{backend:<10} {a['poses']:>5} {a['median_ms']:>+9.1f} {a['p95_abs_ms']:>8.1f} "
                  f"{a['within_70ms']:>6.2f}")
    print(f"({started}; {machine()}; load average {load_start[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the "
          "end)")

    load: list[LoadRow] = []
    if not args.timing_only:
        load = load_table(reactive, args.seconds)
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "live.json").write_text(json.dumps({
        "date": started, "machine": machine(), "load_average": [load_start[0], os.getloadavg()[0]],
        "timing": timing, "load": [asdict(r) for r in load],
    }, indent=1))
    print(f"\nwrote {results / 'live.json'}")


if __name__ == "__main__":
    main()
