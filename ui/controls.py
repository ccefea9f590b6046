"""The controls: input, resolution, top-k, window mode, motion, encoder, bank, start/stop, tap / nudge, record, stage."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QPushButton, QSpinBox, QWidget)

from common.paths import DEFAULT_CHECKPOINT, DEMO_SONG
from live.snippets import RESOLUTIONS
from motion.source import DEFAULT_MOTION, MODEL_FREE_MOTION
from ui.settings import UiSettings

DEMO_LABEL = "Demo song (played as live)"
FILE_LABEL = "Audio file..."


def _combo(items: list[str], current: str, tip: str) -> QComboBox:
    combo = QComboBox()
    combo.addItems(items)
    combo.setCurrentText(current)
    combo.setToolTip(tip)
    return combo


def _button(text: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    return button


class Controls(QWidget):
    """Widgets only; the main window connects them. ``input_spec()`` is what ``--input`` would be ('' = default)."""

    def __init__(self, settings: UiSettings, devices: list[str], banks: list[str]) -> None:
        super().__init__()
        self.input = _combo(["Default input", *devices, DEMO_LABEL, FILE_LABEL], "Default input",
                            "Where the music comes from: a microphone / line-in, or a file played as live")
        self._file: str | None = None
        if settings.input:
            self._set_file(settings.input) if Path(settings.input).is_file() else self.input.setCurrentText(settings.input)
        self.resolution = _combo(list(RESOLUTIONS), settings.resolution, "Poses per beat: 4th, 8th or 16th (keys 1 2 3)")
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 20)
        self.top_k.setValue(settings.top_k)
        self.top_k.setToolTip("Alternatives shown per position (keys + and -)")
        self.mode = _combo(["predictive", "centred"], settings.mode,
                           "predictive: the pose lands on the beat; centred: the paper's window, 1 s late (key M)")
        self.motion = _combo(list(MODEL_FREE_MOTION), DEFAULT_MOTION,
                             "How the body moves: groove bounces, sways and accents the beat between the retrieved "
                             "poses; ease glides from pose to pose (key G)")
        encoders = ["auto", "reactive"] + (["edsa"] if DEFAULT_CHECKPOINT.exists() else [])
        self.encoder = _combo(encoders, settings.encoder, "The encoder (edsa needs the checkpoint)")
        self.encoder.setEnabled(len(encoders) > 2)
        self.bank = _combo(banks, settings.bank or banks[0], "The pose bank to search")
        self.bank.setEnabled(len(banks) > 1)
        self.start = _button("Start", "Start / stop listening (Space)")
        self.tap = _button("Tap", "Tap tempo: tap 4+ times on the beat (T); Backspace returns to the tracker")
        self.earlier = _button("<< 20 ms", "Nudge the beat grid earlier (Left)")
        self.later = _button("20 ms >>", "Nudge the beat grid later (Right)")
        self.record = _button("Record", "Record the performance view with audio to an MP4 (R)")
        self.record.setCheckable(True)
        self.stage = _button("Performance view", "Full-screen body for a projector (F11; Esc returns)")
        form = QFormLayout(self)
        form.addRow("Input", self.input)
        form.addRow("Resolution", self.resolution)
        form.addRow("Top-k", self.top_k)
        form.addRow("Window", self.mode)
        form.addRow("Motion", self.motion)
        form.addRow("Encoder", self.encoder)
        form.addRow("Bank", self.bank)
        form.addRow(self.start)
        nudge = QHBoxLayout()
        for button in (self.earlier, self.tap, self.later):
            nudge.addWidget(button)
        form.addRow(nudge)
        form.addRow(self.record)
        form.addRow(self.stage)
        self.input.activated.connect(self._input_chosen)

    def input_spec(self) -> str:
        text = self.input.currentText()
        if text == "Default input":
            return ""
        if text == DEMO_LABEL:
            return str(DEMO_SONG)
        return self._file if text == FILE_LABEL and self._file else text

    def _set_file(self, path: str) -> None:
        self._file = path
        self.input.setItemText(self.input.count() - 1, Path(path).name)
        self.input.setCurrentIndex(self.input.count() - 1)
        self.input.setItemText(self.input.count() - 1, FILE_LABEL)
        self.input.setToolTip(f"Playing {path} as live")

    def _input_chosen(self, index: int) -> None:
        if self.input.itemText(index) == FILE_LABEL:
            path, _ = QFileDialog.getOpenFileName(self, "Audio file to play as live", "",
                                                  "Audio (*.wav *.flac *.mp3 *.ogg *.m4a);;All files (*)")
            if path:
                self._set_file(path)
