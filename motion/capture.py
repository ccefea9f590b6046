"""Keep what a headless run saw (the engine's events with their arrival times, the music's level from its audio) so
the pose stream can be exported when it ends: the ``live`` command's ``--export-motion``."""

from __future__ import annotations

import queue
from pathlib import Path

from common.constants import MODEL_SAMPLE_RATE
from live.queues import drain
from live.ring_buffer import Chunk
from motion.energy import LevelMeter
from motion.export import EXPORT_FPS, export_log
from motion.generate import AUDIO_MODES
from motion.player import MotionPlayer


def heard(audio: list[Chunk], meter: LevelMeter, mode: str) -> list[tuple[object, float]]:
    """What the motion layer is given of ``audio`` (24 kHz chunks, oldest first), as (item, audio clock seconds):
    the music's level measured by ``meter``, and for a mode that listens to the audio itself (:data:`AUDIO_MODES`)
    the chunks, each at its end."""
    level = meter.measure(audio)
    items: list[tuple[object, float]] = [] if level is None else [(level, level.at_s)]
    if mode in AUDIO_MODES:  # a generation model listens to the audio itself
        items += [(chunk, chunk.end / MODEL_SAMPLE_RATE) for chunk in audio]
    return items


class MotionCapture:
    """Logs events into ``player`` (the calling thread owns it) with the level of the chunks from ``audio`` (an
    engine audio tap, 24 kHz)."""

    def __init__(self, player: MotionPlayer, audio: queue.Queue[Chunk]) -> None:
        self.player, self._audio = player, audio
        self._meter = LevelMeter(MODEL_SAMPLE_RATE)
        self.end_s = 0.0

    def observe(self, events: list[object], now_s: float) -> None:
        """Apply ``events`` that arrived by ``now_s`` (seconds, audio clock) and the level of the audio since the
        last call (and the audio itself to a mode that listens to it, as the window's session does)."""
        for item, at_s in heard(drain(self._audio), self._meter, self.player.mode):
            self.player.apply(item, at_s)
        for event in events:
            self.player.apply(event, now_s)
        self.end_s = max(self.end_s, now_s)

    def export(self, path: Path, fps: float = EXPORT_FPS) -> str:
        """Write the pose stream (``fps`` frames per second) to ``path``; returns the line to print."""
        frames = export_log(path, self.player.setup, self.player.initial_mode, self.player.log, self.end_s, fps)
        return f"wrote {path} ({frames} frames of {self.player.initial_mode} motion at {fps:g} fps)"
