"""``main.py motion build`` (a motion graph from real clips) and ``main.py evaluate-dance`` (the motion modes judged
against real dancers). Thin: the work is in :mod:`motion.graph_build` and :mod:`motion.evaluate`.

    python main.py motion build SOURCE... --out DIR [--segment-beats N] [--no-mirror]
    python main.py motion build --default [--out DIR]
    python main.py evaluate-dance --songs SONGS --reference DANCES --motion ease,groove,graph --json OUT.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common.errors import InputError
from model.cli_options import add_encoder_options


def add_motion_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``motion build`` and ``evaluate-dance``; each sets ``run(args) -> int``."""
    motion = subparsers.add_parser("motion", help="build motion graphs for --motion graph",
                                   description="Motion graphs: real motion clips cut at the beats (motion/graph.py).")
    commands = motion.add_subparsers(dest="motion_command", metavar="COMMAND", required=True)
    build = commands.add_parser(
        "build", help="build a motion graph from AIST++ motions, BVH or DeepMimic files, or joint folders",
        description="Build a motion graph folder: AIST++ *.pkl motions, *.bvh files (CMU or assimp skeletons), "
                    "DeepMimic humanoid3d_*.txt motions, or folders of joint-position *.npz files (the ballroom "
                    "layout, fitted to SMPL and cached); each clip is cut at its music beats (NAME.beats.txt) or "
                    "its motion beats, and added mirrored.")
    build.add_argument("sources", type=Path, nargs="*", metavar="SOURCE", help="folders or files of motion")
    build.add_argument("--default", action="store_true",
                       help="build from the bundled mocap clips (the default graph that --motion graph plays)")
    build.add_argument("--out", type=Path, default=None, help="graph folder (default with --default: assets/graph)")
    build.add_argument("--segment-beats", type=int, default=1, help="beats per segment (default 1)")
    build.add_argument("--no-mirror", action="store_true", help="do not add the clips' left/right mirror images")
    build.set_defaults(run=run_build)

    evaluate = subparsers.add_parser(
        "evaluate-dance", help="score the motion modes against real dances (FID, diversity, BAS, skating, ...)",
        description="Play each song of --songs (NAME.flac + NAME.beats.txt) through the live engine faster than "
                    "real time, drive each --motion mode with its events, sample the body at 30 fps and score it "
                    "against the real dances of --reference (ballroom layout, fitted to SMPL), beside 'real' (half "
                    "of the dances against the other half) and 'random_clip' (real clips cut at random). The graph "
                    "mode plays a graph built from the half it is not scored against.")
    evaluate.add_argument("--songs", type=Path, required=True, help="folder of NAME.flac + NAME.beats.txt songs")
    evaluate.add_argument("--reference", type=Path, required=True, help="folder of real dances (ballroom layout)")
    evaluate.add_argument("--motion", default="ease,groove,graph", help="comma-separated motion modes")
    evaluate.add_argument("--json", type=Path, required=True, help="where to write the table as JSON")
    evaluate.add_argument("--limit-songs", type=int, default=None, help="only the first N songs (name order)")
    evaluate.add_argument("--speed", type=float, default=3.0,
                          help="how many times faster than real time the songs are played (default 3)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the random_clip baseline (default 0)")
    evaluate.add_argument("--dance-checkpoint", type=Path, default=None, metavar="FILE.pt",
                          help="the causal 3D Dance Revolution checkpoint the generate mode runs (fed the songs' "
                               "audio frame by frame, as live)")
    evaluate.add_argument("--dance-smooth-hz", default=None, metavar="HZ[,HZ...]",
                          help="cutoffs (Hz) of the generate mode's causal pose filter, one row each (0: none; "
                               "default: the mode's own, 1 Hz)")
    add_encoder_options(evaluate)
    evaluate.set_defaults(run=run_evaluate, encoder="reactive")


