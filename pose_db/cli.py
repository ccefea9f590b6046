"""``main.py bank ...``: build pose banks from pose sources and inspect them.

    python main.py bank build --from cliff-reference ROOT --out DIR
    python main.py bank build --from cliff-demo FILE.npz [FILE.npz ...] --out DIR
    python main.py bank build --from aist MOTIONS_DIR --fps F --out DIR
    python main.py bank build --from joints DIR [--mapping FILE] [--fps F] --out DIR
    python main.py bank info DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from common.errors import InputError

if TYPE_CHECKING:  # banks import torch; they load when a bank command runs, not when the command line is built
    from pose_db.bank import PoseBank
    from pose_db.importers import ImportedPoses

SOURCES: dict[str, str] = {
    "cliff-reference": "ROOT holding CLIFF_output/{train,val,test}/npz/*.npz and image_database/ (the reference's "
                       "database, same order)",
    "cliff-demo": "one or more CLIFF demo output .npz files (pose, shape, imgname)",
    "aist": "an AIST++ motions folder of .pkl files, sampled at --fps",
    "joints": "a folder of joint-position .npz files (the ballroom layout), fitted to SMPL through --mapping "
              "(docs/MOTION_FITTING.md), sampled at --fps (default 5), with rendered thumbnails",
}


def add_bank_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bank build`` and ``bank info`` to the main parser's sub-commands; each sets ``run(args) -> int``."""
    bank = subparsers.add_parser("bank", help="build and inspect pose banks",
                                 description="Pose banks: folders of 82-value SMPL pose vectors (see pose_db/bank.py).")
    commands = bank.add_subparsers(dest="bank_command", metavar="COMMAND", required=True)
    build = commands.add_parser(
        "build", help="build a bank from CLIFF outputs, AIST++ motions or joint positions",
        description="Build a pose bank folder. Sources: "
                    + "; ".join(f"{name}: {what}" for name, what in SOURCES.items()) + ".")
    build.add_argument("--from", dest="source", choices=list(SOURCES), required=True, help="kind of input")
    build.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="input folder or files (see --from)")
    build.add_argument("--out", type=Path, required=True,
                       help="bank folder to write (an existing bank there is replaced)")
    build.add_argument("--fps", type=float, default=None,
                       help="with --from aist: frames per second kept from the 60 fps motions (0 < F <= 60); "
                            "with --from joints: frames per second kept from each sequence (default 5)")
    build.add_argument("--mapping", type=Path, default=None,
                       help="with --from joints: the JSON mapping from the files' point names to SMPL joints "
                            "(default: SMPL joint names as they are, else motion/mappings/ballroom.json)")
    build.set_defaults(run=run_build)
    info = commands.add_parser("info", help="print a bank's size, sources and image coverage",
                               description="Print a bank's size, sources and image coverage.")
    info.add_argument("bank", type=Path, metavar="DIR", help="bank folder")
    info.set_defaults(run=run_info)


def import_poses(source: str, inputs: list[Path], fps: float | None, mapping: Path | None = None,
                 scratch: Path | None = None) -> ImportedPoses:
    """Run the importer for ``source`` (a :data:`SOURCES` key) on ``inputs``; ``scratch``: a folder for rendered
    thumbnails (``joints``), alive until the bank is written."""
    from pose_db.importers.aist import import_aist
    from pose_db.importers.cliff_demo import import_cliff_demo
    from pose_db.importers.cliff_reference import import_cliff_reference

    if fps is not None and source not in ("aist", "joints"):
        raise InputError(None, "--fps applies only to --from aist and --from joints")
    if mapping is not None and source != "joints":
        raise InputError(None, "--mapping applies only to --from joints")
    if source == "cliff-demo":
        return import_cliff_demo(inputs)
    if len(inputs) != 1:
        raise InputError(None, f"--from {source} takes one folder, got {len(inputs)} inputs")
    if source == "cliff-reference":
        return import_cliff_reference(inputs[0])
    if source == "joints":
        from pose_db.importers.joints import import_joints

        import tempfile

        images = Path(tempfile.mkdtemp(prefix="dancepose-thumbnails-")) if scratch is None else scratch / "thumbnails"
        return import_joints(inputs[0], mapping, fps, images)
    return import_aist(inputs[0], _required_fps(fps))


def run_build(args: argparse.Namespace) -> int:
    """``bank build``: import, write the bank atomically, print a one-line summary."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dancepose-bank-") as scratch:  # thumbnails, copied in by the writer
        poses = import_poses(args.source, args.inputs, args.fps, args.mapping, Path(scratch))
        out = poses.write(args.out)
    images = sum(p is not None for p in poses.image_paths or [])
    print(f"wrote {out}: {len(poses.vectors)} poses from {len(set(poses.sources))} sources, {images} with images")
    return 0


def run_info(args: argparse.Namespace) -> int:
    """``bank info``: count, creation, per-source counts and image coverage (files checked on disk)."""
    from pose_db.bank import PoseBank

    bank = PoseBank.open(args.bank)
    bank.unit_vectors()  # reads every row: a bank with NaN/inf or all-zero rows is an error, not a healthy bank
    header = bank.header
    created = header.get("created", {})
    print(f"bank: {bank.root}")
    print(f"entries: {len(bank)} x {header['dim']} ({header['layout']})")
    print(f"created: {created.get('utc', '?')} by importer {created.get('importer', '?')}")
    print(f"sources: {len(bank.sources)}")
    for name, count in zip(bank.sources, bank.source_counts(), strict=True):
        print(f"  {name}: {count}")
    print(f"images: {_image_coverage(bank)}")
    return 0


def _required_fps(fps: float | None) -> float:
    if fps is None:
        raise InputError(None, "--from aist needs --fps (frames per second kept from the 60 fps motions, at most 60)")
    return fps


def _image_coverage(bank: PoseBank) -> str:
    from tqdm import tqdm

    if not bank.has_images:
        return "none"
    paths = [bank.image_path(i) for i in tqdm(range(len(bank)), desc="checking images", unit="entry")]
    listed = [p for p in paths if p is not None]
    found = sum(p.is_file() for p in listed)
    return f"{len(listed)} of {len(bank)} entries have an image path; {found} of those files exist"
