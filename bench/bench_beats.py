"""Score the beat trackers side by side on the dev clips with exact beats (../shared/data/beats).

Trackers, all run as a live stream on the 44.1 kHz clip in 512-sample blocks, in order:

- ``learned``: the default, :class:`live.beat_tracker.OnlineBeatTracker` with ``backend='learned'`` (beat and
  downbeat activation network + online bar-pointer decoder);
- ``cumscore``: the DSP tracker it replaces (``backend='cumscore'``);
- ``aubio``: ``aubio.tempo("default", 1024, 512)`` as it is, the dev set's published baseline (the product's
  ``backend='aubio'`` always uses a hop of a quarter of its window);
- ``madmom``: madmom's online tracker (RNN + DBN forward, ``DBNBeatTracker online``), run by
  ``bench/madmom_baseline.py`` inside its own virtualenv (``bash bench/setup_madmom.sh``; its models are
  non-commercial, so it is never a dependency). madmom has no online downbeat tracker: its downbeat F is that of the
  offline ``DBNDownBeatTrackingProcessor`` (bidirectional, non-causal), a reference only.

Scores (mir_eval, both lists trimmed of their first 5 s): beat F-measure (70 ms), CMLt, AMLt; downbeat F-measure
(70 ms) against ``NAME.downbeats.txt`` ('-' for trackers without downbeats); the report delay (median of reported-at
minus beat time); the CPU share (process CPU time of the tracking / audio duration, in % of one core). For looking at
failures: the tempo ratio (median reference inter-beat interval / median estimated one: 2 = double tempo), the
median signed error of the matched beats, the median phase of the estimates on the reference grid (in beats: 0 on the
beat, -0.5 off-beat) and the metre the tracker settled on most often.

    .venv/bin/python bench/bench_beats.py [--only TRACKER ...] [--clips DIR] [--weights NPZ]

Prints a per-clip table per tracker, then the README tables (markdown, with the date, machine and load), and writes
bench/results/beats.json. The clips are for measuring, not tuning.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import mir_eval
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from live.audio_file import load_song  # noqa: E402
from live.beat_tracker import BeatTrackerConfig, OnlineBeatTracker  # noqa: E402

CLIPS_DIR: Path = REPO.parent / "shared" / "data" / "beats"
RESULTS: Path = REPO / "bench" / "results" / "beats.json"
MADMOM_PYTHON: Path = REPO / "out" / "madmom_venv" / "bin" / "python"
SAMPLE_RATE: int = 44_100
BLOCK: int = 512
F_WINDOW_S: float = 0.07
TRACKERS: tuple[str, ...] = ("learned", "cumscore", "aubio", "madmom")
NON_CAUSAL_DOWNBEATS: frozenset[str] = frozenset({"madmom"})


@dataclass(frozen=True)
class Tracked:
    """What one tracker gave on one clip.

    Attributes:
        beats: (n,) beat times in seconds from the clip start.
        reported: (n,) audio clock in seconds when each beat was reported.
        downbeats: (m,) downbeat times in seconds; None when the tracker gives no downbeats.
        beats_per_bar: the tracker's metre at each beat (None entries where it has none).
        cpu_s: process CPU seconds spent tracking (decoding excluded).
        duration_s: length of the clip in seconds.
    """

    beats: np.ndarray
    reported: np.ndarray
    downbeats: np.ndarray | None
    beats_per_bar: tuple[int | None, ...]
    cpu_s: float
    duration_s: float


def track_online(samples: np.ndarray, config: BeatTrackerConfig) -> Tracked:
    """Run :class:`OnlineBeatTracker` over ``samples`` (float32 (N,), 44.1 kHz) in :data:`BLOCK`-sample blocks."""
    start = time.process_time()
    tracker = OnlineBeatTracker(SAMPLE_RATE, config)
    events = [e for i in range(0, len(samples), BLOCK) for e in tracker.process(samples[i : i + BLOCK])]
    cpu_s = time.process_time() - start
    has_downbeats = any(e.is_downbeat is not None for e in events)
    return Tracked(
        beats=np.array([e.time_s for e in events]),
        reported=np.array([e.reported_s for e in events]),
        downbeats=np.array([e.time_s for e in events if e.is_downbeat]) if has_downbeats else None,
        beats_per_bar=tuple(e.beats_per_bar for e in events),
        cpu_s=cpu_s,
        duration_s=len(samples) / SAMPLE_RATE,
    )


def track_aubio(samples: np.ndarray) -> Tracked:
    """``aubio.tempo("default", 1024, 512)`` fed 512-sample hops; a beat is reported at the end of its hop."""
    import aubio

    start = time.process_time()
    tempo = aubio.tempo("default", 1024, BLOCK, SAMPLE_RATE)
    beats, reported = [], []
    for i in range(0, len(samples) - BLOCK + 1, BLOCK):
        if tempo(samples[i : i + BLOCK])[0]:
            beats.append(float(tempo.get_last_s()))
            reported.append((i + BLOCK) / SAMPLE_RATE)
    cpu_s = time.process_time() - start
    return Tracked(np.array(beats), np.array(reported), None, (None,) * len(beats), cpu_s, len(samples) / SAMPLE_RATE)


def run_madmom(clips: list[Path]) -> dict[str, Tracked]:
    """madmom's online beats (and offline downbeats) for ``clips``, from ``bench/madmom_baseline.py`` in its venv.

    Raises:
        RuntimeError: the venv is missing or the script failed.
    """
    if not MADMOM_PYTHON.exists():
        raise RuntimeError(f"no {MADMOM_PYTHON.relative_to(REPO)}: run `bash bench/setup_madmom.sh`")
    done = subprocess.run([str(MADMOM_PYTHON), str(REPO / "bench" / "madmom_baseline.py"), *map(str, clips)],
                          stdout=subprocess.PIPE, text=True, check=False)  # its progress goes to our stderr
    if done.returncode != 0:
        raise RuntimeError(f"bench/madmom_baseline.py exited with {done.returncode} (its messages are above)")
    out = {}
    for name, clip in json.loads(done.stdout)["clips"].items():
        beats = np.array(clip["beats"]).reshape(-1, 2)
        out[name] = Tracked(beats[:, 0], beats[:, 1], np.array(clip["downbeats"]), (None,) * len(beats),
                            clip["cpu_s"], clip["duration_s"])
    return out


def _f(reference: np.ndarray, estimate: np.ndarray) -> float:
    """mir_eval F-measure (70 ms) after trimming 5 s from both lists; 0 when nothing is left of the estimate."""
    ref, est = mir_eval.beat.trim_beats(reference), mir_eval.beat.trim_beats(estimate)
    return float(mir_eval.beat.f_measure(ref, est, f_measure_threshold=F_WINDOW_S)) if len(est) else 0.0


def phase_offset(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Median offset of the estimated beats from the reference grid, in beats in [-0.5, 0.5) (0.5: off-beat).

    Each estimate is placed between the reference beats around it (times in seconds, ascending, >= 2 references);
    estimates outside the reference span are left out; nan when none is inside.
    """
    inside = estimate[(estimate >= reference[0]) & (estimate < reference[-1])]
    if len(inside) == 0:
        return float("nan")
    k = np.searchsorted(reference, inside, side="right") - 1
    position = (inside - reference[k]) / (reference[k + 1] - reference[k])  # [0, 1) beats after reference k
    return float(np.median((position + 0.5) % 1.0 - 0.5))


