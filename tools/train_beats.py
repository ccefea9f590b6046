"""Train the learned beat/downbeat activation network (issue 13) and export its weights for the live tracker.

Reads a beat-data folder (``tools/make_beat_data.py``), caches its features, trains
(:mod:`model.beat_training.train`) and writes the best network so far to ``--out`` after every improving epoch.
Torch runs on ``--threads`` CPU threads; the default recipe fits in ``--max-minutes`` on a 2-core CPU.

Usage::

    nice -n 5 .venv/bin/python tools/train_beats.py [--data out/beat_data] [--out assets/beats/beat_activation.npz]
        [--cache out/beat_cache] [--epochs 60] [--max-minutes 30] [--seed 0] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.errors import InputError  # noqa: E402
from live.beat_activation import DEFAULT_WEIGHTS  # noqa: E402
from model.beat_training.train import TrainConfig, train  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("out/beat_data"), help="beat-data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help="weights file to write")
    parser.add_argument("--cache", type=Path, default=Path("out/beat_cache"), help="feature cache folder")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="planned epochs")
    parser.add_argument("--max-minutes", type=float, default=TrainConfig.max_minutes,
                        help="stop after the epoch that passes this many minutes (the schedule shortens to fit)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, chunks and initial weights")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.max_minutes <= 0 or args.threads < 1:
        parser.error("--epochs and --threads must be >= 1 and --max-minutes > 0")
    config = TrainConfig(data_dir=args.data, out_path=args.out, cache_dir=args.cache, epochs=args.epochs,
                         max_minutes=args.max_minutes, seed=args.seed, threads=args.threads)
    try:
        train(config, log=lambda line: print(line, flush=True))
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
