"""``python main.py live``: the live engine on a microphone, a line-in or a song played as live."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from common.errors import InputError
from live.engine import EngineConfig, LiveEngine
from live.events import Event, PoseEvent, StatusEvent, event_record
from live.queues import drain
from live.snippets import RESOLUTIONS


def add_live_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``live`` sub-command to ``commands``."""
    from model.cli_options import add_encoder_options

    parser = commands.add_parser(
        "live", help="listen to an input, follow its beats and emit beat-locked pose events",
        description="Run the live engine: an input device (or a song played as live), online beat tracking, one "
                    "window per beat position, the encoder on a worker thread, pose events timed to the music.")
    parser.add_argument("--input", default=None,
                        help="input device index or (part of its) name, or an audio file played as live "
                             "(default: the default input device; `python main.py devices` lists them)")
    parser.add_argument("--play", action="store_true", help="with a file input: also play it to the speakers")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="with a file input: playback speed (1 = real time, the default)")
    parser.add_argument("--resolution", choices=tuple(RESOLUTIONS), default="8th", help="positions per beat")
    parser.add_argument("--mode", choices=("predictive", "centred"), default="predictive",
                        help="predictive (default): the window ending at a position predicts the next one, shown "
                             "exactly on it; centred: the paper's window around the position (1.01 s later)")
    parser.add_argument("--normalisation", choices=("running", "window"), default="running",
                        help="running (default): running stream statistics; window: each window on its own")
    parser.add_argument("--top-k", type=int, default=5, help="poses per event (default 5)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this much audio (default: never / "
                                                                     "the end of the file)")
    parser.add_argument("--events", type=Path, default=None, help="write every event to this JSON-lines file")
    parser.add_argument("--headless", action="store_true",
                        help="no window: print a summary line per pose (the only mode until the window exists)")
    add_encoder_options(parser)
    parser.set_defaults(run=run_live)


def open_source(spec: str | None, speed: float, play: bool):
    """The audio source for ``--input``: a file played as live when ``spec`` names a file, else an input device."""
    from live.audio_input import AudioInput, InputConfig
    from live.file_source import FileSource

    if spec is not None and (Path(spec).exists() or Path(spec).suffix):
        return FileSource(spec, speed=speed, play=play)
    device: str | int | None = int(spec) if spec is not None and spec.isdigit() else spec
    return AudioInput(InputConfig(device=device))


@dataclass
class LiveSummary:
    """Counts over a run, printed at the end."""

    poses: int = 0
    dropped: int = 0
    late: int = 0
    statuses: list[str] = field(default_factory=list)
    rank_ms: list[float] = field(default_factory=list)
    offsets_ms: list[float] = field(default_factory=list)

    def add(self, event: Event) -> None:
        if isinstance(event, PoseEvent):
            self.poses += 1
            self.dropped += event.dropped_before
            self.late += event.late
            self.rank_ms.append(1000 * event.latency.rank_s)
            self.offsets_ms.append(1000 * (event.ready_at_s - event.show_at_s))
        elif isinstance(event, StatusEvent):
            self.statuses.append(event.kind)

    def line(self) -> str:
        if not self.poses:
            return "no pose events (no beats found in the input)"
        return (f"{self.poses} pose events, {self.dropped} positions dropped, {self.late} late; "
                f"ranking median {np.median(self.rank_ms):.1f} ms, "
                f"ready median {np.median(self.offsets_ms):+.0f} ms relative to show time")


def run_live(args: argparse.Namespace) -> int:
    """Run the engine until the input ends, ``--seconds`` pass, or Ctrl-C; write events; print a summary."""
    from model.cli_options import open_ranking_setup

    if args.top_k < 1:
        raise InputError(None, f"--top-k must be positive, got {args.top_k}")
    if args.events is not None and args.events.is_dir():
        raise InputError(args.events, "is a directory; --events takes a file name")
    setup = open_ranking_setup(args, args.top_k)
    source = open_source(args.input, args.speed, args.play)
    config = EngineConfig(resolution=args.resolution, mode=args.mode, top_k=args.top_k,
                          normalisation=args.normalisation)
    engine = LiveEngine(source, setup.retriever, config)
    summary = LiveSummary()
    sink = open(args.events, "w") if args.events else None
    try:
        engine.start(seconds=args.seconds)
        _drain_until_done(engine, summary, sink, sys.stdout)
    except KeyboardInterrupt:
        engine.stop()
        _drain(engine, summary, sink, sys.stdout)
    finally:
        if sink is not None:
            sink.close()
    print(summary.line())
    print(f"input {source.name}: {source.ring.overflows} buffer overflows ({source.ring.dropped_samples} samples "
          f"dropped), {getattr(source, 'input_overflows', 0)} device overflows; "
          f"{engine.events_dropped} events dropped by a slow observer")
    if args.events:
        print(f"wrote {args.events}")
    return 0


def _drain_until_done(engine: LiveEngine, summary: LiveSummary, sink: TextIO | None, out: TextIO) -> None:
    while not engine.wait(0.05):
        _drain(engine, summary, sink, out)
    _drain(engine, summary, sink, out)


def _drain(engine: LiveEngine, summary: LiveSummary, sink: TextIO | None, out: TextIO) -> None:
    for event in drain(engine.events):
        summary.add(event)
        if sink is not None:
            sink.write(json.dumps(event_record(event)) + "\n")
        _print_event(event, out)


def _print_event(event: Event, out: TextIO) -> None:
    if isinstance(event, StatusEvent):
        print(f"[{event.at_s:8.2f} s] {event.kind}: {event.message}", file=out)
    elif isinstance(event, PoseEvent):
        print(f"[{event.show_at_s:8.2f} s] pose {event.indices[0]:>6} ({event.encoder}, {event.tempo_bpm:.0f} BPM, "
              f"{1000 * event.latency.rank_s:.0f} ms{', late' if event.late else ''}"
              f"{f', {event.dropped_before} dropped' if event.dropped_before else ''})", file=out, flush=True)

