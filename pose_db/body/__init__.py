"""Body models in the SMPL layout: ``load_body(path=None) -> BodyModel``; ``.forward(pose, betas) -> BodyOutput``.

Without a path: ``checkpoint/SMPL_NEUTRAL.pkl`` (or the SMPLify neutral file) when the user put one there, else the
bundled CC0 body ``assets/body/dancepose_cc0_body.npz``. A path may be an ``.npz`` in the SMPL layout or an official
SMPL ``.pkl`` (any gender; read without chumpy by a restricted unpickler, converted once and cached).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common.errors import InputError, numpy_load_problem
from common.validation import existing_file
from pose_db.body.default_body import DEFAULT_BODY_NAME, DEFAULT_BODY_PATH, default_body_path
from pose_db.body.model import JOINT_NAMES, REQUIRED_KEYS, SMPL_PARENTS, BodyModel, BodyOutput, check_arrays
from pose_db.body.smpl_pickle import load_smpl_pickle

__all__ = ["JOINT_NAMES", "SMPL_PARENTS", "BodyModel", "BodyOutput", "load_body", "default_body_path"]


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` (no pickled objects), or InputError when it is not one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as err:  # numpy raises many types (ValueError, EOFError, BadZipFile, ...) for damaged files
        raise InputError(path, numpy_load_problem(err, "cannot read body model")) from None


def _non_finite(arrays: dict[str, np.ndarray]) -> str | None:
    """The first model array (:data:`REQUIRED_KEYS`) that is not numeric or holds NaN or infinite values, or None."""
    for key in REQUIRED_KEYS:
        values = np.asarray(arrays[key])
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            return f"{key} holds NaN or infinite values (damaged body model)"
        if values.dtype.kind not in "fiub":
            return f"{key} has dtype {values.dtype}, expected numbers"
    return None


def _model_name(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """"dancepose-cc0" for the bundled body (or a copy of it), else "smpl:<file name>"."""
    same_file = path.resolve() == DEFAULT_BODY_PATH.resolve()
    return DEFAULT_BODY_NAME if same_file or str(arrays.get("licence", "")) == "CC0-1.0" else f"smpl:{path.name}"


def load_body(path: str | os.PathLike[str] | None = None) -> BodyModel:
    """Load a body model: ``path`` an ``.npz`` (SMPL layout) or an official SMPL ``.pkl``; None picks the default
    (``default_body_path()``). Raises InputError for a missing, unreadable or malformed file."""
    file = existing_file(default_body_path() if path is None else path, "a body model (.npz or SMPL .pkl)")
    suffix = file.suffix.lower()
    if suffix == ".pkl":
        arrays = load_smpl_pickle(file)
    elif suffix == ".npz":
        arrays = _read_npz(file)
    else:
        raise InputError(file, "body model must be an .npz (SMPL layout) or an SMPL .pkl")
    problem = check_arrays(arrays) or _non_finite(arrays)
    if problem:
        raise InputError(file, problem)
    return BodyModel(arrays, _model_name(file, arrays))
