"""``main.py train`` and ``main.py eval``: fine-tune the adapter on AIST++ / CLIFF-image data and evaluate it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common.errors import InputError
from common.paths import ASSETS_DIR, REPO_ROOT

DEFAULT_CACHE: Path = ASSETS_DIR / "cache" / "training_audio"
"""Decoded, normalised songs and their beats (one .npy each), shared by every run."""


def layer_list(text: str) -> tuple[int, ...]:
    """``"0,3"`` -> (0, 3); ``""`` -> ()."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer indices, got {text!r}") from None


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """``--layout --data --music --resolution --cache --workers --threads --device``."""
    group = parser.add_argument_group("data")
    group.add_argument("--layout", choices=("aist", "cliff"), default="aist",
                       help="aist (default): DATA/motions/*.pkl, DATA/splits/crossmodal_{train,val,test}.txt, "
                            "DATA/ignore_list.txt, music by id in --music; cliff: "
                            "DATA/CLIFF_output/{train,val,test}/npz/<name>_<frame>.npz + one song")
    group.add_argument("--data", type=Path, required=True, help="the dataset folder")
    group.add_argument("--music", type=Path, default=None,
                       help="aist: the music folder (mBR0.wav, ...; default DATA/music); cliff: the song file "
                            "(default: the one audio file in DATA)")
    group.add_argument("--resolution", default="4th",
                       help="aist: positions per beat used as pairs: 4th (default), 8th, 16th")
    group.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                       help=f"decoded-audio cache folder (default {DEFAULT_CACHE.relative_to(REPO_ROOT)})")
    group.add_argument("--workers", type=int, default=2, help="background data-loading processes (default 2)")
    group.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    group.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda when available); under "
                                                      "torchrun each process takes cuda:LOCAL_RANK")


def add_train_commands(commands: argparse._SubParsersAction) -> None:
    """Add the ``train`` and ``eval`` sub-commands."""
    from model.training import METHODS

    train = commands.add_parser(
        "train", help="fine-tune the EDSA adapter (or a baseline) on AIST++ or CLIFF-image data",
        description="Train the adapter on (music window at a beat, SMPL pose at that instant) pairs with a "
                    "contrastive loss over the batch (logit_scale * q . normalize(t)). Backbone frozen except with "
                    "--method full. Writes OUT/best.chkpt and OUT/last.chkpt in the published checkpoint format, "
                    "OUT/state.pt for --resume, OUT/tensorboard and OUT/summary.json. Multi-GPU: torchrun "
                    "--nproc_per_node N main.py train ... (DDP).")
    train.add_argument("--init", type=Path, required=True,
                       help="a MERT-v1-95M Hugging Face snapshot folder (config.json + weights; adapters and head "
                            "start fresh) or an EDSA checkpoint file to fine-tune")
    train.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "train", help="output folder (default out/train)")
    add_data_options(train)
    method = train.add_argument_group("method")
    method.add_argument("--method", choices=METHODS, default="edsa",
                        help="edsa (default, the paper): EDSA adapters + heads; bottleneck: plain bottleneck adapters "
                             "+ heads; linear: heads only (linear probe); lora: LoRA on the self-attention "
                             "projections + heads; full: everything")
    method.add_argument("--adapter-layers", type=layer_list, default=(0,),
                        help="0-based encoder layers given an adapter (edsa, bottleneck), comma-separated "
                             "(default 0, the paper's)")
    method.add_argument("--adapter-bottleneck", type=int, default=None,
                        help="bottleneck width of new adapters (default: --init's, 64 for a MERT snapshot)")
    method.add_argument("--lora-rank", type=int, default=8, help="LoRA rank (default 8)")
    method.add_argument("--lora-alpha", type=float, default=16.0, help="LoRA alpha; scale = alpha / rank (default 16)")
    method.add_argument("--lora-dropout", type=float, default=0.05, help="LoRA dropout (default 0.05)")
    method.add_argument("--count-parameters", action="store_true",
                        help="print the trainable parameter count of every method for --init's architecture and exit")
    optim = train.add_argument_group("optimisation")
    optim.add_argument("--regression-weight", type=float, default=0.0,
                       help="weight of an extra MSE between predicted and target 82-d vectors (default 0: off)")
    optim.add_argument("--batch-size", type=int, default=16, help="windows per micro-batch and process (default 16)")
    optim.add_argument("--accumulate", type=int, default=1, help="micro-batches per optimiser step (default 1)")
    optim.add_argument("--lr", type=float, default=1e-3, help="peak AdamW learning rate (default 1e-3)")
    optim.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay on matrices (default 0.01)")
    optim.add_argument("--warmup-steps", type=int, default=100, help="linear warm-up steps (default 100)")
    optim.add_argument("--max-steps", type=int, default=3000, help="optimiser steps; cosine decay to 0 (default 3000)")
    optim.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                       help="CUDA autocast: auto (default) = bf16 where supported else fp16; always fp32 on CPU")
    optim.add_argument("--seed", type=int, default=0, help="initialisation and data-order seed (default 0)")
    optim.add_argument("--resume", action="store_true", help="continue from OUT/state.pt at its step")
    valid = train.add_argument_group("validation")
    valid.add_argument("--eval-every", type=int, default=200, help="validate and save every N steps (default 200)")
    valid.add_argument("--recall-k", type=int, default=1, help="early-stopping metric: val Recall@k (default 1)")
    valid.add_argument("--patience", type=int, default=5,
                       help="stop after N validations without improvement (default 5; 0: never)")
    valid.add_argument("--eval-batch", type=int, default=32, help="windows per validation batch (default 32)")
    valid.add_argument("--log-every", type=int, default=10, help="TensorBoard logging interval in steps (default 10)")
    train.set_defaults(run=run_train)

    evaluate = commands.add_parser(
        "eval", help="Recall@k, median rank and MPJPE of a checkpoint on a held-out split",
        description="Rank the split's distinct poses (or --bank) for every window of the split and report "
                    "R@1/5/10 of the true pose and of any pose within --tolerance-mm, the median rank, and MPJPE / "
                    "PA-MPJPE (mm, through the body model) of the top-1 pose; also for a random ranker and the "
                    "nearest-pose oracle. Prints a table and writes JSON.")
    evaluate.add_argument("--checkpoint", type=Path, required=True, help="an EDSA checkpoint (e.g. OUT/best.chkpt)")
    add_data_options(evaluate)
    evaluate.add_argument("--split", choices=("train", "val", "test"), default="test", help="split (default test)")
    evaluate.add_argument("--bank", type=Path, default=None,
                          help="rank this pose bank instead of the split's own poses (R@k of the true pose is then "
                               "n/a unless the bank holds every true pose)")
    evaluate.add_argument("--body", type=Path, default=None,
                          help="body model for joints (default: checkpoint/SMPL_NEUTRAL.pkl if present, else the "
                               "bundled CC0 body)")
    evaluate.add_argument("--ks", type=layer_list, default=(1, 5, 10), help="the k of R@k (default 1,5,10)")
    evaluate.add_argument("--tolerance-mm", type=float, default=50.0,
                          help="MPJPE under which a retrieved pose counts as right (default 50 mm)")
    evaluate.add_argument("--batch", type=int, default=32, help="windows per forward pass (default 32)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the random ranker (default 0)")
    evaluate.add_argument("--json", type=Path, default=None,
                          help="report file (default: next to the checkpoint, <name>.<split>.eval.json)")
    evaluate.set_defaults(run=run_eval)


