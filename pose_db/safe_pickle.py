"""Reading legacy pickles (AIST++ motions, official SMPL files) without running their code.

:class:`ArrayUnpickler` resolves only the globals that numpy arrays, dtypes and scalars reduce to (numpy 1 and 2
names); a subclass may allow a few more through :meth:`ArrayUnpickler.other_global`. Everything else is refused, so a
malicious pickle fails before anything it names is called.
"""

from __future__ import annotations

import codecs
import pickle
from typing import Any, BinaryIO

import numpy as np
from numpy._core import multiarray, numeric

NUMPY_GLOBALS: dict[tuple[str, str], Any] = {
    **{(m, "_reconstruct"): multiarray._reconstruct for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "scalar"): multiarray.scalar for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "_frombuffer"): numeric._frombuffer for m in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how Python 3 pickles bytes (array data) at protocols 0-2
}
"""The globals numpy arrays, dtypes and scalars need: pure constructors, nothing that touches the system."""


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle named a global outside the allowed set; the message is ``module.name``."""


class ArrayUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays, dtypes and scalars inside plain containers; refuses every other global.

    ``encoding='latin1'`` reads Python 2 pickles (the official SMPL files, AIST++) as numpy expects.
    """

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file, encoding="latin1")

    def find_class(self, module: str, name: str) -> Any:
        allowed = NUMPY_GLOBALS.get((module, name))
        return self.other_global(module, name) if allowed is None else allowed

    def other_global(self, module: str, name: str) -> Any:
        """A global outside :data:`NUMPY_GLOBALS`: refused here; subclasses may allow specific ones."""
        raise RefusedGlobal(f"{module}.{name}")
