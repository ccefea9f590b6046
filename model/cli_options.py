"""Command-line options shared by every command that ranks poses: encoder, checkpoint, bank, body, device."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from common.paths import DEFAULT_BANK
from model.selection import ENCODERS, EncoderChoice, build_retriever

if TYPE_CHECKING:  # torch comes with it; every command's parser imports this module
    from model.retrieval import PoseRetriever


def add_encoder_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--encoder --checkpoint --bank --body --device`` to ``parser``."""
    parser.add_argument("--encoder", choices=ENCODERS, default="auto",
                        help="edsa: the EDSA model (needs the checkpoint); reactive: the weight-free encoder; "
                             "auto (default): edsa when the checkpoint file exists, else reactive")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="EDSA checkpoint (default: checkpoint/edsa_adapter_checkpoint.chkpt)")
    parser.add_argument("--bank", type=Path, default=DEFAULT_BANK,
                        help="pose bank folder (default: the bundled mocap bank, assets/bank)")
    parser.add_argument("--body", type=Path, default=None,
                        help="body model: official SMPL .pkl or a converted .npz (default: checkpoint/SMPL_NEUTRAL.pkl "
                             "if present, else the bundled CC0 body)")
    parser.add_argument("--device", default=None, help="torch device: cpu, cuda, cuda:N, mps (default: best available)")


def check_encoder_options(args: argparse.Namespace) -> None:
    """Check the paths the encoder options name (bank folder, body and checkpoint files), before anything is loaded.

    Raises:
        InputError: a path that is missing or of the wrong kind.
    """
    from common.validation import existing_file, existing_folder

    existing_folder(args.bank, "a pose bank folder")
    if args.body is not None:
        existing_file(args.body, "a body model (.npz in the SMPL layout or an SMPL .pkl)")
    if args.checkpoint is not None:
        existing_file(args.checkpoint, "an EDSA checkpoint file")


@dataclass(frozen=True)
class RankingSetup:
    """What the encoder options open: the bank, the body model and the retriever over them."""

    bank: object
    body: object
    retriever: PoseRetriever
    checkpoint: Path | None


def open_ranking_setup(args: argparse.Namespace, top_k: int) -> RankingSetup:
    """Open the bank and body and build the retriever that ``args`` ask for; checks ``1 <= top_k <= len(bank)``.

    Raises:
        InputError: a missing or malformed bank, body or checkpoint, or ``top_k`` out of range.
    """
    bank, body = open_bank_and_body(args, top_k)
    return finish_ranking_setup(args, bank, body)


def open_bank_and_body(args: argparse.Namespace, top_k: int) -> tuple[object, object]:
    """The first, torch-free half of :func:`open_ranking_setup`: the checked bank (a ``PoseBank``) and body model
    (a ``BodyModel``), enough to draw the body while the encoder loads."""
    from common.errors import InputError
    from pose_db.bank import PoseBank
    from pose_db.body import load_body

    check_encoder_options(args)
    bank = PoseBank.open(args.bank)
    if not 1 <= top_k <= len(bank):
        raise InputError(None, f"--top-k must be between 1 and the bank size ({len(bank)}), got {top_k}")
    return bank, load_body(args.body)


def finish_ranking_setup(args: argparse.Namespace, bank: object, body: object) -> RankingSetup:
    """The second half of :func:`open_ranking_setup`: the retriever ``args`` ask for over ``bank`` and ``body``."""
    choice = EncoderChoice(encoder=args.encoder, checkpoint=args.checkpoint, device=args.device)
    retriever = build_retriever(choice, bank, body)
    checkpoint = choice.checkpoint_path if retriever.encoder_name == "edsa" else None
    return RankingSetup(bank=bank, body=body, retriever=retriever, checkpoint=checkpoint)
