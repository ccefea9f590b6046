"""The main window: the body beside its image, the top-k strip, beat flash and BPM, the level strip, the controls,
a status bar; the performance view on F11. It observes a :class:`~ui.session.LiveSession` through an
:class:`~ui.engine_bridge.EngineBridge` and sends the performer's changes to the engine's command API."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QGridLayout, QLabel, QMainWindow, QWidget

from common.paths import REPO_ROOT
from live.engine import LiveEngine
from live.events import BeatTick, PoseEvent, StatusEvent
from live.snippets import BEATS_PER_BAR, RESOLUTIONS
from ui.controls import Controls
from ui.engine_bridge import EngineBridge
from ui.headless_run import default_source
from ui.level_strip import LevelStrip
from ui.performance_view import PerformanceView
from ui.session import LiveSession
from ui.settings import UiSettings, save_settings
from ui.stage import RenderConfig, StageFrame
from ui.views import BeatFlash, FrameView, ImagePanel, ThumbStrip

NUDGE_S = 0.02
"""One nudge of the beat grid, in seconds."""


class MainWindow(QMainWindow):
    """See the module docstring. ``args`` are the show options (encoder options included)."""

    def __init__(self, args: argparse.Namespace, settings: UiSettings, devices: list[str]) -> None:
        super().__init__()
        self.args, self.settings = args, settings
        self.setWindowTitle("dancepose")
        self.setStyleSheet("QMainWindow, QWidget { background: #161618; color: #ddd; }")
        banks = list(dict.fromkeys([str(args.bank), *([settings.bank] if settings.bank else [])]))
        self.controls = Controls(settings, devices, banks)
        self.body_view, self.image_panel, self.thumbs = FrameView(), ImagePanel(), ThumbStrip()
        self.flash, self.level = BeatFlash(), LevelStrip()
        self.body_view.setToolTip("The retrieved pose, moving on the beat")
        grid = QGridLayout()
        grid.addWidget(self.body_view, 0, 0, 2, 1)
        grid.addWidget(self.image_panel, 0, 1)
        grid.addWidget(self.flash, 1, 1)
        grid.addWidget(self.controls, 0, 2, 2, 1)
        grid.addWidget(self.thumbs, 2, 0, 1, 3)
        grid.addWidget(self.level, 3, 0, 1, 3)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        central = QWidget()
        central.setLayout(grid)
        self.setCentralWidget(central)
        self.status_label = QLabel()
        self.statusBar().addPermanentWidget(self.status_label, 1)
        self.performance = PerformanceView(settings.perf_image)
        self.performance.closed.connect(self.activateWindow)
        self.session: LiveSession | None = None
        self.bridge: EngineBridge | None = None
        self._setups: dict[tuple[str, str], object] = {}
        self._beats = 0
        self._drops = 0
        self._latency_ms = 0.0
        self._connect()

    # -- wiring ----------------------------------------------------------------------------------------------------
    def _connect(self) -> None:
        c = self.controls
        c.start.clicked.connect(self.toggle_running)
        c.resolution.currentTextChanged.connect(lambda r: self._command(lambda e: e.set_resolution(r)))
        c.top_k.valueChanged.connect(lambda k: self._command(lambda e: e.set_top_k(k)))
        c.mode.currentTextChanged.connect(lambda m: self._command(lambda e: e.set_mode(m)))
        c.tap.clicked.connect(lambda: self._command(LiveEngine.tap))
        c.earlier.clicked.connect(lambda: self._command(lambda e: e.nudge(-NUDGE_S)))
        c.later.clicked.connect(lambda: self._command(lambda e: e.nudge(NUDGE_S)))
        c.record.toggled.connect(self.set_recording)
        c.stage.clicked.connect(self.toggle_performance)
        for combo in (c.input, c.encoder, c.bank):
            combo.currentTextChanged.connect(self._restart_if_running)
        keys = {
            "Space": self.toggle_running, "F11": self.toggle_performance, "T": c.tap.click,
            "Left": c.earlier.click, "Right": c.later.click, "R": c.record.toggle, "M": self._toggle_mode,
            "Backspace": lambda: self._command(LiveEngine.clear_taps), "+": lambda: c.top_k.stepBy(1),
            "-": lambda: c.top_k.stepBy(-1), "I": self._toggle_perf_image, "Ctrl+Q": self.close,
            **{str(n + 1): (lambda r=r: c.resolution.setCurrentText(r)) for n, r in enumerate(RESOLUTIONS)},
        }
        for key, action in keys.items():
            QShortcut(QKeySequence(key), self, activated=action).setContext(Qt.ShortcutContext.ApplicationShortcut)

    def _command(self, action) -> None:
        if self.session is not None:
            action(self.session.engine)
        self._save()

    def _toggle_mode(self) -> None:
        mode = self.controls.mode
        mode.setCurrentIndex(1 - mode.currentIndex())

    def _toggle_perf_image(self) -> None:
        self.performance.show_image = not self.performance.show_image
        self._save()

    # -- running ---------------------------------------------------------------------------------------------------
    def start(self, seconds: float | None = None, record: Path | None = None) -> None:
        """Open the input and start the engine and the rendering."""
        from live.engine import EngineConfig
        from model.cli_options import open_ranking_setup

        c = self.controls
        key = (c.encoder.currentText(), c.bank.currentText())
        if key not in self._setups:
            options = replace_namespace(self.args, encoder=key[0], bank=Path(key[1]))
            self._setups[key] = open_ranking_setup(options, c.top_k.maximum())
        setup = self._setups[key]
        config = EngineConfig(resolution=c.resolution.currentText(), mode=c.mode.currentText(), top_k=c.top_k.value())
        engine = LiveEngine(default_source(c.input_spec() or None), setup.retriever, config)
        self.session = LiveSession(engine, setup.bank, setup.body, RenderConfig())
        self.bridge = EngineBridge(self.session, self)
        self.bridge.frame.connect(self.on_frame)
        self.bridge.pose.connect(self.on_pose)
        self.bridge.beat.connect(self.on_beat)
        self.bridge.status.connect(self.on_status)
        self.bridge.audio.connect(self.level.add_audio)
        self.session.start(seconds, record=record)
        c.start.setText("Stop")
        self._save()

    def stop(self) -> None:
        """Stop the engine, the rendering and any recording."""
        if self.session is None:
            return
        self.bridge.stop()
        info = self.session.stop()
        if info is not None:
            self.statusBar().showMessage(f"wrote {info.path} ({info.frames} frames, {info.audio_s:.1f} s audio)")
            print(f"wrote {info.path} ({info.frames} frames at {info.fps} fps, {info.audio_s:.1f} s of audio)")
        self.session = self.bridge = None
        self.controls.start.setText("Start")
        self.controls.record.setChecked(False)

    def toggle_running(self) -> None:
        self.stop() if self.session is not None else self.start()

    def _restart_if_running(self) -> None:
        if self.session is not None:
            self.stop()
            self.start()

    def set_recording(self, on: bool) -> None:
        if self.session is None:
            return
        if on and self.session.recorder is None:
            path = REPO_ROOT / "out" / "recordings" / time.strftime("dancepose-%Y%m%d-%H%M%S.mp4")
            path.parent.mkdir(parents=True, exist_ok=True)
            self.session.start_recording(path)
            self.statusBar().showMessage(f"recording to {path}")
        elif not on:
            info = self.session.stop_recording()
            if info is not None:
                self.statusBar().showMessage(f"wrote {info.path}")

    def toggle_performance(self) -> None:
        if self.performance.isVisible():
            self.performance.close()
        else:
            self.performance.open_on(self.settings.screen)

    # -- what the engine says --------------------------------------------------------------------------------------
    def on_frame(self, frame: StageFrame) -> None:
        self.body_view.show_rgb(frame.rgb, frame.rgb.shape[1] - frame.rgb.shape[0])
        if frame.tag is not None:
            self.image_panel.show_path(self.session.bank.image_path(frame.tag))
        if self.performance.isVisible():
            self.performance.show_frame(frame)
        self._update_status()

    def on_pose(self, event: PoseEvent) -> None:
        self.thumbs.show_paths([self.session.bank.image_path(i) for i in event.indices])
        self._drops += event.dropped_before
        self._latency_ms = 1000 * event.latency.total_s

    def on_beat(self, tick: BeatTick) -> None:
        downbeat = self._beats % BEATS_PER_BAR == 0
        self._beats += 1
        self.flash.on_beat(tick.tempo_bpm, downbeat)
        self.level.add_beat(tick.beat_s, downbeat)

    def on_status(self, event: StatusEvent) -> None:
        self.statusBar().showMessage(f"{event.kind}: {event.message}", 5000)

    def _update_status(self) -> None:
        session = self.session
        source = session.engine.source
        times = list(session.render.render_times_s)[-30:]
        overflows = source.ring.overflows + getattr(source, "input_overflows", 0)
        self.status_label.setText(
            f"encoder {session.engine.encoder_name}  |  input {Path(source.name).name}  |  latency "
            f"{self._latency_ms:.0f} ms  |  drops {self._drops}  |  overflows {overflows}  |  render "
            f"{1000 * sum(times) / max(len(times), 1):.0f} ms/frame"
            f"{'  |  REC' if session.recorder is not None else ''}")

    def _save(self) -> None:
        c = self.controls
        self.settings = replace(self.settings, input=c.input_spec(), resolution=c.resolution.currentText(),
                                top_k=c.top_k.value(), mode=c.mode.currentText(), encoder=c.encoder.currentText(),
                                bank=c.bank.currentText(), perf_image=self.performance.show_image)
        save_settings(self.settings)

    def closeEvent(self, event: object) -> None:  # noqa: N802  (Qt's name)
        self.stop()
        self.performance.close()
        super().closeEvent(event)


def replace_namespace(args: argparse.Namespace, **changes: object) -> argparse.Namespace:
    """A copy of ``args`` with ``changes``."""
    return argparse.Namespace(**(vars(args) | changes))
