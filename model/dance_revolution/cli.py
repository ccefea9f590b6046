"""``main.py train-dance``, ``main.py generate`` and ``main.py repair-keypoints`` (Dance Revolution).

Registration is import-light (argparse only); each command imports torch, librosa and the model when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common.errors import InputError
from common.paths import REPO_ROOT
from common.staging import OutputKind

GENERATE_OUTPUT = OutputKind("a generate output folder", None, None, ("dance.npz", "dance.mp4", "dance.bvh"))
"""What ``generate`` writes (an earlier result of it may be replaced, nothing else)."""

POSE_CHOICES: tuple[str, ...] = ("openpose2d", "smpl6d")
LAYOUT_CHOICES: tuple[str, ...] = ("json2d", "ballroom", "aist")
"""``--layout`` values (the training module's ``LAYOUTS``; not imported here, it imports torch)."""
VIDEO_AUDIO_RATE: int = 44_100
"""Sample rate of the MP4's audio track in Hz."""


def add_dance_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``train-dance``, ``generate`` and ``repair-keypoints``."""
    add_train_dance(commands)
    add_generate(commands)
    add_repair_keypoints(commands)


def add_train_dance(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train-dance", help="train a Dance Revolution model (music encoder + LSTM pose decoder)",
        description="Train Dance Revolution v2 with the dynamic auto-condition curriculum (p = int(epoch * lambda) "
                    "predicted steps, then q ground-truth steps), L1 loss and Adam, on non-overlapping windows of "
                    "--seq-len rows. Writes OUT/epoch_N.pt and OUT/last.pt (the reference's checkpoint layout plus "
                    "the feature normalisation), OUT/state.pt for --resume, OUT/tensorboard, OUT/summary.json. "
                    "Multi-GPU: torchrun --nproc_per_node N main.py train-dance ... (DDP).")
    train.add_argument("--data", type=Path, required=True, help="the dataset folder")
    train.add_argument("--layout", choices=LAYOUT_CHOICES, default="json2d",
                       help="json2d (default): the reference's prepro samples (one JSON per sample with music_array "
                            "T x 438 and dance_array T x 274, 15 fps); ballroom: the 3D ballroom dances fitted to SMPL; "
                            "aist: AIST++ (motions/*.pkl, splits/crossmodal_train.txt minus ignore_list.txt, "
                            "music/), as main.py train reads it")
    train.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "train_dance",
                       help="output folder (default out/train_dance)")
    model = train.add_argument_group("model (defaults: the released v2 model)")
    model.add_argument("--pose", choices=POSE_CHOICES, default=None,
                       help="openpose2d (50-d, default for json2d) or smpl6d (147-d, default for ballroom and aist)")
    model.add_argument("--d-model", type=int, default=200, help="encoder width, frame_emb_size (default 200)")
    model.add_argument("--pose-emb", type=int, default=50, help="pose embedding width (default 50)")
    model.add_argument("--layers", type=int, default=1, help="encoder layers (default 1)")
    model.add_argument("--heads", type=int, default=8, help="attention heads (default 8)")
    model.add_argument("--head-dim", type=int, default=64, help="d_k = d_v (default 64)")
    model.add_argument("--d-inner", type=int, default=1024, help="FFN width and LSTM hidden size (default 1024)")
    model.add_argument("--window", type=int, default=900, help="attention half-width w in rows (default 900)")
    model.add_argument("--seq-len", type=int, default=900, help="training window in rows (default 900)")
    model.add_argument("--max-seq-len", type=int, default=4500, help="positional table length (default 4500)")
    model.add_argument("--dropout", type=float, default=0.1, help="dropout (default 0.1)")
    model.add_argument("--causal", action="store_true", help="attend to the past only (for live use)")
    curriculum = train.add_argument_group("curriculum and optimisation (defaults: the reference)")
    curriculum.add_argument("--lambda-v", type=float, default=0.01, help="lambda: p = int(epoch * lambda) (0.01)")
    curriculum.add_argument("--condition-step", type=int, default=10, help="q ground-truth steps per period (10)")
    curriculum.add_argument("--epochs", type=int, default=10000, help="epochs (default 10000)")
    curriculum.add_argument("--batch-size", type=int, default=32, help="windows per batch and process (default 32)")
    curriculum.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate, constant (default 1e-4)")
    curriculum.add_argument("--seed", type=int, default=1234, help="seed (default 1234)")
    curriculum.add_argument("--save-every", type=int, default=500, help="checkpoint interval in epochs (default 500)")
    curriculum.add_argument("--no-normalise", action="store_true",
                            help="feed raw features as the reference does (default: per-column mean/std, stored)")
    curriculum.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                            help="CUDA autocast: auto (default) = bf16 where supported else fp16; fp32 on CPU")
    curriculum.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda when available)")
    curriculum.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    curriculum.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    train.set_defaults(run=run_train_dance)


def run_train_dance(args: argparse.Namespace) -> int:
    import torch

    from model.dance_revolution.network import DanceRevolutionConfig
    from model.dance_revolution.train import DanceTrainConfig, DanceTrainer

    if args.threads:
        torch.set_num_threads(args.threads)
    pose = args.pose or ("openpose2d" if args.layout == "json2d" else "smpl6d")
    model = DanceRevolutionConfig(d_model=args.d_model, pose_kind=pose, pose_emb=args.pose_emb, n_layers=args.layers,
                                  n_head=args.heads, d_k=args.head_dim, d_v=args.head_dim, d_inner=args.d_inner,
                                  window=args.window, seq_len=args.seq_len, max_seq_len=args.max_seq_len,
                                  dropout=args.dropout, condition_step=args.condition_step, lambda_v=args.lambda_v,
                                  causal=args.causal)
    config = DanceTrainConfig(data=args.data, out=args.out, layout=args.layout, model=model, epochs=args.epochs,
                              batch_size=args.batch_size, lr=args.lr, seed=args.seed, save_every=args.save_every,
                              normalise=not args.no_normalise, precision=args.precision, device=args.device,
                              resume=args.resume)
    trainer = DanceTrainer(config)
    summary = trainer.run()
    if trainer.place.main:
        print(f"{trainer.windows} windows, {summary['trainable_parameters']:,} parameters; epoch {summary['epoch']}: "
              f"L1 {summary['l1_first']} -> {summary['l1_last']}; wrote {args.out / 'last.pt'}")
    return 0


def add_generate(commands: argparse._SubParsersAction) -> None:
    generate = commands.add_parser(
        "generate", help="song -> a generated dance (npz + MP4 with the song's audio, + BVH for 3D models) with a "
                         "Dance Revolution model",
        description="Compute the song's 438-d features, generate one pose per 15-fps row from BOS, interpolate to "
                    "30 fps, and write DIR/dance.npz and DIR/dance.mp4 (2D: the reference's skeleton drawing on "
                    "1280x720; 3D: the body, and DIR/dance.bvh on the mean-shape SMPL skeleton). Songs longer than the positional table use overlapping encoder "
                    "windows with one unbroken decoder.")
    generate.add_argument("song", type=Path, help="audio file (at least 12.8 s)")
    generate.add_argument("--checkpoint", type=Path, required=True, help="a Dance Revolution checkpoint (.pt)")
    generate.add_argument("--out", type=Path, required=True, help="output folder")
    generate.add_argument("--seed", type=int, default=0, help="seed of the initial LSTM states (default 0)")
    generate.add_argument("--window-rows", type=int, default=None,
                          help="encoder window in 15-fps rows (default and maximum: the positional table)")
    generate.add_argument("--smooth-hz", type=float, default=None,
                          help="cutoff (Hz) of the zero-phase low-pass over the generated 15-fps poses; 0: the "
                               "model's raw output (default: 1 Hz for 3D models, measured on the training dances' "
                               "jerk; none for 2D, as the reference)")
    generate.add_argument("--no-video", action="store_true", help="write dance.npz only")
    generate.add_argument("--video-size", type=int, default=512, help="3D video width and height (default 512)")
    generate.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    generate.set_defaults(run=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    import numpy as np

    from common.staging import check_output_folder, staged_folder
    from live.audio_file import load_song
    from model.dance_revolution.checkpoint import load_dance_model
    from model.dance_revolution.features import FEATURE_RATE
    from model.dance_revolution.generate import (OUTPUT_FPS, dance_arrays, dance_for_song, video_frames,
                                                 write_dance_bvh)
    from model.dance_revolution.render import write_frames_video
    from model.device import pick_device

    if args.video_size < 16 or args.video_size % 2:
        raise InputError(None, f"--video-size must be an even number of pixels >= 16, got {args.video_size}")
    if args.smooth_hz is not None and not 0 <= args.smooth_hz < 7.5:
        raise InputError(None, f"--smooth-hz must be 0 (none) or below 7.5 Hz (half the 15-fps rate), "
                               f"got {args.smooth_hz}")
    check_output_folder(args.out, GENERATE_OUTPUT)
    loaded = load_dance_model(args.checkpoint, device=pick_device(args.device))
    song = load_song(args.song, sample_rate=FEATURE_RATE, min_samples=1)
    dance = dance_for_song(loaded, song.samples, args.song, seed=args.seed, window_rows=args.window_rows,
                           smooth_hz=args.smooth_hz)
    arrays = dance_arrays(dance)
    with staged_folder(args.out, GENERATE_OUTPUT) as out:
        np.savez(out / "dance.npz", **arrays)
        if "pose" in arrays:
            write_dance_bvh(out / "dance.bvh", arrays)
        if not args.no_video:
            frames, size = video_frames(arrays, args.video_size)
            track = load_song(args.song, sample_rate=VIDEO_AUDIO_RATE, min_samples=1).samples  # AAC has no 15,360 Hz
            write_frames_video(out / "dance.mp4", frames, OUTPUT_FPS, size, track, VIDEO_AUDIO_RATE)
    seconds = len(dance.poses) / 15
    print(f"{args.song.name}: {len(dance.poses)} poses at 15 fps ({seconds:.1f} s, {dance.pose_kind}) -> "
          f"{2 * len(dance.poses)} at {OUTPUT_FPS} fps; wrote {args.out}")
    return 0


def add_repair_keypoints(commands: argparse._SubParsersAction) -> None:
    repair = commands.add_parser(
        "repair-keypoints", help="fill missing BODY_25 joints of an OpenPose JSON folder (the reference's method)",
        description="For each missing joint (x == y == -1) take the nearest valid values within 9 frames on each "
                    "side: both found -> their mean (or --time-weighted: linear interpolation), one -> copied. "
                    "Writes OUT (default DIR_repaired) with the same file names.")
    repair.add_argument("folder", type=Path, help="folder of per-frame OpenPose JSON files")
    repair.add_argument("--out", type=Path, default=None, help="output folder (default: FOLDER_repaired)")
    repair.add_argument("--time-weighted", action="store_true", help="interpolate linearly in time, not the mean")
    repair.set_defaults(run=run_repair_keypoints)


def run_repair_keypoints(args: argparse.Namespace) -> int:
    from model.dance_revolution.keypoints import repair_folder

    out = args.out or args.folder.with_name(args.folder.name + "_repaired")
    filled, missing = repair_folder(args.folder, out, time_weighted=args.time_weighted)
    print(f"{args.folder}: filled {filled} joints, {missing} still missing; wrote {out}")
    return 0
