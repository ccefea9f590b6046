"""Checking what a user typed, before any heavy work: paths that must exist, files to be written, numbers in range.

Every command runs its checks in one step before it opens a bank, a body or a model, so a typo costs no waiting.
Each check raises :class:`common.errors.InputError` with one line naming the path or option, or returns the value.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Collection, Sequence
from pathlib import Path

from common.errors import InputError
from common.staging import check_parent_writable


def existing_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a Path; it must be a readable regular file (``what`` names it: "an audio file")."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, f"is a directory, expected {what}")
    if not path.exists():
        raise InputError(path, "no such file" if not path.is_symlink() else "is a broken symbolic link")
    if not path.is_file():
        raise InputError(path, f"is not a regular file, expected {what}")
    if not os.access(path, os.R_OK):
        raise InputError(path, "is not readable (permission denied)")
    return path


def existing_folder(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a Path; it must be a folder (``what`` names it: "a pose bank folder")."""
    path = Path(path)
    if path.is_dir():
        return path
    if path.exists():
        raise InputError(path, f"is a file, expected {what}")
    raise InputError(path, f"no such folder, expected {what}")


def folder_files(folder: str | os.PathLike[str], pattern: str, what: str) -> list[Path]:
    """The files of ``folder`` matching ``pattern`` (e.g. ``"*.json"``), sorted by name; ``what`` names them
    ("OpenPose JSON files"). Raises :class:`InputError` naming the folder when it is none or holds no such file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, f"is not a folder of {what}")
    files = sorted(folder.glob(pattern))
    if not files:
        raise InputError(folder, f"contains no {pattern} {what}")
    return files


def writable_file(path: str | os.PathLike[str], option: str) -> Path:
    """``path`` as a Path for a file to be (re)written: not a folder, and its folder can be created and written."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, f"is a directory; {option} takes a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(path, "is not writable (read-only file system or no permission)")
    check_parent_writable(path.absolute())
    return path


def number_at_least(option: str, value: float, minimum: float, *, inclusive: bool = True) -> float:
    """``value`` of ``option``; it must be a finite number >= ``minimum`` (> with ``inclusive=False``)."""
    ok = math.isfinite(value) and (value >= minimum if inclusive else value > minimum)
    if not ok:
        bound = f"at least {minimum:g}" if inclusive else f"greater than {minimum:g}"
        raise InputError(None, f"{option} must be a number {bound}, got {value:g}")
    return value


def one_of(option: str, value: str, choices: Collection[str]) -> str:
    """``value`` of ``option``; it must be one of ``choices``."""
    if value not in choices:
        raise InputError(None, f"unknown {option.lstrip('-')} {value!r} ({option} takes one of {', '.join(choices)})")
    return value


def parse_command_line(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, except that unknown arguments are reported (exit status 2) with the usage of the
    sub-command they were given to, not the top-level usage."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (nested) sub-command parser that ``args`` were parsed by, or ``parser`` itself."""
    while True:
        commands = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        name = None if commands is None else getattr(args, commands.dest, None)
        if name not in (commands.choices if commands is not None else {}):
            return parser
        parser = commands.choices[name]
