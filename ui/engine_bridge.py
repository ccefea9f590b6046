"""The engine's events as Qt signals: a QObject that polls a :class:`~ui.session.LiveSession` from a QTimer on the
GUI thread. The engine and the render loop stay Qt-free; nothing here blocks (every poll drains what is there)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from live.events import BeatTick, PoseEvent, StatusEvent

if TYPE_CHECKING:  # the session brings the engine, torch and the renderer; the window imports this module at once
    from rig.outputs import Rig
    from ui.session import LiveSession

POLL_MS = 15
"""Polling period of the bridge in milliseconds (about 66 Hz, above the render rate)."""


class EngineBridge(QObject):
    """Emits ``pose``, ``beat``, ``status`` for engine events, ``audio`` (list of chunks) and ``frame`` (the newest
    rendered :class:`~ui.stage.StageFrame`), and ``finished`` once when the engine has stopped. Every drained event
    also goes to ``rig`` (OSC out, MIDI clock, Link) when one is given."""

    pose = Signal(object)
    beat = Signal(object)
    status = Signal(object)
    audio = Signal(object)
    frame = Signal(object)
    finished = Signal()

    def __init__(self, session: LiveSession, parent: QObject | None = None, rig: Rig | None = None) -> None:
        super().__init__(parent)
        self.session, self.rig = session, rig
        self._shown = None
        self._finished = False
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    def poll(self) -> None:
        """Drain the session once and emit what came."""
        polled = self.session.poll()
        if self.rig is not None:
            self.rig.observe(polled.events)
        for event in polled.events:
            if isinstance(event, PoseEvent):
                self.pose.emit(event)
            elif isinstance(event, BeatTick):
                self.beat.emit(event)
            elif isinstance(event, StatusEvent):
                self.status.emit(event)
        if polled.audio:
            self.audio.emit(polled.audio)
        frame = self.session.latest_frame
        if frame is not None and frame is not self._shown:
            self._shown = frame
            self.frame.emit(frame)
        if not self._finished and self.session.engine.wait(0):
            self._finished = True
            self.finished.emit()

    def stop(self) -> None:
        """Stop polling."""
        self._timer.stop()