def run_build(args: argparse.Namespace) -> int:
    from motion.graph import write_graph
    from motion.graph_build import DEFAULT_GRAPH_DIR, build_graph, default_clips, load_sources

    if args.default == bool(args.sources):
        raise InputError(None, "give SOURCE folders or files, or --default (not both)")
    if args.segment_beats < 1:
        raise InputError(None, f"--segment-beats must be at least 1, got {args.segment_beats}")
    out = args.out or (DEFAULT_GRAPH_DIR if args.default else None)
    if out is None:
        raise InputError(None, "--out DIR is required")
    started = time.perf_counter()
    clips = default_clips() if args.default else load_sources(args.sources, lambda name: print(f"  fitting {name}"))
    info = {"sources": sorted({c.source for c in clips}), "mirrored": not args.no_mirror}
    graph = build_graph(clips, segment_beats=args.segment_beats, mirror=not args.no_mirror, info=info)
    folder = write_graph(out, graph)
    print(f"{len(graph.clips)} clips, {len(graph.rotations)} frames, {len(graph)} segments -> {folder} "
          f"({time.perf_counter() - started:.1f} s)")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from common.validation import number_at_least
    from motion.source import MOTION_MODES

    modes = [m.strip() for m in args.motion.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MOTION_MODES]
    if not modes or unknown:
        raise InputError(None, f"--motion: unknown mode(s) {', '.join(unknown) or '(none given)'} "
                               f"(known: {', '.join(MOTION_MODES)})")
    number_at_least("--speed", args.speed, 0.1)
    smooth_cutoffs(args.dance_smooth_hz)
    from motion.cli_options import check_motion_options

    check_motion_options(argparse.Namespace(motion="generate" if "generate" in modes else "",
                                            dance_checkpoint=args.dance_checkpoint))
    if not Path(args.json).parent.is_dir():
        raise InputError(args.json, "its folder does not exist")
    from motion.evaluate import list_songs

    songs = list_songs(args.songs)[: args.limit_songs]
    if not args.reference.is_dir():
        raise InputError(args.reference, "is not a folder of dances")
    document = evaluate_from_args(args, songs, modes)
    from motion.evaluate import format_table, write_json

    print(format_table(document))
    write_json(args.json, document)
    print(f"wrote {args.json}")
    return 0


def smooth_cutoffs(text: str | None) -> list[float] | None:
    """``--dance-smooth-hz``: a comma-separated list of cutoffs in [0, 7.5) Hz (None: not given)."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(None, f"--dance-smooth-hz takes comma-separated numbers (Hz), got {text!r}") from None
    if not values or not all(0 <= v < 7.5 for v in values):
        raise InputError(None, f"--dance-smooth-hz values must be 0 (none) or below 7.5 Hz, got {text!r}")
    return values


def generate_factories(setup, checkpoint: Path, cutoffs: str | None) -> dict:
    """The generate rows: one per ``--dance-smooth-hz`` cutoff (``generate@<Hz>Hz``), or ``generate`` with the mode's
    default filter. Each runs the model inline (no worker thread), so the score does not depend on the CPU's load."""
    from motion.generate import GenerateConfig, GenerateSource
    from motion.source import MotionSetup

    generate_setup = MotionSetup(setup.poses, setup.skeleton, checkpoint=checkpoint)
    values = smooth_cutoffs(cutoffs)
    if values is None:
        return {"generate": lambda: GenerateSource(generate_setup, GenerateConfig(threaded=False))}
    return {f"generate@{v:g}Hz": lambda v=v: GenerateSource(generate_setup, GenerateConfig(smooth_hz=v, threaded=False))
            for v in values}


def evaluate_from_args(args: argparse.Namespace, songs: list[Path], modes: list[str]) -> dict:
    """Open everything ``args`` name, play the songs, build the half-A graph and score every row."""
    from motion.dances import load_dances
    from motion.evaluate import EvaluationSetup, PlayedSource, evaluate, record_song, split_halves
    from motion.frame import bank_rotvecs
    from motion.graph_build import build_graph, clip_of_dance
    from motion.graph_source import GraphSource
    from motion.ik import skeleton_of
    from motion.player import MotionPlayer
    from motion.source import MotionSetup
    from model.cli_options import open_ranking_setup

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    dances = load_dances(args.reference, progress=lambda name: say(f"  dance {name}"))
    if len(dances) < 2:
        raise InputError(args.reference, "needs at least two dances (one per half)")
    halves = split_halves(dances)
    ranking = open_ranking_setup(args, 5)
    setup = MotionSetup(bank_rotvecs(ranking.bank.vectors), skeleton_of(ranking.body))
    runs = []
    for song in songs:
        started = time.perf_counter()
        runs.append(record_song(song, ranking.retriever, speed=args.speed, keep_audio="generate" in modes))
        say(f"  played {song.name} ({len(runs[-1].log)} events, {time.perf_counter() - started:.0f} s)")
    factories = {}
    for mode in modes:
        if mode == "graph":
            graph = build_graph([clip_of_dance(d) for d in halves[0]], info={"sources": "reference half A"})
            say(f"  graph of half A: {len(graph)} segments")
            factories[mode] = lambda graph=graph: GraphSource(graph, setup.poses, setup.skeleton)
        elif mode == "generate":
            factories.update(generate_factories(setup, args.dance_checkpoint, args.dance_smooth_hz))
        else:
            factories[mode] = lambda mode=mode: PlayedSource(lambda: MotionPlayer(setup, mode))
    document = evaluate(EvaluationSetup(factories, setup.skeleton, runs, halves), seed=args.seed, progress=say)
    document.update({"encoder": ranking.retriever.encoder_name, "speed": args.speed,
                     "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
    return document
