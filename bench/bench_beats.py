"""Score the online beat tracker's variants on the dev clips with exact beats (../shared/data/beats).

Each clip is decoded at 44.1 kHz and fed to :class:`live.beat_tracker.OnlineBeatTracker` in 512-sample blocks, in
order, as from a live input. Scores follow the usual convention (mir_eval): both beat lists trimmed of their first
5 s (``mir_eval.beat.trim_beats``), F-measure with a 70 ms window, continuity CMLt and AMLt; plus the report delay
(median of reported-at minus beat time), the median signed error of the matched beats, and the wall time per clip.

    .venv/bin/python bench/bench_beats.py [--only VARIANT ...] [--clips DIR]

Prints the default's per-clip table and a summary per variant, and writes bench/results/beats.json. The variants are
the steps tried, each differing from the previous (or from the default) in one choice; the clips are for
measuring, not tuning.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import mir_eval
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from live.audio_file import load_song  # noqa: E402
from live.beat_tracker import BeatEvent, BeatTrackerConfig, OnlineBeatTracker  # noqa: E402

CLIPS_DIR: Path = REPO.parent / "shared" / "data" / "beats"
RESULTS: Path = REPO / "bench" / "results" / "beats.json"
SAMPLE_RATE: int = 44_100
BLOCK: int = 512
F_WINDOW_S: float = 0.07

DEFAULT = BeatTrackerConfig()
VARIANTS: dict[str, BeatTrackerConfig] = {
    "aubio_default_1024": BeatTrackerConfig(backend="aubio", onset="default", window_s=0.023),
    "aubio_specflux_2048": BeatTrackerConfig(backend="aubio", onset="specflux"),
    "aubio_hfc_2048": BeatTrackerConfig(backend="aubio", onset="hfc"),
    "aubio_complex_2048": BeatTrackerConfig(backend="aubio", onset="complex"),
    "cumscore_specflux": dataclasses.replace(DEFAULT, onset="specflux"),
    "cumscore_hfc": dataclasses.replace(DEFAULT, onset="hfc"),
    "cumscore_complex": dataclasses.replace(DEFAULT, onset="complex"),
    "cumscore_energy": dataclasses.replace(DEFAULT, onset="energy"),
    "cumscore_logflux_continuity_0.1oct": dataclasses.replace(DEFAULT, tempo_change_octaves=0.1),
    "cumscore_logflux_continuity_0.25oct": dataclasses.replace(DEFAULT, tempo_change_octaves=0.25),
    "cumscore_logflux_flat_prior": dataclasses.replace(DEFAULT, prior_octaves=None),
    "cumscore_logflux_prior_0.5oct": dataclasses.replace(DEFAULT, prior_octaves=0.5),
    "default": DEFAULT,
}


def track(path: Path, config: BeatTrackerConfig) -> tuple[list[BeatEvent], float]:
    """Run the tracker over ``path`` block by block; (events, seconds of tracking, decoding excluded)."""
    samples = load_song(path, sample_rate=SAMPLE_RATE).samples
    start = time.perf_counter()
    tracker = OnlineBeatTracker(SAMPLE_RATE, config)
    events = [e for i in range(0, len(samples), BLOCK) for e in tracker.process(samples[i : i + BLOCK])]
    return events, time.perf_counter() - start


def score(reference: np.ndarray, events: list[BeatEvent]) -> dict[str, float]:
    """F (70 ms), CMLt, AMLt after trimming 5 s; median report delay and matched error in seconds."""
    estimate = np.array([e.time_s for e in events])
    ref = mir_eval.beat.trim_beats(reference)
    est = mir_eval.beat.trim_beats(estimate)
    delay = float(np.median([e.reported_s - e.time_s for e in events])) if events else float("nan")
    if len(est) == 0:
        return {"F": 0.0, "CMLt": 0.0, "AMLt": 0.0, "delay_s": delay, "err_s": float("nan")}
    _, cmlt, _, amlt = mir_eval.beat.continuity(ref, est)
    diff = est[:, None] - ref[None, :]
    nearest = diff[np.arange(len(est)), np.abs(diff).argmin(axis=1)]
    matched = nearest[np.abs(nearest) <= F_WINDOW_S]
    return {
        "F": float(mir_eval.beat.f_measure(ref, est, f_measure_threshold=F_WINDOW_S)),
        "CMLt": float(cmlt),
        "AMLt": float(amlt),
        "delay_s": delay,
        "err_s": float(np.median(matched)) if len(matched) else float("nan"),
    }


def run_variant(clips: list[Path], config: BeatTrackerConfig) -> list[dict[str, float | str]]:
    """Per-clip rows (clip name, scores, n_ref, n_est, wall_s) for one configuration."""
    rows: list[dict[str, float | str]] = []
    for clip in clips:
        reference = np.loadtxt(clip.with_suffix(".beats.txt"), ndmin=1)
        events, wall = track(clip, config)
        rows.append({"clip": clip.stem, **score(reference, events), "n_ref": len(reference),
                     "n_est": len(events), "wall_s": wall})
    return rows


def summarise(rows: list[dict[str, float | str]]) -> dict[str, float]:
    """Means over clips of F, CMLt, AMLt and wall time; medians of the delay and error."""
    out = {k: float(np.mean([r[k] for r in rows])) for k in ("F", "CMLt", "AMLt", "wall_s")}
    out.update({k: float(np.nanmedian([r[k] for r in rows])) for k in ("delay_s", "err_s")})
    return out


def print_rows(title: str, rows: list[dict[str, float | str]], key: str) -> None:
    """A fixed-width table of ``rows`` labelled by ``key``."""
    print(f"\n{title}\n{key:45s}     F   CMLt   AMLt  delay_ms  err_ms  wall_s")
    for r in rows:
        print(f"{r[key]:45s} {r['F']:.3f}  {r['CMLt']:.3f}  {r['AMLt']:.3f}  {1000 * r['delay_s']:8.1f}"
              f"  {1000 * r['err_s']:6.1f}  {r['wall_s']:6.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(VARIANTS), help="run only this variant")
    parser.add_argument("--clips", type=Path, default=CLIPS_DIR, help="folder of NAME.flac + NAME.beats.txt")
    args = parser.parse_args(argv)
    clips = sorted(p for p in args.clips.glob("*.flac") if p.with_suffix(".beats.txt").exists())
    if not clips:
        print(f"no clips with beats in {args.clips}", file=sys.stderr)
        return 1
    names = args.only or list(VARIANTS)
    results = {name: run_variant(clips, VARIANTS[name]) for name in names}
    if "default" in results:
        print_rows("default, per clip:", results["default"], "clip")
    summary = [{"variant": name, **summarise(rows)} for name, rows in results.items()]
    print_rows("summary per variant (means over clips; delay and err: medians):", summary, "variant")
    if args.only is None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        configs = {name: dataclasses.asdict(VARIANTS[name]) for name in names}
        RESULTS.write_text(json.dumps({"configs": configs, "summary": summary, "clips": results}, indent=1))
        print(f"\nwrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
