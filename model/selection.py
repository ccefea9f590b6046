"""Choosing the encoder: the EDSA model when its checkpoint is there, the weight-free reactive encoder otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from common.errors import InputError
from common.paths import DEFAULT_CHECKPOINT

if TYPE_CHECKING:  # torch comes with these; the CLI imports this module to build its parser
    from model.retrieval import PoseRetriever
    from pose_db.bank import PoseBank

EncoderName = Literal["auto", "edsa", "reactive"]
ENCODERS: tuple[str, ...] = ("auto", "edsa", "reactive")


@dataclass(frozen=True)
class EncoderChoice:
    """Which encoder to use.

    Attributes:
        encoder: 'edsa', 'reactive', or 'auto' (EDSA if the checkpoint file exists, else reactive).
        checkpoint: the EDSA checkpoint; None means ``checkpoint/edsa_adapter_checkpoint.chkpt``.
        device: 'cpu', 'cuda', 'cuda:1', 'mps', or None for the best available.
    """

    encoder: EncoderName = "auto"
    checkpoint: Path | None = None
    device: str | None = None

    @property
    def checkpoint_path(self) -> Path:
        return DEFAULT_CHECKPOINT if self.checkpoint is None else Path(self.checkpoint)

    def resolved(self) -> str:
        """'edsa' or 'reactive' (for 'auto': whether the checkpoint file exists; an explicit one must exist)."""
        if self.encoder != "auto":
            return self.encoder
        return "edsa" if self.checkpoint is not None or self.checkpoint_path.is_file() else "reactive"


def build_retriever(choice: EncoderChoice, bank: PoseBank, body: object) -> PoseRetriever:
    """The retriever for ``choice`` over ``bank``; the reactive encoder also uses ``body`` (a ``BodyModel``)."""
    if choice.resolved() == "reactive":
        from model.reactive import ReactiveRetriever

        return ReactiveRetriever(bank, body)
    from model import load_model
    from model.device import pick_device
    from model.retrieval import EdsaRetriever
    from pose_db.search import PoseSearcher

    path = choice.checkpoint_path
    if not path.exists():
        raise InputError(path, "EDSA checkpoint not found: put the published edsa_adapter_checkpoint.chkpt there "
                               "(or pass --checkpoint FILE, or --encoder reactive to run without weights)")
    model = load_model(path, device=pick_device(choice.device))
    return EdsaRetriever(model, PoseSearcher(bank, device=model.device))
