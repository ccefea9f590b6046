"""The one error type for bad user input (files, options)."""

from __future__ import annotations

import os


class InputError(ValueError):
    """Bad user input. ``str(err)`` is one line: ``<path>: <problem>`` (or just ``<problem>`` without a path)."""

    def __init__(self, path: str | os.PathLike[str] | None, problem: str) -> None:
        self.path = None if path is None else os.fspath(path)
        self.problem = " ".join(problem.split())
        super().__init__(f"{self.path}: {self.problem}" if self.path else self.problem)


PICKLED_OBJECTS: str = "holds pickled Python objects, which are refused (only plain numeric arrays are read)"


def numpy_load_problem(err: Exception, otherwise: str) -> str:
    """What a failed ``np.load(..., allow_pickle=False)`` means to a user: :data:`PICKLED_OBJECTS` when the file holds
    objects (never numpy's advice to "set allow_pickle=True"), else ``otherwise`` with numpy's reason appended."""
    text = " ".join(str(err).split())
    if "Object arrays" in text or "Python objects" in text:
        return PICKLED_OBJECTS
    if "allow_pickle" in text:  # numpy takes any file without its magic number for a pickle
        return f"{otherwise} (no numpy header: damaged or another kind of file)"
    return f"{otherwise} ({text[:160]})"
