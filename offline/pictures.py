"""The picture shown for a bank entry: the photo the pose came from, or else a rendering of the pose."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image

from pose_db.bank import PoseBank


class PosePictures:
    """Picture files for bank entries.

    An entry's own image (the bank's ``image_path``) is used when it exists; otherwise the pose is rendered once with
    the body model into ``render_dir/<index>.png``.
    """

    def __init__(self, bank: PoseBank, render_dir: Path, make_renderer: Callable[[], object] | None) -> None:
        """``make_renderer`` builds a :class:`pose_db.render.PoseRenderer` on first need (None: no rendering)."""
        self.bank = bank
        self.render_dir = render_dir
        self._make_renderer = make_renderer
        self._renderer = None

    def path(self, index: int) -> Path:
        """The picture of bank entry ``index``; renders it if the bank has none."""
        own = self.bank.image_path(index)
        if own is not None and own.is_file():
            return own
        target = self.render_dir / f"{index}.png"
        if not target.exists():
            self._render(index, target)
        return target

    def _render(self, index: int, target: Path) -> None:
        if self._make_renderer is None:
            raise FileNotFoundError(f"bank entry {index} has no image and no body model was given to render it")
        if self._renderer is None:
            self._renderer = self._make_renderer()
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(self._renderer.render(self.bank.vectors[index])).save(target)
