"""The ``beats`` sub-command: run the online beat tracker over a file as if it were live, print the beat times."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from common.errors import InputError

if TYPE_CHECKING:  # the decoder and aubio load when the command runs, not when the command line is built
    from live.beat_tracker import BeatEvent

DEFAULT_RATE: int = 44_100
"""Sample rate in Hz the file is decoded at (a typical live input rate)."""
DEFAULT_BLOCK: int = 512
"""Samples per block fed to the tracker (a typical audio callback size)."""


def track_file(path: str, sample_rate: int = DEFAULT_RATE, block: int = DEFAULT_BLOCK) -> list[BeatEvent]:
    """Decode ``path`` at ``sample_rate`` Hz and feed it to a fresh tracker in ``block``-sample blocks, in order.

    Raises:
        InputError: the file cannot be read as audio (see :func:`live.audio_file.load_song`).
    """
    from live.audio_file import load_song
    from live.beat_tracker import OnlineBeatTracker

    samples = load_song(path, sample_rate=sample_rate, min_samples=1).samples
    tracker = OnlineBeatTracker(sample_rate)
    return [event for i in range(0, len(samples), block) for event in tracker.process(samples[i : i + block])]


def run_beats(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Print the online beat times of ``args.audio`` in seconds, one per line, 3 decimals; exit status 0."""
    if args.block < 1 or args.rate < 1000:
        raise InputError(None, f"--block must be >= 1 and --rate >= 1000 Hz (got {args.block}, {args.rate})")
    for event in track_file(args.audio, sample_rate=args.rate, block=args.block):
        print(f"{event.time_s:.3f}", file=out)
    return 0


def add_beats_command(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``beats AUDIO [--block N] [--rate R]`` to the sub-command set ``commands``; returns its parser."""
    parser = commands.add_parser(
        "beats",
        help="track beats in an audio file as if live; print beat times",
        description="Run the online (causal) beat tracker over AUDIO block by block, as from a live input, and "
        "print each beat time in seconds, one per line.",
    )
    parser.add_argument("audio", help="audio file (any format the decoder reads)")
    parser.add_argument("--block", type=int, default=DEFAULT_BLOCK, help=f"samples per block (default {DEFAULT_BLOCK})")
    parser.add_argument("--rate", type=int, default=DEFAULT_RATE, help=f"sample rate in Hz (default {DEFAULT_RATE})")
    parser.set_defaults(run=run_beats)
    return parser
