"""``python main.py live``: the live engine on a microphone, a line-in or a song played as live."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from common.errors import InputError
from common.validation import existing_file, number_at_least, writable_file
from live.event_log import EventLog
from live.events import Event, PoseEvent, StatusEvent
from live.queues import drain
from live.snippets import RESOLUTIONS

if TYPE_CHECKING:  # the engine pulls in torch; building the command line must not
    from live.engine import LiveEngine
    from motion.capture import MotionCapture
    from rig.outputs import Rig


def add_live_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``live`` sub-command to ``commands``."""
    from live.beats_cli import add_beat_tracker_option
    from model.cli_options import add_encoder_options
    from motion.cli_options import add_motion_options
    from rig.options import add_rig_options

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
    add_beat_tracker_option(parser)
    add_motion_options(parser)
    add_rig_options(parser)
    add_encoder_options(parser)
    parser.set_defaults(run=run_live)


AUDIO_SUFFIXES: frozenset[str] = frozenset({
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff", ".wma", ".mp4", ".mkv", ".webm",
    ".mov", ".au", ".caf", ".w64",
})
"""File name endings that make a missing ``--input`` a missing file rather than a device name ("USB Audio 2.0")."""


def names_a_file(spec: str) -> bool:
    """Whether ``--input spec`` means a file: it exists, contains a path separator or ends like an audio file."""
    path = Path(spec)
    return path.exists() or os.sep in spec or path.suffix.lower() in AUDIO_SUFFIXES


def open_source(spec: str | None, speed: float, play: bool):
    """The audio source for ``--input``: a file played as live when ``spec`` names a file, else an input device
    (an index or (part of) a name, which may contain dots)."""
    from live.audio_input import AudioInput, InputConfig
    from live.file_source import FileSource

    if spec is not None and names_a_file(spec):
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
            reason = ("the input delivered NaN or infinite samples" if "input-non-finite" in self.statuses else
                      "the encoder failed" if "encoder-error" in self.statuses else "no beats found in the input")
            return f"no pose events ({reason})"
        return (f"{self.poses} pose events, {self.dropped} positions dropped, {self.late} late; "
                f"ranking median {np.median(self.rank_ms):.1f} ms, "
                f"ready median {np.median(self.offsets_ms):+.0f} ms relative to show time")


def check_live_options(args: argparse.Namespace) -> None:
    """Check every option of ``live`` (numbers, the input file, the events file, the encoder's paths) before any
    heavy work."""
    from model.cli_options import check_encoder_options
    from motion.cli_options import check_export_path, check_motion_options
    from rig.options import rig_options

    number_at_least("--top-k", args.top_k, 1)
    number_at_least("--speed", args.speed, 0, inclusive=False)
    if args.seconds is not None:
        number_at_least("--seconds", args.seconds, 0, inclusive=False)
    if args.input is not None and names_a_file(args.input):
        existing_file(args.input, "an audio file")
    if args.events is not None:
        writable_file(args.events, "--events")
    if args.export_motion is not None:
        check_export_path(args.export_motion)
    check_motion_options(args)
    rig_options(args)
    check_encoder_options(args)


def run_live(args: argparse.Namespace) -> int:
    """Run the engine until the input ends, ``--seconds`` pass, or Ctrl-C; write events; print a summary.

    The engine is always stopped and joined before returning (Ctrl-C included), so its final events reach the file.
    A failing events file does not stop the run: it is reported in one line at the end (exit status 2).
    """
    from live.beats_cli import tracker_config
    from live.engine import EngineConfig, LiveEngine
    from model.cli_options import open_ranking_setup
    from rig.options import rig_options
    from rig.osc_in import OwnerActions
    from rig.outputs import open_rig

    check_live_options(args)
    source = open_source(args.input, args.speed, args.play)  # a device name is resolved before the model loads
    setup = open_ranking_setup(args, args.top_k)
    config = EngineConfig(resolution=args.resolution, mode=args.mode, top_k=args.top_k,
                          normalisation=args.normalisation, tracker=tracker_config(args))
    engine = LiveEngine(source, setup.retriever, config)
    summary = LiveSummary()
    capture = open_motion_capture(args, setup, engine)
    rig = open_rig(rig_options(args), engine, setup.bank, setup.body, OwnerActions(stop=engine.stop))
    log = EventLog(args.events) if args.events else None
    try:
        engine.start(seconds=args.seconds)
        _drain_until_done(engine, summary, log, sys.stdout, capture, rig)
    except KeyboardInterrupt:
        print("stopping (Ctrl-C)", file=sys.stderr)
    finally:
        engine.stop()
        _drain(engine, summary, log, sys.stdout, capture, rig)
        rig.close()
        if log is not None:
            log.close()
    if rig.options.any:
        print(rig.summary())
    if capture is not None:
        print(capture.export(args.export_motion))
    print(summary.line())
    print(f"input {source.name}: {source.ring.overflows} buffer overflows ({source.ring.dropped_samples} samples "
          f"dropped), {getattr(source, 'input_overflows', 0)} device overflows, {engine.reader.replaced_samples} "
          f"non-finite samples replaced; {engine.events_dropped} events dropped by a slow observer")
    if log is None:
        return 0
    if log.error is not None:
        raise InputError(None, log.summary())
    print(log.summary())
    return 0


def open_motion_capture(args: argparse.Namespace, setup, engine: LiveEngine) -> MotionCapture | None:
    """A :class:`motion.capture.MotionCapture` of ``--motion`` for ``--export-motion`` (None without it); call
    before the engine starts (it taps the engine's audio)."""
    if args.export_motion is None:
        return None
    from motion.capture import MotionCapture
    from motion.frame import bank_rotvecs
    from motion.ik import skeleton_of
    from motion.player import MotionPlayer
    from motion.source import MotionSetup

    motion_setup = MotionSetup(bank_rotvecs(setup.bank.vectors), skeleton_of(setup.body),
                               checkpoint=args.dance_checkpoint)
    return MotionCapture(MotionPlayer(motion_setup, args.motion), engine.tap_audio())


def _drain_until_done(engine: LiveEngine, summary: LiveSummary, log: EventLog | None, out: TextIO,
                      capture: MotionCapture | None = None, rig: Rig | None = None) -> None:
    while not engine.wait(0.05):
        _drain(engine, summary, log, out, capture, rig)


def _drain(engine: LiveEngine, summary: LiveSummary, log: EventLog | None, out: TextIO,
           capture: MotionCapture | None = None, rig: Rig | None = None) -> None:
    events = drain(engine.events)
    for event in events:
        summary.add(event)
        if log is not None:
            log.write(event)
        _print_event(event, out)
    if capture is not None:
        capture.observe(events, engine.reader.clock_s)
    if rig is not None:
        rig.observe(events)


def _print_event(event: Event, out: TextIO) -> None:
    if isinstance(event, StatusEvent):
        print(f"[{event.at_s:8.2f} s] {event.kind}: {event.message}", file=out)
    elif isinstance(event, PoseEvent):
        print(f"[{event.show_at_s:8.2f} s] pose {event.indices[0]:>6} ({event.encoder}, {event.tempo_bpm:.0f} BPM, "
              f"{1000 * event.latency.rank_s:.0f} ms{', late' if event.late else ''}"
              f"{f', {event.dropped_before} dropped' if event.dropped_before else ''})", file=out, flush=True)

