"""Pose banks: the poses music is matched against, stored so that a million entries open instantly.

Bank format (``dancepose-pose-bank``, version 1)
-----------------------------------------------
A bank is a folder. Every array is a plain ``.npy`` file opened with ``np.load(mmap_mode="r")``: opening reads only
the headers, entries are paged in on use. N is the number of entries.

- ``bank.json``: the header, a JSON object (below).
- ``vectors.npy``: float32 (N, 82). 10 SMPL betas then 72 axis-angle pose values (24 joints x 3, SMPL joint order,
  radians): the reference's ``poseshape_82`` layout.
- ``frame_ids.npy``: int64 (N,). The entry's frame number in its source (video or motion, at its own frame rate),
  -1 when unknown.
- ``source_ids.npy``: int32 (N,). Index into the header's ``sources`` list.
- ``names_utf8.npy``: uint8 (B,), the entry names (human labels, not necessarily unique) in UTF-8, concatenated;
  ``names_offsets.npy``: int64 (N + 1,), entry i's name is ``names_utf8[offsets[i]:offsets[i + 1]]``.
- ``image_paths_utf8.npy`` and ``image_paths_offsets.npy``: only when ``has_images``; the same scheme for each entry's
  image file, relative to the bank folder (POSIX separators); empty for an entry without an image. A bank shows only
  its own pictures: :func:`write_bank` copies an image from outside the folder into ``images/<index>/<name>``, and a
  stored path that leads outside the folder (absolute, ``..``, a link) is refused on reading.

``bank.json`` holds ``format`` ("dancepose-pose-bank"), ``version`` (1), ``count`` (N), ``dim`` (82), ``layout``
(the vector layout in words), ``sources`` (list of source labels, e.g. a motion name or ``CLIFF_output/train``),
``has_images`` (bool), ``image_count`` (entries with an image path) and ``created`` (``utc`` ISO time plus the
importer's information: importer name, inputs, options).

Banks are written by :func:`write_bank` into a temporary sibling folder and renamed into place when complete;
rebuilding a bank replaces its whole folder (images kept inside it included).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from common.constants import NUM_BETAS, NUM_JOINTS, POSE_DIM
from common.errors import InputError, numpy_load_problem
from common.staging import OutputKind, staged_folder
from common.validation import existing_folder

FORMAT_NAME: str = "dancepose-pose-bank"
FORMAT_VERSION: int = 1
HEADER_FILE: str = "bank.json"
VECTORS_FILE: str = "vectors.npy"
FRAME_IDS_FILE: str = "frame_ids.npy"
SOURCE_IDS_FILE: str = "source_ids.npy"
NAMES_COLUMN: str = "names"
IMAGES_COLUMN: str = "image_paths"
LAYOUT: str = (f"{NUM_BETAS} SMPL betas then {NUM_JOINTS * 3} axis-angle pose values "
               f"({NUM_JOINTS} joints x 3, SMPL joint order, radians), float32")
IMAGES_DIR: str = "images"
"""Where a bank keeps its own pictures (copied in by :func:`write_bank`, or thumbnails rendered into it)."""
BANK_OUTPUT = OutputKind(
    what="a pose bank", marker=HEADER_FILE, format=FORMAT_NAME,
    entries=(HEADER_FILE, VECTORS_FILE, FRAME_IDS_FILE, SOURCE_IDS_FILE,
             *(f"{column}_{part}.npy" for column in (NAMES_COLUMN, IMAGES_COLUMN) for part in ("utf8", "offsets")),
             IMAGES_DIR, f"{IMAGES_DIR}/*", f"{IMAGES_DIR}/*/*"),
)
"""What a bank folder holds: only such a folder is ever replaced by :func:`write_bank`."""
_NORMALISE_ROWS: int = 65_536
"""Rows normalised per block by :meth:`PoseBank.unit_vectors` (bounds its temporary memory)."""


class _Strings:
    """A memory-mapped column of UTF-8 strings: a byte blob and (N + 1,) int64 offsets."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, blob_file: Path) -> None:
        self._blob = blob
        self._offsets = offsets
        self._blob_file = blob_file

    def __getitem__(self, i: int) -> str:
        start, stop = int(self._offsets[i]), int(self._offsets[i + 1])
        if not 0 <= start <= stop <= len(self._blob):
            raise InputError(self._blob_file, f"entry {i} has offsets {start}..{stop} outside the data (corrupt bank)")
        try:
            return self._blob[start:stop].tobytes().decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(self._blob_file, f"entry {i} is not valid UTF-8 (corrupt bank)") from None


