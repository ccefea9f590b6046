"""The picture shown for a bank entry: the photo the pose came from, or else a rendering of the pose.

Renderings are cached on disk in a folder keyed by content (:func:`render_cache_dir`): the bank's vectors, the body
model's geometry and the render size. Two banks with the same folder name, a rebuilt bank or another body never share
pictures. Cache files are written atomically (a temporary sibling renamed into place) and checked when first used: a
cut-short or damaged file is rendered again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from common.errors import InputError
from common.paths import ASSETS_DIR
from common.staging import WRITE_ERRNOS, write_error
from pose_db.bank import PoseBank

RENDER_CACHE: Path = ASSETS_DIR / "cache" / "renders"
"""Where rendered pictures are cached, one folder per (bank content, body, size, style) key (git-ignored)."""
RENDER_STYLE: str = "pyrender-v1"
"""Changes whenever the look of a rendering changes, so that old cached pictures are not reused."""
_PROBE_POSE: np.ndarray = np.full((1, 72), 0.3, np.float32)
"""A fixed non-rest pose whose posed mesh, with the rest mesh, fingerprints a body (geometry and skinning)."""


def body_fingerprint(body) -> str:
    """A hash of what a body model renders: its name, faces, and its mesh at rest and in a fixed pose."""
    digest = hashlib.sha1(body.name.encode())
    digest.update(np.ascontiguousarray(body.faces).tobytes())
    for pose in (np.zeros_like(_PROBE_POSE), _PROBE_POSE):
        digest.update(np.ascontiguousarray(body.forward(pose).vertices, np.float32).tobytes())
    return digest.hexdigest()


def render_cache_dir(bank: PoseBank, body, size: int, root: Path = RENDER_CACHE) -> Path:
    """The cache folder for renderings of ``bank``'s poses with ``body`` at ``size`` x ``size`` pixels:
    ``root/<bank folder name>-<key>`` where the key hashes the bank's vectors, the body and the size and style."""
    digest = hashlib.sha1(f"{RENDER_STYLE} {size}x{size} {body_fingerprint(body)}".encode())
    vectors = bank.vectors
    for start in range(0, len(vectors), 65_536):
        digest.update(np.ascontiguousarray(vectors[start : start + 65_536], np.float32).tobytes())
    return root / f"{bank.root.name}-{digest.hexdigest()[:16]}"


def is_whole_image(path: Path) -> bool:
    """Whether ``path`` is a complete, decodable image file (a cut-short PNG is not)."""
    try:
        with Image.open(path) as image:
            image.load()
        return True
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


class PosePictures:
    """Picture files for bank entries.

    An entry's own image (the bank's ``image_path``) is used when it exists; otherwise the pose is rendered once with
    the body model into ``render_dir/<index>.png``.
    """

    def __init__(self, bank: PoseBank, render_dir: Path, make_renderer: Callable[[], object] | None) -> None:
        """``render_dir`` should come from :func:`render_cache_dir`; ``make_renderer`` builds a
        :class:`pose_db.render.PoseRenderer` on first need (None: no rendering)."""
        self.bank = bank
        self.render_dir = render_dir
        self._make_renderer = make_renderer
        self._renderer = None
        self._checked: set[Path] = set()

    def path(self, index: int) -> Path:
        """The picture of bank entry ``index``; renders it if the bank has none (or its cached rendering is damaged).

        Raises:
            InputError: the bank's own picture is not a readable image, or the cache cannot be written.
        """
        own = self.bank.image_path(index)
        if own is not None and own.is_file():
            return self._checked_own(own)
        target = self.render_dir / f"{index}.png"
        if target not in self._checked:
            if not is_whole_image(target):
                self._render(index, target)
            self._checked.add(target)
        return target

    def _checked_own(self, own: Path) -> Path:
        if own not in self._checked:
            if not is_whole_image(own):
                raise InputError(own, "bank picture is not a readable image (damaged or not an image file)")
            self._checked.add(own)
        return own

    def _render(self, index: int, target: Path) -> None:
        """Render entry ``index`` and write it to ``target`` atomically (temporary sibling, then rename)."""
        if self._make_renderer is None:
            raise InputError(self.bank.root, f"bank entry {index} has no image and no body model was given to "
                                             "render it")
        if self._renderer is None:
            self._renderer = self._make_renderer()
        picture = Image.fromarray(self._renderer.render(self.bank.vectors[index]))
        try:
            save_atomically(picture, target)
        except OSError as err:
            if err.errno in WRITE_ERRNOS:
                raise write_error(target.parent, err) from None
            raise


def save_atomically(picture: Image.Image, target: Path) -> None:
    """Write ``picture`` as a PNG to ``target`` through a temporary sibling renamed into place (never half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".png")
    try:
        with os.fdopen(handle, "wb") as out:
            picture.save(out, format="PNG")
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
