"""The music-to-pose model: the MERT/HuBERT + EDSA network, checkpoint loading and the retrievers.

``load_model`` and ``EdsaModel`` are imported lazily, so that code which only needs the retrievers or the
weight-free encoder does not pay for importing torch and transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from model.checkpoint import load_model
    from model.network import EdsaModel

__all__ = ["EdsaModel", "load_model"]


def __getattr__(name: str) -> object:
    if name == "load_model":
        from model.checkpoint import load_model

        return load_model
    if name == "EdsaModel":
        from model.network import EdsaModel

        return EdsaModel
    raise AttributeError(f"module 'model' has no attribute {name!r}")