class PoseBank:
    """An opened pose bank (see the module docstring for the format); read-only.

    Attributes:
        root: the bank folder (absolute).
        header: the parsed ``bank.json``.
        vectors: (N, 82) float32 memory map, 10 betas then 72 axis-angle values per row.
        sources: source labels; :meth:`source` maps an entry to one.
    """

    def __init__(self, root: Path, header: dict, arrays: dict[str, np.ndarray], names: _Strings,
                 images: _Strings | None) -> None:
        """Use :meth:`open`."""
        self.root = root
        self.header = header
        self.vectors: np.ndarray = arrays[VECTORS_FILE]
        self.sources: list[str] = list(header["sources"])
        self._frame_ids = arrays[FRAME_IDS_FILE]
        self._source_ids = arrays[SOURCE_IDS_FILE]
        self._names = names
        self._images = images
        self._unit: np.ndarray | None = None

    @classmethod
    def open(cls, path: str | Path) -> PoseBank:
        """Open the bank folder ``path``, checking its header and array headers (no entry data is read).

        Raises:
            InputError: naming the offending file, for a missing or foreign folder, a missing or truncated file, a
                wrong shape (vectors must be (count, 82)) or a wrong dtype.
        """
        root = existing_folder(path, "a pose bank folder").resolve()
        header = _read_header(root / HEADER_FILE)
        count = header["count"]
        arrays = {
            VECTORS_FILE: _open_array(root / VECTORS_FILE, np.float32, (count, POSE_DIM)),
            FRAME_IDS_FILE: _open_array(root / FRAME_IDS_FILE, np.int64, (count,)),
            SOURCE_IDS_FILE: _open_array(root / SOURCE_IDS_FILE, np.int32, (count,)),
        }
        names = _open_strings(root, NAMES_COLUMN, count)
        images = _open_strings(root, IMAGES_COLUMN, count) if header["has_images"] else None
        return cls(root, header, arrays, names, images)

    def __len__(self) -> int:
        return len(self.vectors)

    def __repr__(self) -> str:
        return f"PoseBank({str(self.root)!r}, {len(self)} entries)"

    @property
    def has_images(self) -> bool:
        """Whether any entry has an image path."""
        return self._images is not None

    def name(self, i: int) -> str:
        """Entry ``i``'s name (a human label, e.g. the npz stem or ``<motion>_f<frame>``)."""
        return self._names[self._index(i)]

    def frame_id(self, i: int) -> int:
        """Entry ``i``'s frame number in its source, or -1 when unknown."""
        return int(self._frame_ids[self._index(i)])

    def source(self, i: int) -> str:
        """The label of entry ``i``'s source (one of :attr:`sources`)."""
        source_id = int(self._source_ids[self._index(i)])
        if not 0 <= source_id < len(self.sources):
            raise InputError(self.root / SOURCE_IDS_FILE, f"entry {i} has source id {source_id}, but bank.json lists "
                                                          f"{len(self.sources)} sources (corrupt bank)")
        return self.sources[source_id]

    def source_counts(self) -> np.ndarray:
        """(len(sources),) int64 number of entries from each source (reads all source ids)."""
        ids = np.asarray(self._source_ids)
        if not (0 <= ids.min() and ids.max() < len(self.sources)):
            raise InputError(self.root / SOURCE_IDS_FILE,
                             f"source ids outside 0..{len(self.sources) - 1} (corrupt bank)")
        return np.bincount(ids, minlength=len(self.sources))

    def image_path(self, i: int) -> Path | None:
        """Absolute path of entry ``i``'s image, or None when it has none (the file itself may be missing).

        Raises:
            InputError: the stored path leads outside the bank folder (a bank may only show its own pictures).
        """
        if self._images is None:
            return None
        stored = self._images[self._index(i)]
        if not stored:
            return None
        column = self.root / f"{IMAGES_COLUMN}_utf8.npy"
        if "\0" in stored:
            raise InputError(column, f"entry {i}'s image path holds a NUL byte (corrupt bank)")
        path = (self.root / stored).resolve()
        if not path.is_relative_to(self.root):
            raise InputError(column, f"entry {i}'s image {stored!r} lies outside the bank folder; refusing to read it "
                                     "(build the bank again: `bank build` copies pictures in)")
        return path

    def unit_vectors(self) -> np.ndarray:
        """(N, 82) float32 rows divided by their L2 norms, as the reference does (``db / db.norm(dim=-1)`` in float32
        torch); computed once and cached.

        Raises:
            InputError: naming ``vectors.npy`` and the first row with NaN/inf values or all zeros.
        """
        if self._unit is None:
            self._unit = _normalise_rows(self.vectors, self.root / VECTORS_FILE)
        return self._unit

    def _index(self, i: int) -> int:
        index = int(i)
        if not 0 <= index < len(self):
            raise IndexError(f"bank entry {i} out of range 0..{len(self) - 1}")
        return index


