"""``python main.py show``: the window where there is a display, else the same show rendered off screen to files.

Both read the same options (:func:`add_show_options`); :func:`run_show` picks the window or :mod:`ui.headless_run`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from common.errors import InputError
from common.paths import REPO_ROOT
from live.snippets import RESOLUTIONS

DEFAULT_OUT = REPO_ROOT / "out" / "live"
"""Where the no-display run writes its recording and events file."""


def add_show_options(parser: argparse.ArgumentParser) -> None:
    """Add the show's options (input, engine settings, view, recording, encoder) to ``parser``."""
    from live.beats_cli import add_beat_tracker_option
    from model.cli_options import add_encoder_options
    from motion.cli_options import add_motion_options
    from rig.options import add_rig_options

    parser.add_argument("--input", default=None,
                        help="input device index or (part of its) name, or an audio file played as live (default: "
                             "the default input device; the demo song played as live when there is none)")
    parser.add_argument("--resolution", choices=tuple(RESOLUTIONS), default=None, help="positions per beat "
                        "(default: the last one used in the window, else 8th)")
    parser.add_argument("--top-k", type=int, default=None, help="poses per event (default: last used, else 5)")
    parser.add_argument("--mode", choices=("predictive", "centred"), default=None,
                        help="window mode (default: last used, else predictive)")
    parser.add_argument("--fullscreen", action="store_true", help="open the performance view full screen")
    parser.add_argument("--screen", type=int, default=None, help="screen number for the performance view")
    parser.add_argument("--record", type=Path, default=None, help="record the performance view with audio to this MP4")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this much audio (default: never / "
                                                                     "the end of the file)")
    parser.add_argument("--headless", action="store_true",
                        help="no window even where there is a display: render off screen and write files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"no-display run: folder for performance.mp4, events.jsonl, performance.png "
                             f"(default {DEFAULT_OUT.relative_to(REPO_ROOT)})")
    add_beat_tracker_option(parser)
    add_motion_options(parser)
    add_rig_options(parser, video=True)
    add_encoder_options(parser)


def add_show_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``show`` sub-command to ``commands``."""
    parser = commands.add_parser(
        "show", help="the live visualizer: a window where there is a display, else recorded to files",
        description="Listen to an input and show the retrieved 3D body dancing on its beats beside the image the pose "
                    "came from. Without a display (no DISPLAY / WAYLAND_DISPLAY) the performance view is rendered "
                    "off screen and written, with the audio, to --out.")
    add_show_options(parser)
    parser.set_defaults(run=run_show)


def has_display() -> bool:
    """True where Qt can open a window: an X or Wayland display, or Qt's offscreen platform asked for explicitly."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM") == "offscreen")


def check_show_args(args: argparse.Namespace) -> None:
    """Raise InputError for option values no show can use (before a window opens or anything heavy loads)."""
    from model.cli_options import check_encoder_options

    check_encoder_options(args)
    if args.top_k is not None and args.top_k < 1:
        raise InputError(None, f"--top-k must be positive, got {args.top_k}")
    if args.record is not None and args.record.is_dir():
        raise InputError(args.record, "is a directory; --record takes an .mp4 file name")
    if args.seconds is not None and args.seconds <= 0:
        raise InputError(None, f"--seconds must be positive, got {args.seconds}")
    from motion.cli_options import check_motion_options

    check_motion_options(args)
    if args.export_motion is not None:
        from motion.cli_options import check_export_path

        check_export_path(args.export_motion)
    from rig.options import rig_options

    rig_options(args)


def run_show(args: argparse.Namespace) -> int:
    """The window where there is a display (and no --headless), else the off-screen run."""
    check_show_args(args)
    if args.headless or not has_display():
        from ui.headless_run import run_headless

        return run_headless(args)
    from ui.app import run_window

    return run_window(args)


def show_defaults() -> argparse.Namespace:
    """The options of a bare ``python main.py``: every show option at its default."""
    parser = argparse.ArgumentParser()
    add_show_options(parser)
    return parser.parse_args([])
