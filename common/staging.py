"""Writing a folder atomically, and the one guard that decides whether an existing folder may be replaced.

Every writer of a whole folder (a retrieval, a pose bank, a bank's thumbnails) describes what it writes as an
:class:`OutputKind` and writes through :func:`staged_folder`: the new folder is built in a hidden sibling and swapped in
only when complete. An existing folder is replaced only when it is empty or verifiably an earlier result of the same
writer (:func:`check_output_folder`): its marker file names the writer's format and every entry in it is one the writer
makes. Anything else (a foreign file, a symbolic link, a mount point) is refused with one line before any work.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from common.errors import InputError

WRITE_ERRNOS: frozenset[int] = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                                          errno.EFBIG, errno.EBUSY, errno.EXDEV})
"""OS errors that mean "this place cannot be written" (full disk, read-only, no permission, mount point)."""


@dataclass(frozen=True)
class OutputKind:
    """What a folder writer makes, so that only its own earlier results are ever replaced.

    Attributes:
        what: a description for messages ("a pose bank", "a dancepose output folder").
        marker: the JSON file whose ``format`` field identifies an earlier result, or None (no marker, e.g. a folder
            of thumbnails: the entry patterns alone decide).
        format: the value of the marker's ``format`` field.
        entries: patterns (``fnmatch`` per path component, ``/``-separated, relative to the folder) of every file and
            folder the writer makes; an existing folder holding anything else is not replaced.
    """

    what: str
    marker: str | None
    format: str | None
    entries: tuple[str, ...]

    def owns(self, relative: str) -> bool:
        """Whether the entry at ``relative`` (POSIX, relative to the folder) is one this writer makes."""
        parts = relative.split("/")
        return any(_match_parts(parts, pattern.split("/")) for pattern in self.entries)


def _match_parts(parts: list[str], pattern: list[str]) -> bool:
    return len(parts) == len(pattern) and all(fnmatchcase(part, p) for part, p in zip(parts, pattern))


def marker_format(file: Path) -> str | None:
    """The ``format`` field of the JSON object in ``file``, or None when it is missing or not such a file."""
    try:
        with file.open(encoding="utf-8") as handle:
            content = json.load(handle)
    except (OSError, ValueError):
        return None
    return content.get("format") if isinstance(content, dict) else None


def foreign_entry(folder: Path, kind: OutputKind) -> str | None:
    """The first entry of ``folder`` (relative path) that ``kind`` does not make, a symbolic link, or None."""
    for current, dirs, files in os.walk(folder):
        for name in sorted(dirs) + sorted(files):
            path = Path(current) / name
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink() or not kind.owns(relative):
                return relative
    return None


def check_output_folder(target: str | os.PathLike[str], kind: OutputKind) -> Path:
    """Check, before any work, that ``target`` can be written as a ``kind`` folder; return it absolute.

    Raises:
        InputError: ``target`` is a file, a mount point, a folder that is not an earlier ``kind`` result (foreign
            files, no or another marker), or its parent cannot be created or written.
    """
    target = Path(target).absolute()
    if target.is_symlink():
        raise InputError(target, f"is a symbolic link; refusing to replace it with {kind.what}")
    if target.exists():
        _check_replaceable(target, kind)
    check_parent_writable(target)
    return target


def _check_replaceable(target: Path, kind: OutputKind) -> None:
    if not target.is_dir():
        raise InputError(target, f"exists and is not a folder; refusing to replace it with {kind.what}")
    if os.path.ismount(target):
        raise InputError(target, f"is a mount point, which cannot be replaced as a whole; write {kind.what} into a "
                                 "folder inside it")
    if not any(target.iterdir()):
        return
    if kind.marker is not None and marker_format(target / kind.marker) != kind.format:
        raise InputError(target, f"exists and is not {kind.what}; refusing to replace it (it has no {kind.marker} "
                                 f"of format {kind.format!r})")
    foreign = foreign_entry(target, kind)
    if foreign is not None:
        raise InputError(target, f"holds {foreign!r}, which is not part of {kind.what}; refusing to replace it")


def check_parent_writable(target: Path) -> None:
    """The nearest existing ancestor of ``target`` must be a folder this process may create entries in."""
    ancestor = target.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(ancestor, f"is not a folder, so {target.name!r} cannot be created in it")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(ancestor, "is not writable (read-only file system or no permission)")


def write_error(target: Path, err: OSError) -> InputError:
    """The one-line error for an OS error while writing ``target``."""
    reason = os.strerror(err.errno) if err.errno else str(err)
    return InputError(target, f"cannot write it: {reason.lower()}; nothing was written")


@contextmanager
def staged_folder(target: str | os.PathLike[str], kind: OutputKind) -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; on success it replaces ``target``, on failure it is removed.

    An existing ``target`` is replaced only if :func:`check_output_folder` accepts it (checked again here, just
    before writing). The old folder stays whole until the new one is complete, so an interrupted run loses nothing. A
    full disk, a read-only file system or a refused rename becomes one :class:`InputError` and leaves no staging
    folder behind. The staging folder gets the usual umask permissions.
    """
    target = check_output_folder(target, kind)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    except OSError as err:
        raise write_error(target, err) from None
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    try:
        yield staging
        _swap_in(staging, target)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        if err.errno in WRITE_ERRNOS:
            raise write_error(target, err) from None
        raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_in(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, retiring an existing ``target`` first (restored if the swap fails)."""
    if not target.exists():
        staging.rename(target)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    try:
        target.rename(retired / target.name)
    except OSError:
        retired.rmdir()
        raise
    try:
        staging.rename(target)
    except OSError:
        (retired / target.name).rename(target)
        retired.rmdir()
        raise
    shutil.rmtree(retired, ignore_errors=True)