def write_bank(path: str | Path, vectors: np.ndarray, *, names: Sequence[str], sources: Sequence[str],
               frame_ids: Sequence[int] | np.ndarray, image_paths: Sequence[str | Path | None] | None = None,
               info: dict | None = None) -> Path:
    """Write a bank folder atomically: into a temporary sibling, renamed to ``path`` when complete.

    An existing bank at ``path`` is replaced; any other existing, non-empty folder is refused.

    Args:
        path: the bank folder to create.
        vectors: (N, 82) real array, N >= 1, 10 betas then 72 axis-angle values; stored as float32.
        names: N entry names.
        sources: N source labels, one per entry (stored once each in ``bank.json``).
        frame_ids: N integer frame numbers (-1 when unknown).
        image_paths: N image files or None (no image), or None for a bank without images. Stored relative to the bank
            folder when inside it; a file outside it is copied into ``images/<index>/<file name>``.
        info: creation information stored under ``created`` in ``bank.json`` (JSON-serialisable).

    Returns:
        The absolute bank folder.

    Raises:
        InputError: for wrong shapes or lengths, NaN/inf values, all-zero rows, or a foreign folder at ``path``.
    """
    root = Path(path).resolve()
    rows = _checked_vectors(root, vectors)
    count = len(rows)
    frames = _checked_frame_ids(root, frame_ids, count)
    for label, column in (("names", names), ("sources", sources), ("image_paths", image_paths)):
        if column is not None and len(column) != count:
            raise InputError(root, f"{label} has {len(column)} entries for {count} vectors")
    source_list = list(dict.fromkeys(str(s) for s in sources))
    lookup = {s: i for i, s in enumerate(source_list)}
    stored_images = None if image_paths is None else [_stored_image_path(p, i, root) for i, p in enumerate(image_paths)]
    image_count = 0 if stored_images is None else sum(1 for s in stored_images if s)
    header = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "count": count, "dim": POSE_DIM, "layout": LAYOUT,
        "sources": source_list, "has_images": image_count > 0, "image_count": image_count,
        "created": {"utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), **(info or {})},
    }
    with staged_folder(root, BANK_OUTPUT) as staging:
        np.save(staging / VECTORS_FILE, rows)
        np.save(staging / FRAME_IDS_FILE, frames)
        np.save(staging / SOURCE_IDS_FILE, np.fromiter((lookup[str(s)] for s in sources), np.int32, count))
        _save_strings(staging, NAMES_COLUMN, [str(n) for n in names])
        if header["has_images"]:
            _copy_outside_images(staging, image_paths, stored_images, root)
            _save_strings(staging, IMAGES_COLUMN, stored_images)
        (staging / HEADER_FILE).write_text(json.dumps(header, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return root


def _read_header(file: Path) -> dict:
    if not file.is_file():
        raise InputError(file, "missing: not a pose bank folder (build one with `main.py bank build`)")
    try:
        header = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(file, f"not a readable JSON header ({err})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise InputError(file, f"not a {FORMAT_NAME} header")
    if header.get("version") != FORMAT_VERSION:
        raise InputError(file, f"format version {header.get('version')!r}; this dancepose reads version "
                               f"{FORMAT_VERSION}")
    if header.get("dim") != POSE_DIM:
        raise InputError(file, f"dim is {header.get('dim')!r}, expected {POSE_DIM} ({LAYOUT})")
    count = header.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise InputError(file, f"count is {count!r}, expected a positive integer")
    if not isinstance(header.get("sources"), list) or not isinstance(header.get("has_images"), bool):
        raise InputError(file, "missing or malformed 'sources' / 'has_images'")
    return header


def _open_array(file: Path, dtype: type[np.generic], shape: tuple[int, ...]) -> np.ndarray:
    """Memory-map ``file`` and check its dtype and shape against the header's (one clear error each)."""
    if not file.is_file():
        raise InputError(file, "missing from the bank folder")
    try:
        array = np.load(file, mmap_mode="r", allow_pickle=False)
    except Exception as err:  # numpy raises many types (ValueError, EOFError, SyntaxError, ...) for damaged files
        raise InputError(file, numpy_load_problem(err, "truncated or not a .npy array")) from None
    if array.shape != shape:
        raise InputError(file, f"shape {array.shape}, expected {shape} (bank.json count {shape[0]}"
                               + (f", rows of {POSE_DIM} values)" if len(shape) == 2 else ")"))
    if array.dtype != dtype:
        raise InputError(file, f"dtype {array.dtype}, expected {np.dtype(dtype)}")
    return array


def _open_strings(root: Path, column: str, count: int) -> _Strings:
    blob_file = root / f"{column}_utf8.npy"
    offsets_file = root / f"{column}_offsets.npy"
    offsets = _open_array(offsets_file, np.int64, (count + 1,))
    if not blob_file.is_file():
        raise InputError(blob_file, "missing from the bank folder")
    blob = _open_array(blob_file, np.uint8, (int(offsets[-1]),))
    if offsets[0] != 0:
        raise InputError(offsets_file, f"starts at {offsets[0]}, expected 0 (corrupt bank)")
    return _Strings(blob, offsets, blob_file)


def _save_strings(folder: Path, column: str, values: Sequence[str]) -> None:
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)), out=offsets[1:])
    np.save(folder / f"{column}_utf8.npy", np.frombuffer(b"".join(encoded), np.uint8))
    np.save(folder / f"{column}_offsets.npy", offsets)


