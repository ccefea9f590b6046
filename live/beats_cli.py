"""The ``beats`` sub-command: run the online beat tracker over a file as if it were live, print the beats."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, TextIO

from common.errors import InputError

if TYPE_CHECKING:  # the tracker and its back end load when the command runs, not when the command line is built
    from live.beat_tracker import BeatEvent

DEFAULT_RATE: int = 44_100
"""Sample rate in Hz the file is decoded at (a typical live input rate)."""
DEFAULT_BLOCK: int = 512
"""Samples per block fed to the tracker (a typical audio callback size)."""
BACKEND_CHOICES: tuple[str, ...] = ("learned", "cumscore", "aubio")
"""``--backend`` / ``--beat-tracker`` values (live.beat_tracker.BACKENDS, repeated here so building the command line
imports nothing); the first is the default."""


def track_file(
    path: str, sample_rate: int = DEFAULT_RATE, block: int = DEFAULT_BLOCK, backend: str = BACKEND_CHOICES[0]
) -> list[BeatEvent]:
    """Decode ``path`` at ``sample_rate`` Hz and feed it to a fresh ``backend`` tracker in ``block``-sample blocks.

    Raises:
        InputError: the file cannot be read as audio (see :func:`live.audio_file.load_song`), or the learned back
            end's weights are missing or broken.
    """
    from live.audio_file import load_song
    from live.beat_tracker import BeatTrackerConfig, OnlineBeatTracker

    samples = load_song(path, sample_rate=sample_rate, min_samples=1).samples
    tracker = OnlineBeatTracker(sample_rate, BeatTrackerConfig(backend=backend))
    return [event for i in range(0, len(samples), block) for event in tracker.process(samples[i : i + block])]


def format_beat(event: BeatEvent, downbeats: bool) -> str:
    """One output line: the beat time in seconds (3 decimals), with ``downbeats`` a tab and its 1-based bar position."""
    return f"{event.time_s:.3f}\t{event.beat_in_bar}" if downbeats else f"{event.time_s:.3f}"


def run_beats(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Print the online beats of ``args.audio``, one per line (see :func:`format_beat`); exit status 0, also when the
    reader closes the pipe early."""
    if args.block < 1 or args.rate < 1000:
        raise InputError(None, f"--block must be >= 1 and --rate >= 1000 Hz (got {args.block}, {args.rate})")
    backend = args.backend or BACKEND_CHOICES[0]
    if args.downbeats and backend != "learned":
        raise InputError(None, f"--downbeats needs the learned back end ({backend!r} does not find bars)")
    try:
        for event in track_file(args.audio, args.rate, args.block, backend):
            print(format_beat(event, args.downbeats), file=out)
        out.flush()
    except BrokenPipeError:  # the reader went away (``beats SONG | head``): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's recipe: no second error at exit
    return 0


def add_beats_command(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``beats AUDIO [--downbeats] [--backend B] [--block N] [--rate R]`` to ``commands``; returns its parser."""
    parser = commands.add_parser(
        "beats",
        help="track beats (and downbeats) in an audio file as if live; print beat times",
        description="Run the online (causal) beat tracker over AUDIO block by block, as from a live input, and "
        "print each beat time in seconds, one per line; with --downbeats also its position in the bar "
        "(time<TAB>position, 1 = downbeat, as madmom's .beats files).",
    )
    parser.add_argument("audio", help="audio file (any format the decoder reads)")
    parser.add_argument("--downbeats", action="store_true", help="also print each beat's position in its bar")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default=None,
                        help=f"tracker back end (default {BACKEND_CHOICES[0]}; --downbeats needs it)")
    parser.add_argument("--block", type=int, default=DEFAULT_BLOCK, help=f"samples per block (default {DEFAULT_BLOCK})")
    parser.add_argument("--rate", type=int, default=DEFAULT_RATE, help=f"sample rate in Hz (default {DEFAULT_RATE})")
    parser.set_defaults(run=run_beats)
    return parser


def add_beat_tracker_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--beat-tracker {learned,cumscore,aubio}`` (the engine's online beat tracker) to ``parser``."""
    parser.add_argument("--beat-tracker", choices=BACKEND_CHOICES, default=BACKEND_CHOICES[0],
                        help="online beat tracker: learned (default: network + bar-pointer decoder, with downbeats "
                             "and metre), cumscore (the DSP tracker, no bars) or aubio")


def tracker_config(args: argparse.Namespace):  # -> live.beat_tracker.BeatTrackerConfig, imported when called
    """The engine's beat tracker settings from ``--beat-tracker`` (the default back end when the option is absent)."""
    from live.beat_tracker import BeatTrackerConfig

    return BeatTrackerConfig(backend=getattr(args, "beat_tracker", BACKEND_CHOICES[0]))
