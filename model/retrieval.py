"""Retrievers: from music windows to ranked bank poses, whatever the encoder."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from pose_db.search import PoseSearcher, TopK


class PoseRetriever(Protocol):
    """Ranks bank poses for consecutive music windows.

    ``rank`` is called with windows in time order; retrievers with memory (continuity, novelty) keep it across calls
    until ``reset``.
    """

    encoder_name: str

    def rank(self, windows: np.ndarray, bar_phase: np.ndarray, k: int) -> TopK:
        """Top-``k`` bank entries for each window.

        Args:
            windows: (P, 48480) float32 windows of 24 kHz audio (normalised as the encoder expects).
            bar_phase: (P,) float position of each window centre in the bar, in beats (0 = downbeat).
            k: entries per window.
        """
        ...

    def reset(self) -> None:
        """Forget earlier windows (a new song or stream starts)."""
        ...


class EdsaRetriever:
    """The paper's retrieval: EDSA embedding, then ``logit_scale * q . normalize(db)`` ranking."""

    encoder_name = "edsa"

    def __init__(self, model, searcher: PoseSearcher) -> None:
        """``model`` is a loaded :class:`model.EdsaModel`; ``searcher`` searches the bank on the model's device."""
        self.model = model
        self.searcher = searcher

    def rank(self, windows: np.ndarray, bar_phase: np.ndarray, k: int) -> TopK:
        """Embed each window (batched) and rank the bank; ``bar_phase`` is not used by this encoder."""
        return self.searcher.search(self.model.embed(windows), k, scale=self.model.logit_scale)

    def reset(self) -> None:
        """Stateless: nothing to forget."""