def _normalise_rows(vectors: np.ndarray, file: Path) -> np.ndarray:
    """Row-normalise (N, 82) float32 vectors block by block; InputError on the first non-finite or zero row."""
    import torch  # here, not at import: the renderer opens banks without torch

    unit = np.empty(vectors.shape, np.float32)
    for start in range(0, len(vectors), _NORMALISE_ROWS):
        block = torch.from_numpy(np.array(vectors[start : start + _NORMALISE_ROWS], np.float32))
        _check_rows(file, block.numpy(), start)
        unit[start : start + len(block)] = (block / block.norm(dim=-1, keepdim=True)).numpy()
    return unit


def _check_rows(file: Path, rows: np.ndarray, first: int = 0) -> None:
    """InputError naming ``file`` and the first row (numbered from ``first``) with NaN/inf or all zeros."""
    bad = ~np.isfinite(rows).all(axis=1)
    if bad.any():
        raise InputError(file, f"row {first + int(np.argmax(bad))} has NaN or infinite values")
    zero = ~rows.any(axis=1)
    if zero.any():
        raise InputError(file, f"row {first + int(np.argmax(zero))} is all zeros (it has no direction to rank by)")


def _checked_vectors(root: Path, vectors: np.ndarray) -> np.ndarray:
    array = np.asarray(vectors)
    if array.ndim != 2 or array.shape[1] != POSE_DIM or len(array) == 0:
        raise InputError(root, f"vectors have shape {array.shape}, expected (N, {POSE_DIM}) with N >= 1")
    if array.dtype.kind not in "fiu":
        raise InputError(root, f"vectors have dtype {array.dtype}, expected real numbers")
    rows = np.ascontiguousarray(array, dtype=np.float32)
    _check_rows(root / VECTORS_FILE, rows)
    return rows


def _checked_frame_ids(root: Path, frame_ids: Sequence[int] | np.ndarray, count: int) -> np.ndarray:
    frames = np.asarray(frame_ids)
    if frames.shape != (count,) or frames.dtype.kind not in "iu":
        raise InputError(root, f"frame_ids must be {count} integers, got shape {frames.shape} dtype {frames.dtype}")
    return frames.astype(np.int64)


def _stored_image_path(image: str | Path | None, index: int, root: Path) -> str:
    """How entry ``index``'s image path is stored: '' for none, POSIX relative to the bank folder; an image outside
    the folder gets the path of its copy, ``images/<index>/<file name>`` (see :func:`_copy_outside_images`)."""
    if image is None or str(image) == "":
        return ""
    absolute = Path(image).resolve()
    if absolute.is_relative_to(root):
        return absolute.relative_to(root).as_posix()
    if not absolute.is_file():
        raise InputError(absolute, f"image of bank entry {index} is not a file")
    return f"{IMAGES_DIR}/{index}/{absolute.name}"


def _copy_outside_images(staging: Path, images: Sequence[str | Path | None], stored: list[str], root: Path) -> None:
    """Copy every image that lies outside the bank folder to its stored place in ``staging``."""
    for image, relative in zip(images, stored):
        if relative and not Path(image).resolve().is_relative_to(root):
            target = staging / relative
            target.parent.mkdir(parents=True)
            shutil.copyfile(image, target)

