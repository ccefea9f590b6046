"""Writing a folder atomically: build it in a hidden sibling, swap it in only when complete."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from common.errors import InputError


@contextmanager
def staged_folder(target: Path, replaceable: Callable[[Path], bool], what: str) -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; on success it replaces ``target``, on failure it is removed.

    An existing ``target`` is replaced only if it is an empty folder or ``replaceable(target)`` says it is one of
    ours; otherwise :class:`InputError` is raised before anything is written. The old folder stays whole until the new
    one is complete, so an interrupted run loses nothing. The staging folder gets the usual umask permissions.

    Args:
        target: the folder to write.
        replaceable: whether an existing non-empty folder may be replaced.
        what: what ``target`` should be, for the error ("a pose bank", "a dancepose output folder").
    """
    target = Path(target).absolute()
    if target.exists() and not (target.is_dir() and (not any(target.iterdir()) or replaceable(target))):
        raise InputError(target, f"exists and is not {what}; refusing to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if not target.exists():
        staging.rename(target)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    target.rename(retired / target.name)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
