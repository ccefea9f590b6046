"""The events file of a live run: one JSON object per line, written as events arrive, robust to a failing disk.

A live show must go on when the disk fills up or the medium goes read-only: a write that fails stops the log (the
file keeps only complete lines, and is removed when none was written), later events are counted as lost, and the
owner reports :attr:`EventLog.error` in one line at the end.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from common.errors import InputError
from live.events import Event, event_record


class EventLog:
    """Appends events to ``path`` (created, with its folder; an existing file is replaced)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Raises InputError when the file cannot be created."""
        self.path = Path(path)
        self.written = 0
        """Events written to the file."""
        self.lost = 0
        """Events not written because an earlier write failed."""
        self.error: str | None = None
        """Why writing stopped (the OS's words), or None."""
        self._size = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "wb", buffering=0)  # noqa: SIM115 (closed by close())
        except OSError as err:
            raise InputError(self.path, f"cannot write events: {_reason(err)}") from None

    def write(self, event: Event) -> None:
        """Append ``event`` as one line; after a failed write, only count it as lost."""
        if self.error is not None:
            self.lost += 1
            return
        line = (json.dumps(event_record(event)) + "\n").encode("utf-8")
        try:
            done = self._file.write(line)
            if done != len(line):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as err:
            self._fail(err)
            self.lost += 1
            return
        self._size += len(line)
        self.written += 1

    def close(self) -> None:
        """Close the file; remove it when a failure left it without a single event."""
        self._file.close()
        if self.error is not None and self.written == 0:
            self.path.unlink(missing_ok=True)

    def summary(self) -> str:
        """One line: where the events went, and what was lost."""
        if self.error is None:
            return f"wrote {self.path} ({self.written} events)"
        kept = f"the first {self.written} events are in it" if self.written else "it was removed"
        return f"{self.path}: writing events failed ({self.error}); {kept}, {self.lost} events were lost"

    def _fail(self, err: OSError) -> None:
        """Stop logging: keep only the complete lines written so far."""
        self.error = _reason(err)
        try:
            os.ftruncate(self._file.fileno(), self._size)
        except OSError:
            pass  # the file may be unreachable (a removed medium); the error already says writing failed


def _reason(err: OSError) -> str:
    return (os.strerror(err.errno) if err.errno else str(err)).lower()
