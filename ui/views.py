"""Widgets that show pictures: the rendered body, the pose's source image, the top-k strip, the beat flash + BPM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from live.events import BeatTick
from live.snippets import bar_position

FLASH_MS = 120
"""How long a beat flash stays lit, in milliseconds."""


def to_qimage(rgb: np.ndarray) -> QImage:
    """An (H, W, 3) uint8 RGB array as a QImage (copied, so the array may change afterwards)."""
    rgb = np.ascontiguousarray(rgb)
    height, width, _ = rgb.shape
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class FrameView(QWidget):
    """Paints the newest picture scaled to fit, centred on black; ``crop_width`` keeps only its left part (pixels)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)

    def show_rgb(self, rgb: np.ndarray, crop_width: int | None = None) -> None:
        """Show (H, W, 3) uint8 ``rgb`` (its first ``crop_width`` columns when given)."""
        self._image = to_qimage(rgb if crop_width is None else rgb[:, :crop_width])
        self.update()

    def paintEvent(self, event: object) -> None:  # noqa: N802  (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        if self._image is not None:
            scaled = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect((self.width() - scaled.width()) // 2, (self.height() - scaled.height()) // 2,
                           scaled.width(), scaled.height())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(target, self._image)
        painter.end()


class ImagePanel(QLabel):
    """The image the current pose came from, scaled to fit."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(240, 240)
        self.setStyleSheet("background: black; color: #888;")
        self.setText("waiting for the first beat")
        self.setToolTip("The picture the current pose was retrieved from")

    def show_path(self, path: Path) -> None:
        if path == self.path:
            return
        self.path = path
        side = min(self.width(), self.height())
        self.setPixmap(QPixmap(str(path)).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation))


class ThumbStrip(QWidget):
    """The top-k alternatives of the latest event as a row of thumbnails, best first."""

    def __init__(self, size: int = 88, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._size = size
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addStretch(1)
        self.paths: list[Path] = []
        self.setToolTip("The top-k poses of the latest position, best first")

    def show_paths(self, paths: list[Path]) -> None:
        if paths == self.paths:
            return
        self.paths = list(paths)
        while self._layout.count() > 1:
            self._layout.takeAt(0).widget().deleteLater()
        for rank, path in enumerate(paths):
            label = QLabel()
            label.setPixmap(QPixmap(str(path)).scaled(self._size, self._size, Qt.AspectRatioMode.KeepAspectRatio,
                                                      Qt.TransformationMode.SmoothTransformation))
            label.setToolTip(f"rank {rank + 1}: {path.name}")
            self._layout.insertWidget(rank, label)


class BeatFlash(QLabel):
    """The current tempo in big type; flashes on each beat (brighter on the downbeat). With a tracker that gives the
    metre, the beat's place in the bar is written under the tempo ("beat 2 of 3")."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("--- BPM", parent)
        self.bpm: float | None = None
        self.beats = 0
        font = QFont()
        font.setPointSize(28)
        font.setBold(True)
        self.setFont(font)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumWidth(200)
        self.setToolTip("Tempo of the beat grid; flashes on each beat, brightest on the downbeat")
        self._off = QTimer(self)
        self._off.setSingleShot(True)
        self._off.timeout.connect(lambda: self._paint(QColor("#111"), QColor("#ddd")))
        self._paint(QColor("#111"), QColor("#ddd"))

    def on_beat(self, tick: BeatTick) -> bool:
        """Flash for a beat; True when it is a downbeat (the tick's bar model, else every 4th beat from the first:
        :func:`live.snippets.bar_position`)."""
        position, beats_per_bar = bar_position(self.beats, 0.0, tick.beat_in_bar, tick.beats_per_bar)
        downbeat = position == 0
        self.bpm, self.beats = tick.tempo_bpm, self.beats + 1
        bar = "" if tick.beat_in_bar is None else \
            f"<br><span style='font-size: 14pt'>beat {int(position) + 1} of {beats_per_bar}</span>"
        self.setText(f"{tick.tempo_bpm:.1f} BPM{bar}")
        self._paint(QColor("#ffffff") if downbeat else QColor("#e0a040"), QColor("#000"))
        self._off.start(FLASH_MS)
        return downbeat

    def _paint(self, background: QColor, text: QColor) -> None:
        self.setStyleSheet(f"background: {background.name()}; color: {text.name()}; border-radius: 6px;")
