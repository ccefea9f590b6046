"""A lock-free single-producer single-consumer ring buffer of mono float32 samples.

The producer is an audio callback (a PortAudio thread, or a file source's pacing thread); the consumer is the live
engine reading what has arrived. Samples are counted on an absolute index, the *audio clock*: the number of samples
written since the stream started, so the consumer always knows where in the stream a block it reads begins.

Why no lock is needed (CPython with the GIL, exactly one writer thread and one reader thread):

* Each index has a single owner: only the writer stores ``_write_index``, only the reader stores ``_read_index``.
  Loading or storing an attribute is atomic under the GIL, so each side sees either the old or the new value of the
  other's index, never a torn one.
* The writer copies a block into the storage first and publishes it by advancing ``_write_index`` afterwards, so the
  reader never copies samples that are not fully written.
* The reader copies samples out first and releases their space by advancing ``_read_index`` afterwards, so the
  writer never overwrites samples that are unread or being read.
* A stale view of the other index is always conservative: the writer may see less free space than there is, the
  reader fewer samples than there are; both simply catch up on their next call.

Nothing unread is ever overwritten: when a block does not fit, the writer drops the whole incoming block and counts an
overflow. Dropped blocks are not on the audio clock (the clock counts the samples that were stored).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Chunk:
    """A run of consecutive mono samples and where it sits on the audio clock.

    Attributes:
        start: absolute index (samples since the stream started, at the rate of ``samples``) of ``samples[0]``.
        samples: float32 samples, shape (n,).
    """

    start: int
    samples: np.ndarray

    @property
    def end(self) -> int:
        """Absolute index one past the last sample."""
        return self.start + len(self.samples)


class RingBuffer:
    """Preallocated SPSC ring of float32 mono samples: :meth:`write` never blocks, locks or allocates storage."""

    def __init__(self, capacity: int) -> None:
        """Allocate room for ``capacity`` samples (at least 1)."""
        if capacity < 1:
            raise ValueError(f"ring buffer capacity must be at least 1 sample, got {capacity}")
        self._data = np.zeros(capacity, dtype=np.float32)
        self._capacity = capacity
        self._write_index = 0  # owned by the writer: samples stored since the start
        self._read_index = 0  # owned by the reader: samples consumed since the start
        self._overflows = 0  # owned by the writer
        self._dropped_samples = 0  # owned by the writer

    @property
    def capacity(self) -> int:
        """Samples the ring holds when full."""
        return self._capacity

    @property
    def available(self) -> int:
        """Samples written and not read yet."""
        return self._write_index - self._read_index

    @property
    def free(self) -> int:
        """Samples that can be written now without an overflow."""
        return self._capacity - self.available

    @property
    def total_written(self) -> int:
        """Samples stored since the start: the audio clock of the next sample to be written."""
        return self._write_index

    @property
    def overflows(self) -> int:
        """Blocks dropped because the ring was full."""
        return self._overflows

    @property
    def dropped_samples(self) -> int:
        """Samples in the dropped blocks."""
        return self._dropped_samples

    def write(self, block: np.ndarray) -> bool:
        """Producer side: append a 1-D float32 block; return False (and count an overflow) if it does not fit."""
        count = len(block)
        write_index = self._write_index
        if count > self._capacity - (write_index - self._read_index):
            self._overflows += 1
            self._dropped_samples += count
            return False
        start = write_index % self._capacity
        head = min(count, self._capacity - start)
        self._data[start : start + head] = block[:head]
        if head < count:
            self._data[: count - head] = block[head:]
        self._write_index = write_index + count  # publish only after the copy
        return True

    def read(self, max_samples: int | None = None) -> Chunk:
        """Consumer side: take up to ``max_samples`` (default: all) available samples, as a new array, with their index."""
        read_index = self._read_index
        count = self._write_index - read_index
        if max_samples is not None:
            count = min(count, max_samples)
        start = read_index % self._capacity
        head = min(count, self._capacity - start)
        samples = np.empty(count, dtype=np.float32)
        samples[:head] = self._data[start : start + head]
        samples[head:] = self._data[: count - head]
        self._read_index = read_index + count  # release only after the copy
        return Chunk(start=read_index, samples=samples)
