"""Importers: pose sources (CLIFF outputs, AIST++ motions, joint positions fitted to SMPL: ``joints``) ->
:class:`ImportedPoses`, written with
:func:`pose_db.bank.write_bank`.

Each importer reads its inputs in a fixed order, validates every file (one :class:`common.errors.InputError` naming
the file on bad input) and shows a tqdm progress bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.errors import InputError, numpy_load_problem
from pose_db.bank import write_bank


@dataclass(frozen=True)
class ImportedPoses:
    """Poses read from a source, ready to be written as a bank.

    Attributes:
        vectors: (N, 82) float32, 10 betas then 72 axis-angle values.
        names: N entry names.
        sources: N source labels (e.g. ``CLIFF_output/train``, an npz or motion file name).
        frame_ids: (N,) int64 frame numbers in the source, -1 when unknown.
        image_paths: N image files or None each, or None when the source has no images.
        info: creation information for ``bank.json`` (importer name, inputs, options).
    """

    vectors: np.ndarray
    names: list[str]
    sources: list[str]
    frame_ids: np.ndarray
    image_paths: list[Path | None] | None = None
    info: dict = field(default_factory=dict)

    def write(self, path: str | Path) -> Path:
        """Write these poses as a bank folder at ``path`` (atomically); returns the absolute folder."""
        return write_bank(path, self.vectors, names=self.names, sources=self.sources, frame_ids=self.frame_ids,
                          image_paths=self.image_paths, info=self.info)


def read_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Arrays ``keys`` of the .npz archive ``path``, loaded without pickle (object arrays are refused).

    Raises:
        InputError: naming ``path``, when it is unreadable, not an .npz archive, lacks a key or holds pickled objects.
    """
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as err:  # numpy raises many types (ValueError, EOFError, BadZipFile, ...) for damaged files
        raise InputError(path, numpy_load_problem(err, "not a readable .npz archive")) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InputError(path, "a single .npy array, expected an .npz archive")
    with archive:
        missing = [key for key in keys if key not in archive.files]
        if missing:
            raise InputError(path, f"no {missing[0]!r} array (it has: {', '.join(archive.files) or 'nothing'})")
        try:
            return {key: archive[key] for key in keys}
        except Exception as err:  # as above, for a damaged member of the archive
            raise InputError(path, numpy_load_problem(err, "unreadable array")) from None


def real_array(path: Path, key: str, array: np.ndarray) -> np.ndarray:
    """``array`` (the ``key`` array of ``path``) as float32, refusing non-numeric data and NaN/inf values."""
    if array.dtype.kind not in "fiu":
        raise InputError(path, f"{key} has dtype {array.dtype}, expected real numbers")
    values = np.asarray(array, np.float32)
    if not np.isfinite(values).all():
        raise InputError(path, f"{key} has NaN or infinite values")
    return values
