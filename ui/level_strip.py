"""A scrolling strip of the input level and onset strength with the beats marked (pyqtgraph)."""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from common.constants import MODEL_SAMPLE_RATE
from live.onsets import frame_sizes, make_onset_function
from live.ring_buffer import Chunk

SPAN_S = 8.0
"""Seconds of history shown."""


class LevelStrip(pg.PlotWidget):
    """Level (dBFS, left axis) and onset strength (scaled to the plot) per hop of audio, beats as vertical lines."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, background="k")
        win, self._hop = frame_sizes(MODEL_SAMPLE_RATE, 0.046)
        self._onset = make_onset_function("logflux", MODEL_SAMPLE_RATE, win, self._hop)
        size = int(SPAN_S * MODEL_SAMPLE_RATE / self._hop)
        self.times, self.levels, self.onsets = (deque(maxlen=size) for _ in range(3))
        self._pending = np.zeros(0, np.float32)
        self._pending_start = 0
        self._beats: deque[pg.InfiniteLine] = deque()
        self.setMaximumHeight(140)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setYRange(-60, 0)
        self.getAxis("left").setLabel("dBFS")
        self._level_curve = self.plot(pen=pg.mkPen("#4fc3f7", width=2))
        self._onset_curve = self.plot(pen=pg.mkPen("#ffb74d", width=1))
        self.setToolTip("Input level (blue, dBFS) and onset strength (orange); beats as lines, white on the downbeats")

    def add_audio(self, chunks: list[Chunk]) -> None:
        """Fold in 24 kHz audio chunks and redraw."""
        for chunk in chunks:
            if not len(self._pending):
                self._pending_start = chunk.start
            self._pending = np.concatenate([self._pending, chunk.samples])
        while len(self._pending) >= self._hop:
            hop, self._pending = self._pending[: self._hop], self._pending[self._hop :]
            self._pending_start += self._hop
            self.times.append(self._pending_start / MODEL_SAMPLE_RATE)
            self.levels.append(10 * np.log10(float(np.mean(hop * hop)) + 1e-10))
            self.onsets.append(float(self._onset(hop)))
        self._redraw()

    def add_beat(self, beat_s: float, downbeat: bool) -> None:
        """Mark a beat at ``beat_s`` (seconds, audio clock): a white line on a downbeat, grey otherwise."""
        line = pg.InfiniteLine(beat_s, angle=90, pen=pg.mkPen("#ffffff" if downbeat else "#777777", width=1))
        self.addItem(line)
        self._beats.append(line)
        while self._beats and self.times and self._beats[0].value() < self.times[0]:
            self.removeItem(self._beats.popleft())

    def _redraw(self) -> None:
        if not self.times:
            return
        t = np.fromiter(self.times, float)
        onsets = np.fromiter(self.onsets, float)
        self._level_curve.setData(t, np.fromiter(self.levels, float))
        self._onset_curve.setData(t, -60 + 55 * onsets / max(float(onsets.max()), 1e-9))
        self.setXRange(t[-1] - SPAN_S, t[-1], padding=0)
