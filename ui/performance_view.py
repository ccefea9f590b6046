"""The projector view: only the body (and optionally the image), full screen on a chosen screen, black, no chrome.
Esc (or F11) returns to the main window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ui.views import FrameView

if TYPE_CHECKING:  # the renderer (and torch) load off the GUI thread, after the window is up
    from ui.stage import StageFrame


class PerformanceView(QWidget):
    """A frameless black window showing the stage frames; emits ``closed`` when the performer leaves it."""

    closed = Signal()

    def __init__(self, show_image: bool = True) -> None:
        super().__init__(None, Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint)
        self.setWindowTitle("dancepose - performance")
        self.setStyleSheet("background: black;")
        self.setCursor(Qt.CursorShape.BlankCursor)
        self.show_image = show_image
        self.view = FrameView(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

    def show_frame(self, frame: StageFrame) -> None:
        """Show a stage frame (the body only, unless ``show_image``)."""
        self.view.show_rgb(frame.rgb, None if self.show_image else frame.rgb.shape[1] - frame.rgb.shape[0])

    def open_on(self, screen: int) -> None:
        """Full screen on screen number ``screen`` (the last one when there are fewer)."""
        screens = QGuiApplication.screens()
        target = screens[min(max(screen, 0), len(screens) - 1)]
        self.setScreen(target)
        self.setGeometry(target.geometry())
        self.showFullScreen()
        self.activateWindow()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802  (Qt's name)
        if event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_F11):
            self.close()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: object) -> None:  # noqa: N802
        self.closed.emit()
        super().closeEvent(event)
