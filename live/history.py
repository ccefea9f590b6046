"""The last few seconds of the stream, addressable by absolute sample index, for cutting model windows."""

from __future__ import annotations

import numpy as np


class AudioHistory:
    """A circular store of the newest ``capacity`` samples (used by one thread only: the engine's).

    Absolute index ``i`` is sample ``i`` since the stream started, at the stream's rate.
    """

    def __init__(self, capacity: int) -> None:
        """``capacity``: samples kept (older ones are forgotten)."""
        self._data = np.zeros(capacity, np.float32)
        self.end = 0
        """Absolute index one past the newest sample."""

    def append(self, samples: np.ndarray) -> None:
        """Add the next samples of the stream."""
        size = len(self._data)
        kept = samples[-size:]
        self.end += len(samples) - len(kept)
        first = self.end % size
        split = min(len(kept), size - first)
        self._data[first : first + split] = kept[:split]
        self._data[: len(kept) - split] = kept[split:]
        self.end += len(kept)

    def window(self, stop: int, length: int) -> np.ndarray | None:
        """Samples ``[stop - length, stop)`` as a new float32 array of ``length``; zeros before the stream began.

        Returns None when part of it has not arrived yet (``stop > end``) or is already forgotten.
        """
        size = len(self._data)
        start = stop - length
        first = max(start, 0)
        if stop > self.end or first < self.end - size or length > size:
            return None
        out = np.zeros(length, np.float32)
        index = np.arange(first, stop) % size
        out[first - start :] = self._data[index]
        return out
