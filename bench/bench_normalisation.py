"""How window normalisation changes the rankings, with the parity fixture's model and pose bank.

The reference normalises the whole song once (zero mean, unit variance) before cutting windows. Live, the whole song
is never available, so the engine offers two stand-ins: ``running`` (exponential running mean and variance of the
stream, the default) and ``window`` (each window on its own). On real dev songs, beat windows are ranked by the tiny
EDSA checkpoint against the fixture's 200-pose bank under each scheme, and compared with the reference's whole-song
rankings: top-1 agreement and mean top-5 overlap.

Usage: python bench/bench_normalisation.py [--songs N]; prints a table and writes bench/results/normalisation.json.
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

from common.constants import MODEL_SAMPLE_RATE, WINDOW_SAMPLES  # noqa: E402
from live.audio_file import load_song, normalise  # noqa: E402
from live.engine import RunningNormaliser  # noqa: E402
from offline.beats import track_beats_offline  # noqa: E402

SHARED = REPO.parent / "shared"
CHUNK = 240  # samples per streamed block at 24 kHz (10 ms), as the live reader delivers them


def ranks(model, db_unit: np.ndarray, windows: np.ndarray, k: int = 5) -> np.ndarray:
    logits = model.logit_scale * model.embed(windows).astype(np.float64) @ db_unit.T
    return np.argsort(-logits, axis=1, kind="stable")[:, :k]


def windows_by_scheme(samples: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray]:
    """Windows ending at ``ends`` (samples) normalised by each scheme: (P, 48480) float32 each."""
    whole = normalise(samples)
    cut = lambda audio: np.stack([audio[e - WINDOW_SAMPLES : e] for e in ends])  # noqa: E731
    running = RunningNormaliser(10.0, MODEL_SAMPLE_RATE)
    streamed = []
    position = 0
    for end in ends:  # feed the stream up to each window's end, then normalise with the statistics so far
        running.update(samples[position:end])
        position = end
        streamed.append(running(samples[end - WINDOW_SAMPLES : end]))
    return {"whole song (reference)": cut(whole), "running (live default)": np.stack(streamed),
            "per window": np.stack([normalise(w) for w in cut(samples)])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=12)
    args = parser.parse_args()
    from model import load_model

    model = load_model(SHARED / "reference" / "tiny_edsa.chkpt")
    db = np.load(SHARED / "reference" / "tiny_edsa_io.npz")["db"].astype(np.float64)
    db_unit = db / np.linalg.norm(db, axis=1, keepdims=True)
    totals: dict[str, list[tuple[float, float]]] = {}
    for song_path in sorted((SHARED / "data" / "beats").glob("*.flac"))[: args.songs]:
        samples = load_song(song_path).samples
        beats = track_beats_offline(normalise(samples))
        ends = beats[(beats >= WINDOW_SAMPLES) & (beats <= len(samples))]
        schemes = windows_by_scheme(samples, ends)
        reference = ranks(model, db_unit, schemes["whole song (reference)"])
        for name, windows in list(schemes.items())[1:]:
            got = ranks(model, db_unit, windows)
            top1 = float(np.mean(got[:, 0] == reference[:, 0]))
            overlap = float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(got, reference)]))
            totals.setdefault(name, []).append((top1, overlap))
    print(f"{'scheme':<24} {'top-1 = reference':>17} {'top-5 overlap':>13}")
    rows = {}
    for name, values in totals.items():
        top1, overlap = np.mean(values, axis=0)
        rows[name] = {"top1_agreement": float(top1), "top5_overlap": float(overlap), "songs": len(values)}
        print(f"{name:<24} {top1:>17.3f} {overlap:>13.3f}")
    out = REPO / "bench" / "results" / "normalisation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
