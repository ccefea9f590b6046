"""The motion options every command that plays a show shares (``show``, ``live``): ``--motion`` and
``--export-motion``, and what they open. Building the parser imports nothing heavy."""

from __future__ import annotations

import argparse
from pathlib import Path

from common.errors import InputError
from motion.source import DEFAULT_MOTION, MOTION_MODES

NO_DANCE_CHECKPOINT = ("--motion generate needs --dance-checkpoint FILE: a causal 3D model "
                       "(train-dance --pose smpl6d --causal)")
"""The one-line error for ``--motion generate`` without a model."""


def add_motion_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--motion`` (the motion mode) and ``--export-motion`` (write the pose stream at the end) to ``parser``."""
    parser.add_argument("--motion", choices=tuple(MOTION_MODES), default=DEFAULT_MOTION,
                        help=f"how the body moves between retrieved poses: groove (beat-locked bounce, sway and "
                             f"accents over the poses), ease (an eased glide from pose to pose), graph (real "
                             f"motion clips cut at the beats, steered by the poses; the graph built at set-up), "
                             f"generate (a trained Dance Revolution model dances to the audio; needs "
                             f"--dance-checkpoint) "
                             f"(default {DEFAULT_MOTION})")
    parser.add_argument("--dance-checkpoint", type=Path, default=None, metavar="FILE.pt",
                        help="the causal 3D Dance Revolution checkpoint --motion generate runs "
                             "(train-dance --pose smpl6d --causal)")
    parser.add_argument("--export-motion", type=Path, default=None, metavar="FILE.bvh|FILE.npz",
                        help="at the end, write the pose stream (30 fps) as SMPL-skeleton BVH or as npz")


def check_motion_options(args: argparse.Namespace) -> None:
    """Raise InputError now (before any heavy work) when ``--motion generate`` has no readable ``--dance-checkpoint``
    (the checkpoint's contents are checked when the source is built)."""
    checkpoint = getattr(args, "dance_checkpoint", None)
    if getattr(args, "motion", None) == "generate" and checkpoint is None:
        raise InputError(None, NO_DANCE_CHECKPOINT)
    if checkpoint is None:
        return
    if Path(checkpoint).is_dir():
        raise InputError(checkpoint, "is a directory; --dance-checkpoint takes a checkpoint file")
    if not Path(checkpoint).is_file():
        raise InputError(checkpoint, "no such file (--dance-checkpoint)")


def check_export_path(path: Path) -> None:
    """Raise InputError now (before a show runs) when ``path`` cannot take an export."""
    if Path(path).suffix.lower() not in (".bvh", ".npz"):
        raise InputError(path, "motion export must be a .bvh or .npz file")
    if Path(path).is_dir():
        raise InputError(path, "is a directory; --export-motion takes a .bvh or .npz file name")
    if not Path(path).parent.is_dir():
        raise InputError(path, "its folder does not exist")
