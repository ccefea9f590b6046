"""madmom baselines for bench/bench_beats.py; runs ONLY inside out/madmom_venv (made by bench/setup_madmom.sh).

madmom's models are CC BY-NC-SA (non-commercial): this script is a measuring stick, never imported by dancepose.

For each clip (mono 44.1 kHz FLAC):

- **online beats**: exactly what ``DBNBeatTracker online FILE`` does: the unidirectional RNN ensemble
  (``RNNBeatProcessor(online=True)``, 8 LSTMs, one 2048-sample frame every 441 samples, window ending at the
  frame's time) and the DBN's forward algorithm (``DBNBeatTrackingProcessor(online=True, fps=100)``), fed frame by
  frame with ``reset=False``. A beat at frame k is reported after frame k, whose window ends at sample 441 k: the
  report delay is 0. ``cpu_s`` is the process CPU time of that loop (decoding excluded).
- **offline downbeats** (non-causal reference: madmom has no online downbeat tracker): ``RNNDownBeatProcessor``
  (bidirectional LSTMs over the whole clip) + ``DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)``
  (Viterbi), madmom's ``DBNDownBeatTracker`` defaults.

    out/madmom_venv/bin/python bench/madmom_baseline.py CLIP.flac [...] > madmom.json

Prints one JSON object: {"madmom": version, "clips": {name: {"duration_s", "beats": [[time_s, reported_s], ...],
"cpu_s", "downbeats": [time_s, ...], "downbeat_cpu_s"}}}.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import madmom
import numpy as np
import soundfile
from madmom.audio.signal import FramedSignal, Signal
from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

SAMPLE_RATE: int = 44_100
FPS: int = 100
FRAME_SIZE: int = 2048


def load(path: Path) -> Signal:
    """The clip as a mono float32 madmom Signal at 44.1 kHz (the dev clips are stored so)."""
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise SystemExit(f"error: {path}: sample rate {rate} Hz, expected {SAMPLE_RATE}")
    return Signal(samples.mean(axis=1), sample_rate=SAMPLE_RATE)


def online_beats(signal: Signal) -> tuple[list[list[float]], float]:
    """Frame-by-frame RNN + DBN forward: ([[beat time_s, reported_s], ...], CPU seconds)."""
    rnn = RNNBeatProcessor(online=True, origin="stream", num_frames=1)
    dbn = DBNBeatTrackingProcessor(online=True, fps=FPS)
    frames = FramedSignal(signal, frame_size=FRAME_SIZE, fps=FPS, origin="online", num_frames=None)
    beats: list[list[float]] = []
    start = time.process_time()
    for k, frame in enumerate(frames):
        activation = rnn.process(frame, reset=False)
        reported_s = (k * frames.hop_size + 1) / SAMPLE_RATE  # end of frame k's window
        beats += [[float(t), reported_s] for t in dbn.process_online(activation, reset=False)]
    return beats, time.process_time() - start


def offline_downbeats(signal: Signal) -> tuple[list[float], float]:
    """Bidirectional RNN + Viterbi DBN over the whole clip: (downbeat times in s, CPU seconds)."""
    start = time.process_time()
    activations = RNNDownBeatProcessor()(signal)
    bars = DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=FPS)(activations)
    downbeats = [float(t) for t, position in bars if int(position) == 1]
    return downbeats, time.process_time() - start


def main(paths: list[str]) -> int:
    warnings.filterwarnings("ignore")
    clips = {}
    for name in paths:
        path = Path(name)
        signal = load(path)
        beats, cpu_s = online_beats(signal)
        downbeats, downbeat_cpu_s = offline_downbeats(signal)
        clips[path.stem] = {"duration_s": len(signal) / SAMPLE_RATE, "beats": beats, "cpu_s": cpu_s,
                                          "downbeats": downbeats, "downbeat_cpu_s": downbeat_cpu_s}
        print(f"madmom: {path.name}: {len(beats)} beats, {cpu_s:.1f} s CPU", file=sys.stderr)
    json.dump({"madmom": madmom.__version__, "clips": clips}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
