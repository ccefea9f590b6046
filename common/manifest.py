"""``MANIFEST.tsv``: the tab-separated table, one row per item with its ``name``, that the data folders carry
(fitted dances, ballroom captures, generated beat data)."""

from __future__ import annotations

import csv
from pathlib import Path

from common.errors import InputError

MANIFEST_FILE: str = "MANIFEST.tsv"


def read_manifest(folder: Path) -> dict[str, dict[str, str]]:
    """Rows of ``folder/MANIFEST.tsv`` by ``name`` (empty without a manifest); InputError when it has no ``name``
    column."""
    file = folder / MANIFEST_FILE
    if not file.is_file():
        return {}
    with file.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if rows and "name" not in rows[0]:
        raise InputError(file, "no 'name' column")
    return {row["name"]: row for row in rows}