def set_threads(args: argparse.Namespace) -> None:
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)


def data_config(args: argparse.Namespace):
    from model.training.trainer import DataConfig

    return DataConfig(layout=args.layout, root=args.data, cache=args.cache, music=args.music,
                      resolution=args.resolution)


def run_train(args: argparse.Namespace) -> int:
    """The ``train`` command."""
    from model.training.losses import LossConfig
    from model.training.methods import METHODS, MethodConfig, load_source, trainable_count
    from model.training.trainer import Trainer, TrainConfig

    set_threads(args)
    method = MethodConfig(method=args.method, adapter_layers=args.adapter_layers,
                          adapter_bottleneck=args.adapter_bottleneck, lora_rank=args.lora_rank,
                          lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout)
    if args.count_parameters:
        arch = load_source(args.init).arch
        for name in METHODS:
            print(f"{name:<11} {trainable_count(arch, MethodConfig(**{**method.__dict__, 'method': name})):>12,}")
        return 0
    for option in ("batch_size", "accumulate", "max_steps", "eval_every", "recall_k"):
        if getattr(args, option) < 1:
            raise InputError(None, f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    config = TrainConfig(
        init=args.init, data=data_config(args), out=args.out, method=method,
        loss=LossConfig(regression_weight=args.regression_weight), batch_size=args.batch_size,
        accumulate=args.accumulate, lr=args.lr, weight_decay=args.weight_decay, warmup_steps=args.warmup_steps,
        max_steps=args.max_steps, eval_every=args.eval_every, patience=args.patience, recall_k=args.recall_k,
        log_every=args.log_every, workers=args.workers, eval_batch=args.eval_batch, seed=args.seed,
        precision=args.precision, device=args.device, resume=args.resume)
    trainer = Trainer(config)
    if trainer.place.main:
        print(f"method {args.method}: {trainer.trainable_count:,} trainable parameters; starting at step "
              f"{trainer.step} of {args.max_steps}", flush=True)
    trainer.run()
    if trainer.place.main:
        print(f"best val R@{args.recall_k} {trainer.best:.3f} at step {trainer.best_step}; wrote {args.out / 'best.chkpt'}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """The ``eval`` command."""
    import torch

    from model.checkpoint import load_model
    from model.training.evaluate import EvalConfig, embed_pairs, evaluate_retrieval, format_table
    from pose_db.bank import PoseBank
    from pose_db.body import load_body

    set_threads(args)
    model = load_model(args.checkpoint, device=args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    pairs = data_config(args).pairs(args.split)
    gallery = PoseBank.open(args.bank).vectors[:] if args.bank is not None else pairs.gallery()[0]
    queries = embed_pairs(model.embed_tensor, pairs, args.batch, args.workers)
    config = EvalConfig(ks=args.ks, tolerance_mm=args.tolerance_mm, seed=args.seed)
    report = evaluate_retrieval(queries, model.logit_scale, pairs.targets, gallery, load_body(args.body), config)
    print(f"{args.split}: {len(pairs)} windows, gallery of {len(gallery)} poses "
          f"({'bank ' + str(args.bank) if args.bank else 'the split’s distinct poses'})")
    print(format_table(report))
    out = args.json or args.checkpoint.with_name(f"{args.checkpoint.name}.{args.split}.eval.json")
    out.write_text(json.dumps({"checkpoint": str(args.checkpoint), "split": args.split, "windows": len(pairs),
                               "gallery": len(gallery), "bank": None if args.bank is None else str(args.bank),
                               "tolerance_mm": args.tolerance_mm, "results": report}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0
