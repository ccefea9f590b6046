"""dancepose command line: ``python main.py COMMAND ...`` (``--help`` on any command documents it).

With no command, ``python main.py`` is ``python main.py show``: the live visualizer window where there is a display,
otherwise the same engine with the performance view recorded to files.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common.errors import InputError
from common.paths import DEMO_SONG, REPO_ROOT
from live.snippets import RESOLUTIONS
from model.cli_options import add_encoder_options, open_ranking_setup


def _add_retrieve(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "retrieve", help="song file -> per-beat top-k poses, image folders and videos",
        description="Run the offline pipeline on a song: beats (librosa), 4th/8th/16th positions, one 2.02 s window "
                    "per position, top-k bank poses per window; writes retrieval.json, the reference's image "
                    "folders and one MP4 per rank with the song's audio.")
    parser.add_argument("song", type=Path, nargs="?", default=DEMO_SONG,
                        help="audio file (wav, flac, ogg, mp3, ...; default: the bundled demo song)")
    parser.add_argument("--top-k", type=int, default=5, help="poses kept per position (default 5)")
    parser.add_argument("--resolution", default="4th", help=f"positions per beat: {', '.join(RESOLUTIONS)} (default 4th)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: out/<song>_<resolution>)")
    parser.add_argument("--no-video", action="store_true", help="write retrieval.json and images only")
    parser.add_argument("--fps", type=int, default=60, help="video frame rate (default 60)")
    parser.add_argument("--video-size", type=int, default=512, help="video width and height in pixels (default 512)")
    add_encoder_options(parser)
    parser.set_defaults(run=_run_retrieve)


def _run_retrieve(args: argparse.Namespace) -> int:
    from common.staging import check_output_folder
    from common.validation import existing_file, number_at_least, one_of
    from model.cli_options import check_encoder_options
    from offline.pictures import PosePictures, render_cache_dir
    from offline.pipeline import RetrieveOptions, analyse_song, rank_windows
    from offline.video import VideoSpec
    from offline.writer import RETRIEVAL_OUTPUT, Provenance, song_label, write_retrieval
    from pose_db.render import PoseRenderer

    # Everything the user typed is checked before any heavy work (bank, body, model, analysis).
    existing_file(args.song, "an audio file")
    one_of("--resolution", args.resolution, RESOLUTIONS)
    number_at_least("--top-k", args.top_k, 1)
    if args.video_size < 16 or args.video_size % 2:
        raise InputError(None, f"--video-size must be an even number of pixels >= 16, got {args.video_size}")
    number_at_least("--fps", args.fps, 1)
    out = check_output_folder(args.out or REPO_ROOT / "out" / f"{song_label(args.song)}_{args.resolution}",
                              RETRIEVAL_OUTPUT)
    check_encoder_options(args)
    video = None if args.no_video else VideoSpec(fps=args.fps, size=(args.video_size, args.video_size))
    options = RetrieveOptions(resolution=args.resolution, top_k=args.top_k, video=video)
    setup = open_ranking_setup(args, args.top_k)
    bank, body, retriever = setup.bank, setup.body, setup.retriever
    analysis = analyse_song(args.song, args.resolution)
    started = time.perf_counter()
    ranking = rank_windows(retriever, analysis, options)
    rank_s = time.perf_counter() - started
    pictures = PosePictures(bank, render_cache_dir(bank, body, 512), lambda: PoseRenderer(body, 512, 512))
    provenance = Provenance(
        encoder=retriever.encoder_name,
        checkpoint=None if setup.checkpoint is None else str(setup.checkpoint),
        bank=str(bank.root),
        body=body.name,
    )
    result = write_retrieval(out, analysis, ranking, bank, pictures, options, provenance)
    positions = len(analysis.positions)
    print(f"{analysis.song.path.name}: {positions} positions at {args.resolution}, "
          f"{int(analysis.full.sum())} with a full window; encoder {retriever.encoder_name}, "
          f"{1000 * rank_s / max(positions, 1):.1f} ms per position")
    print(f"wrote {result}")
    for name in (video and [f"retrieval_result_{args.resolution}_top{k}.mp4" for k in range(1, args.top_k + 1)]) or []:
        print(f"wrote {result.parent / name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    from live.beats_cli import add_beats_command
    from live.devices_cli import add_devices_command
    from live.live_cli import add_live_command
    from model.dance_revolution.cli import add_dance_commands
    from model.training.cli import add_train_commands
    from motion.cli import add_motion_commands
    from pose_db.cli import add_bank_commands
    from rig.calibrate import add_calibrate_command
    from ui.cli import add_show_command

    parser = argparse.ArgumentParser(prog="dancepose", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_show_command(commands)
    _add_retrieve(commands)
    add_bank_commands(commands)
    add_beats_command(commands)
    add_live_command(commands)
    add_devices_command(commands)
    add_calibrate_command(commands)
    add_train_commands(commands)
    add_dance_commands(commands)
    add_motion_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; bad input prints one ``error:`` line to stderr and returns 2."""
    from common.validation import parse_command_line
    from ui.cli import run_show, show_defaults

    args = parse_command_line(build_parser(), argv)
    try:
        return args.run(args) if hasattr(args, "run") else run_show(show_defaults())
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