def score(reference: np.ndarray, downbeats: np.ndarray | None, tracked: Tracked) -> dict[str, float | int | None]:
    """The scores of one clip (module docstring); times in seconds, ``cpu_share`` in % of one core.

    Args:
        reference: (n,) true beat times in seconds.
        downbeats: (m,) true downbeat times in seconds; None when the clip has none.
        tracked: what the tracker gave.
    """
    ref = mir_eval.beat.trim_beats(reference)
    est = mir_eval.beat.trim_beats(tracked.beats)
    delays = tracked.reported - tracked.beats
    metres = Counter(m for m in tracked.beats_per_bar if m is not None)
    row: dict[str, float | int | None] = {
        "F": _f(reference, tracked.beats), "CMLt": 0.0, "AMLt": 0.0,
        "downbeat_F": None if tracked.downbeats is None or downbeats is None else _f(downbeats, tracked.downbeats),
        "delay_s": float(np.median(delays)) if len(delays) else float("nan"),
        "cpu_share": 100.0 * tracked.cpu_s / tracked.duration_s,
        "err_s": float("nan"), "tempo_ratio": float("nan"),
        "phase": float("nan"),
        "metre": metres.most_common(1)[0][0] if metres else None,
        "n_ref": len(ref), "n_est": len(est),
    }
    if len(est) < 2:
        return row
    _, row["CMLt"], _, row["AMLt"] = (float(x) for x in mir_eval.beat.continuity(ref, est))
    diff = est[:, None] - ref[None, :]
    nearest = diff[np.arange(len(est)), np.abs(diff).argmin(axis=1)]
    matched = nearest[np.abs(nearest) <= F_WINDOW_S]
    row["err_s"] = float(np.median(matched)) if len(matched) else float("nan")
    row["tempo_ratio"] = float(np.median(np.diff(ref)) / np.median(np.diff(est)))
    row["phase"] = phase_offset(ref, est)
    return row


