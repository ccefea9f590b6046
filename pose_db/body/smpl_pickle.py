"""Read official SMPL ``.pkl`` body files without chumpy and without running any code from the file.

The official files are Python 2 pickles (protocol 2, read with ``encoding="latin1"``) holding numpy arrays, chumpy
``Ch`` objects (their value is the ``x`` entry of the pickled state) and a scipy ``csc_matrix`` (``J_regressor``).
``SmplUnpickler.find_class`` hands out only:

- numpy's array/dtype/scalar reconstruction functions (``numpy.core.multiarray._reconstruct`` etc.),
- ``_codecs.encode`` (how Python 3 pickles ``bytes`` at protocol 2) and ``set`` (chumpy's bookkeeping): pure,
- inert stand-ins for any ``chumpy.*`` class and for scipy's ``csc_matrix``/``csr_matrix``: they only record their
  pickled state, which ``to_numpy`` then turns into plain arrays.

Every other global raises ``InputError(path, "refusing to load ...: unexpected global module.name")`` before it is
looked up, so a hostile file cannot name ``os.system`` or the like. The converted arrays are cached as an ``.npz``
in ``assets/cache/body/`` (keyed by the file's content hash) so later loads skip the unpickling.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from common.errors import InputError
from common.paths import ASSETS_DIR
from pose_db.body.model import REQUIRED_KEYS
from pose_db.safe_pickle import ArrayUnpickler

CACHE_DIR: Path = ASSETS_DIR / "cache" / "body"
"""Converted SMPL files: ``<stem>-<sha1 prefix>.npz`` (git-ignored)."""

EXTRA_GLOBALS: dict[tuple[str, str], Any] = {("__builtin__", "set"): set, ("builtins", "set"): set}
"""Beyond numpy's (``pose_db.safe_pickle``): ``set``, since a chumpy ``Ch`` pickles its ``_dirty_vars`` set, which
protocol 2 writes as a call to ``set``."""

SPARSE_MODULES: tuple[str, ...] = ("scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr", "scipy.sparse._csr")
SPARSE_CLASSES: tuple[str, ...] = ("csc_matrix", "csr_matrix")


class PickledState:
    """An inert placeholder for a pickled object of a class we do not import: keeps only its state."""

    global_name = "object"
    state: dict[str, Any] = {}  # replaced (never mutated) by __setstate__

    def __init__(self, *args: object) -> None:
        self.state = {}

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {"state": state}


class ChumpyObject(PickledState):
    """Stand-in for any ``chumpy`` class; a ``Ch`` keeps its value in ``state["x"]``."""


class SparseMatrix(PickledState):
    """Stand-in for scipy's ``csc_matrix``/``csr_matrix``: ``data``, ``indices``, ``indptr``, ``_shape``."""


def _stand_in(base: type[PickledState], module: str, name: str) -> type[PickledState]:
    """A subclass of ``base`` that remembers which global it replaces (for error messages)."""
    return type(name, (base,), {"global_name": f"{module}.{name}"})


class SmplUnpickler(ArrayUnpickler):
    """Resolves numpy's globals, ``EXTRA_GLOBALS`` and inert stand-ins for chumpy and scipy.sparse classes; anything
    else is an InputError."""

    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file)
        self.path = path

    def other_global(self, module: str, name: str) -> Any:
        if (module, name) in EXTRA_GLOBALS:
            return EXTRA_GLOBALS[(module, name)]
        if module == "chumpy" or module.startswith("chumpy."):
            return _stand_in(ChumpyObject, module, name)
        if module in SPARSE_MODULES and name in SPARSE_CLASSES:
            return _stand_in(SparseMatrix, module, name)
        raise InputError(self.path, f"refusing to load this pickle: unexpected global {module}.{name}")


def to_numpy(value: Any, path: Path) -> Any:
    """Replace stand-ins (recursively through dicts, lists and tuples) by numpy arrays."""
    if isinstance(value, ChumpyObject):
        if "x" not in value.state:
            raise InputError(path, f"unsupported chumpy object {value.global_name} (no value 'x')")
        return np.asarray(to_numpy(value.state["x"], path))
    if isinstance(value, SparseMatrix):
        s = value.state
        cls = scipy.sparse.csr_matrix if value.global_name.endswith("csr_matrix") else scipy.sparse.csc_matrix
        return cls((s["data"], s["indices"], s["indptr"]), shape=tuple(s["_shape"])).toarray()
    if isinstance(value, dict):
        return {k: to_numpy(v, path) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_numpy(v, path) for v in value)
    return value


def read_smpl_pickle(path: Path) -> dict[str, np.ndarray]:
    """Unpickle an SMPL ``.pkl`` safely and return its ``REQUIRED_KEYS`` arrays (float32 geometry, dense)."""
    try:
        with path.open("rb") as f:
            content = to_numpy(SmplUnpickler(f, path).load(), path)
    except InputError:
        raise
    except Exception as err:  # a truncated or foreign file fails inside pickle in many ways
        raise InputError(path, f"cannot read SMPL pickle: {type(err).__name__}: {err}") from err
    if not isinstance(content, dict):
        raise InputError(path, "not an SMPL body model: the pickle does not hold a dict")
    arrays = {k: np.asarray(content[k]) for k in REQUIRED_KEYS if k in content}
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        if key in arrays:
            arrays[key] = arrays[key].astype(np.float32)
    return arrays


def cache_path(path: Path) -> Path:
    """Where the converted copy of SMPL file ``path`` lives: keyed by name and content hash."""
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
    return CACHE_DIR / f"{path.stem}-{digest}.npz"


def load_smpl_pickle(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an official SMPL ``.pkl``: from the cache when converted before, else unpickled and cached."""
    cached = cache_path(path)
    if cached.is_file():
        with np.load(cached, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    arrays = read_smpl_pickle(path)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(cached)
    except OSError:
        pass  # a read-only checkout still works, just without the cache
    return arrays