def summarise(rows: list[dict]) -> dict[str, float | None]:
    """Means over clips of F, CMLt, AMLt and downbeat F; median report delay; CPU share over all audio."""
    downbeat = [r["downbeat_F"] for r in rows if r["downbeat_F"] is not None]
    return {
        **{k: float(np.mean([r[k] for r in rows])) for k in ("F", "CMLt", "AMLt")},
        "downbeat_F": float(np.mean(downbeat)) if downbeat else None,
        "delay_s": float(np.nanmedian([r["delay_s"] for r in rows])),
        "cpu_share": float(np.mean([r["cpu_share"] for r in rows])),
    }


def machine() -> str:
    """CPU model name (lscpu) and core count."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        import platform

        model = platform.processor() or platform.machine()
    return f"{model}, {os.cpu_count()} cores"


def load_text() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None or value != value else format(value, fmt)


def print_clip_rows(name: str, rows: list[dict]) -> None:
    """A fixed-width per-clip table of one tracker, with the diagnostics."""
    print(f"\n{name}\n{'clip':42s}     F   CMLt   AMLt  downF  delay_ms  err_ms  tempo×  phase  metre  cpu%")
    for r in rows:
        print(f"{r['clip']:42s} {r['F']:.3f}  {r['CMLt']:.3f}  {r['AMLt']:.3f}  {_num(r['downbeat_F']):>5s}"
              f"  {1000 * r['delay_s']:8.1f}  {_num(1000 * r['err_s'], '6.1f'):>6s}"
              f"  {_num(r['tempo_ratio'], '5.2f'):>6s}  {_num(r['phase'], '+.2f'):>5s}  {r['metre'] or '-':>5}"
              f"  {r['cpu_share']:4.1f}")


def markdown(results: dict[str, dict], header: str) -> str:
    """The README tables: summary per tracker, then F / AMLt per clip and tracker (plus downbeat F)."""
    ok = {name: res for name, res in results.items() if "rows" in res}
    lines = [header, "", "| tracker | F | CMLt | AMLt | downbeat F | report delay | CPU (% of a core) |",
             "|---|---|---|---|---|---|---|"]
    for name, res in results.items():
        if name not in ok:
            lines.append(f"| {name} | not available: {res['error']} ||||||")
            continue
        s = res["summary"]
        mark = " †" if name in NON_CAUSAL_DOWNBEATS and s["downbeat_F"] is not None else ""
        lines.append(f"| {name} | {s['F']:.3f} | {s['CMLt']:.3f} | {s['AMLt']:.3f} | {_num(s['downbeat_F'])}{mark} "
                     f"| {1000 * s['delay_s']:.0f} ms | {s['cpu_share']:.1f} |")
    if any(name in NON_CAUSAL_DOWNBEATS for name in ok):
        lines.append("\n† madmom has no online downbeat tracker: offline `DBNDownBeatTrackingProcessor` "
                     "(non-causal), a reference only.")
    if not ok:
        return "\n".join(lines)
    clips = [r["clip"] for r in next(iter(ok.values()))["rows"]]
    downbeat_cols = [n for n in ok if ok[n]["summary"]["downbeat_F"] is not None]
    lines += ["", "F / AMLt per clip" + (f"; downbeat F: {', '.join(downbeat_cols)}" if downbeat_cols else "") + ":",
              "", "| " + " | ".join(["clip", *ok, *(f"down F {n}" for n in downbeat_cols)]) + " |",
              "|---" * (1 + len(ok) + len(downbeat_cols)) + "|"]
    for i, clip in enumerate(clips):
        cells = [f"{ok[n]['rows'][i]['F']:.2f} / {ok[n]['rows'][i]['AMLt']:.2f}" for n in ok]
        cells += [_num(ok[n]["rows"][i]["downbeat_F"], ".2f") for n in downbeat_cols]
        lines.append(f"| {clip} | " + " | ".join(cells) + " |")
    means = [f"{ok[n]['summary']['F']:.2f} / {ok[n]['summary']['AMLt']:.2f}" for n in ok]
    means += [_num(ok[n]["summary"]["downbeat_F"], ".2f") for n in downbeat_cols]
    lines.append("| **mean** | " + " | ".join(means) + " |")
    return "\n".join(lines)


def clip_tracker(name: str, weights: Path | None) -> Callable[[np.ndarray], Tracked]:
    """The function that tracks one clip's samples with tracker ``name`` (not madmom: it runs all clips at once).

    ``weights``: the learned tracker's activation weights (None: the bundled ones).
    """
    if name == "aubio":
        return track_aubio
    config = BeatTrackerConfig(backend=name, weights=weights if name == "learned" else None)
    OnlineBeatTracker(SAMPLE_RATE, config)  # fail now, once, if the back end is not available
    return lambda samples: track_online(samples, config)


def run_tracker(name: str, clips: list[Path], audio: dict[str, np.ndarray], weights: Path | None
                ) -> dict[str, Tracked]:
    """Tracker ``name`` on every clip: {clip name: Tracked}."""
    if name == "madmom":
        return run_madmom(clips)
    track = clip_tracker(name, weights)
    return {clip.stem: track(audio[clip.stem]) for clip in clips}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=TRACKERS, help="run only this tracker (repeatable)")
    parser.add_argument("--clips", type=Path, default=CLIPS_DIR, help="folder of NAME.flac + NAME.beats.txt")
    parser.add_argument("--weights", type=Path, help="learned tracker's weights (.npz; default: the bundled ones)")
    args = parser.parse_args(argv)
    clips = sorted(p for p in args.clips.glob("*.flac") if p.with_suffix(".beats.txt").exists())
    if not clips:
        print(f"no clips with beats in {args.clips}", file=sys.stderr)
        return 1
    started, load_start = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load_text()
    audio = {clip.stem: load_song(clip, sample_rate=SAMPLE_RATE).samples for clip in clips}
    truth = {clip.stem: (np.loadtxt(clip.with_suffix(".beats.txt"), ndmin=1),
                         np.loadtxt(clip.with_suffix(".downbeats.txt"), ndmin=1)
                         if clip.with_suffix(".downbeats.txt").exists() else None) for clip in clips}
    results: dict[str, dict] = {}
    for name in args.only or TRACKERS:
        try:
            tracked = run_tracker(name, clips, audio, args.weights)
        except Exception as error:  # noqa: BLE001 - a tracker that cannot run is reported, the others still are
            results[name] = {"error": f"{type(error).__name__}: {error}"}
            print(f"\n{name}: not available: {results[name]['error']}", file=sys.stderr)
            continue
        rows = [{"clip": clip, **score(*truth[clip], tracked[clip])} for clip in truth]
        results[name] = {"summary": summarise(rows), "rows": rows}
        print_clip_rows(name, rows)
    header = (f"Beat tracking on the 12 dev clips ({started}; {machine()}; load average {load_start} at the start, "
              f"{load_text()} at the end; live stream in 512-sample blocks at 44.1 kHz; mir_eval, 70 ms, first 5 s "
              f"trimmed):")
    table = markdown(results, header)
    print("\n" + table)
    if args.only is None and args.weights is None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({"date": started, "machine": machine(), "load_start": load_start,
                                       "load_end": load_text(), "trackers": results, "markdown": table}, indent=1))
        print(f"\nwrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
