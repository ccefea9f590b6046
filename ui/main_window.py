"""The main window: the body beside its image, the top-k strip, beat flash and BPM, the level strip, the controls,
a status bar; the performance view on F11. It observes a :class:`~ui.session.LiveSession` through an
:class:`~ui.engine_bridge.EngineBridge` and sends the performer's changes to the engine's command API.

The window opens at once: it imports only Qt and light modules. Starting a show (the body model, the bank, the
encoder and its warm-up, the engine: seconds of work) runs on a :class:`~ui.loading.ShowLoader` thread; meanwhile the
body view and the performance view say "loading ..." (with the step under way), show the body as soon as the session's
render loop runs (while the encoder warms up), and the dance once the engine is started.

The rig (``--osc``, ``--osc-listen``, ``--midi-clock``, ``--link``, the latencies; :mod:`rig.outputs`) runs with each
show: the loader opens it before the engine starts, the bridge hands it every event, stopping closes it. OSC commands
that act on the window (start, stop, view, record, motion, latency) arrive on the listener's thread and are posted to
the GUI thread through a queued signal."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QGridLayout, QLabel, QMainWindow, QVBoxLayout, QWidget

from common.paths import REPO_ROOT
from live.events import BeatTick, PoseEvent, StatusEvent
from live.queues import drain
from live.snippets import RESOLUTIONS
from ui.controls import Controls
from ui.engine_bridge import EngineBridge
from ui.level_strip import LevelStrip
from ui.loading import Progress, ShowFailed, ShowLoader, ShowRequest, ShowStarted
from ui.performance_view import PerformanceView
from ui.settings import UiSettings, save_settings
from ui.views import BeatFlash, FrameView, ImagePanel, ThumbStrip

if TYPE_CHECKING:  # torch and the renderer come with these; they load on the loader thread
    from model.cli_options import RankingSetup
    from rig.osc_in import OwnerActions
    from rig.outputs import Rig
    from ui.session import LiveSession
    from ui.stage import StageFrame

NUDGE_S = 0.02
"""One nudge of the beat grid, in seconds."""
LOADING_POLL_MS = 20
"""How often (milliseconds) the window reads the loader's messages while a show starts."""


def loading_label(view: QWidget) -> QLabel:
    """A grey line of text over the bottom of ``view`` (a picture view), shown while the show loads."""
    label = QLabel("loading ...", view)
    label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
    label.setStyleSheet("background: transparent; color: #9a9a9a; font-size: 18px; padding-bottom: 24px;")
    layout = QVBoxLayout(view)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(label)
    return label


class MainWindow(QMainWindow):
    """See the module docstring. ``args`` are the show options (encoder options included).

    Signals: ``started`` when a show runs, ``shown`` (the :class:`~ui.stage.StageFrame`) after each frame drawn,
    ``failed`` (one line) when a start fails, ``finished`` when the engine stops by itself (end of input, --seconds).
    """

    started = Signal()
    shown = Signal(object)
    failed = Signal(str)
    finished = Signal()
    _posted = Signal(object)
    """A callable from another thread (an OSC command), run on the GUI thread."""

    def __init__(self, args: argparse.Namespace, settings: UiSettings, devices: list[str]) -> None:
        super().__init__()
        self.args, self.settings = args, settings
        self.setWindowTitle("dancepose")
        self.setStyleSheet("QMainWindow, QWidget { background: #161618; color: #ddd; }")
        banks = list(dict.fromkeys([str(args.bank), *([settings.bank] if settings.bank else [])]))
        self.controls = Controls(settings, devices, banks)
        if getattr(args, "dance_checkpoint", None) is not None:  # the generate mode has its model
            self.controls.motion.addItem("generate")
        self.controls.motion.setCurrentText(getattr(args, "motion", self.controls.motion.currentText()))
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
        self._loading_labels = [loading_label(self.body_view), loading_label(self.performance.view)]
        self.session: LiveSession | None = None
        self.bridge: EngineBridge | None = None
        self.rig: Rig | None = None
        """The running show's rig (None while stopped)."""
        self._motion_modes = tuple(self.controls.motion.itemText(i) for i in range(self.controls.motion.count()))
        self._setups: dict[tuple[str, str], RankingSetup] = {}
        self._loader: ShowLoader | None = None
        self._loader_key: tuple[str, str] | None = None
        self._loading_timer = QTimer(self)
        self._loading_timer.setInterval(LOADING_POLL_MS)
        self._loading_timer.timeout.connect(self._poll_loader)
        self._drops = 0
        self._painted = False
        self._latency_ms = 0.0
        self._connect()

    # -- wiring ----------------------------------------------------------------------------------------------------
    def _connect(self) -> None:
        self._posted.connect(self._run_posted, Qt.ConnectionType.QueuedConnection)
        c = self.controls
        c.start.clicked.connect(self.toggle_running)
        c.resolution.currentTextChanged.connect(lambda r: self._command(lambda e: e.set_resolution(r)))
        c.top_k.valueChanged.connect(lambda k: self._command(lambda e: e.set_top_k(k)))
        c.mode.currentTextChanged.connect(lambda m: self._command(lambda e: e.set_mode(m)))
        c.motion.currentTextChanged.connect(lambda m: self.session is not None and self.session.set_motion(m))
        c.tap.clicked.connect(lambda: self._command(lambda e: e.tap()))
        c.earlier.clicked.connect(lambda: self._command(lambda e: e.nudge(-NUDGE_S)))
        c.later.clicked.connect(lambda: self._command(lambda e: e.nudge(NUDGE_S)))
        c.record.toggled.connect(self.set_recording)
        c.stage.clicked.connect(self.toggle_performance)
        for combo in (c.input, c.encoder, c.bank):
            combo.currentTextChanged.connect(self._restart_if_running)
        keys = {
            "Space": self.toggle_running, "F11": self.toggle_performance, "T": c.tap.click,
            "Left": c.earlier.click, "Right": c.later.click, "R": c.record.toggle, "M": self._toggle_mode,
            "G": lambda: c.motion.setCurrentIndex((c.motion.currentIndex() + 1) % c.motion.count()),
            "Backspace": lambda: self._command(lambda e: e.clear_taps()), "+": lambda: c.top_k.stepBy(1),
            "-": lambda: c.top_k.stepBy(-1), "I": self._toggle_perf_image, "Ctrl+Q": self.close,
            **{str(n + 1): (lambda r=r: c.resolution.setCurrentText(r)) for n, r in enumerate(RESOLUTIONS)},
        }
        for key, action in keys.items():
            QShortcut(QKeySequence(key), self, activated=action).setContext(Qt.ShortcutContext.ApplicationShortcut)

    # -- OSC commands (the listener's thread) -------------------------------------------------------------------------
    def owner_actions(self) -> OwnerActions:
        """What OSC commands may do to this window: each posts its work to the GUI thread and returns at once."""
        from rig.osc_in import OwnerActions

        return OwnerActions(
            start=lambda: self.post(self.start), stop=lambda: self.post(self.stop),
            view=lambda on: self.post(lambda: self.set_performance(on)),
            record=lambda on: self.post(lambda: self.controls.record.setChecked(on)),
            motion=self._osc_motion, latency=lambda output, ms: self.post(lambda: self.set_latency(output, ms)))

    def post(self, action: Callable[[], object]) -> None:
        """Run ``action`` on the GUI thread soon (callable from any thread)."""
        self._posted.emit(action)

    def _run_posted(self, action: Callable[[], object]) -> None:
        action()

    def _osc_motion(self, mode: str) -> None:
        if mode not in self._motion_modes:
            raise ValueError(f"motion mode must be one of {', '.join(self._motion_modes)}, got {mode!r}")
        self.post(lambda: self.controls.motion.setCurrentText(mode))

    def set_latency(self, output: str, ms: float) -> None:
        """Set output ``output``'s latency (``screen``, ``osc``, ``midi``) to ``ms`` milliseconds: the screen's moves
        the picture (the render loop), the others the rig's sending."""
        if self.rig is not None:
            self.rig.set_latency(output, ms)
        if output == "screen" and self.session is not None:
            self.session.set_screen_latency_ms(ms)

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
    @property
    def loading(self) -> bool:
        """True while a show is being started (between :meth:`start` and ``started`` or ``failed``)."""
        return self._loader is not None

    def start(self, seconds: float | None = None, record: Path | None = None) -> None:
        """Start the show with the controls' settings: open the input, start the engine and the rendering (and record
        to ``record``), stopping after ``seconds`` of audio. Returns at once; the loading runs on a worker thread and
        ``started`` (or ``failed``) says when it is done."""
        if self.session is not None or self._loader is not None:
            return
        c = self.controls
        key = (c.encoder.currentText(), c.bank.currentText())
        request = ShowRequest(options=replace_namespace(self.args, encoder=key[0], bank=Path(key[1])),
                              input=c.input_spec() or None, resolution=c.resolution.currentText(),
                              mode=c.mode.currentText(), top_k=c.top_k.value(), bank_min=c.top_k.maximum(),
                              seconds=seconds, record=record, setup=self._setups.get(key),
                              motion=c.motion.currentText(), actions=self.owner_actions())
        self._loader, self._loader_key = ShowLoader(request), key
        if self._painted or not self.isVisible():
            self._loader.start()  # else at the first paint: the loader's imports must not delay the window
        self._loading_timer.start()
        self._show_loading("loading ...")
        c.start.setText("Stop")
        self._save()

    def _poll_loader(self) -> None:
        loader = self._loader
        if loader is None:
            return
        for frame in drain(loader.preview):
            self._show_picture(frame)
        for message in drain(loader.messages):
            if isinstance(message, Progress):
                self._show_loading(f"loading: {message.step} ...")
            elif isinstance(message, ShowStarted):
                self._setups[self._loader_key] = message.setup
                self._end_loading()
                self._attach(message.session, message.rig, loader.request)
            elif isinstance(message, ShowFailed):
                self._end_loading()
                self._fail(message.message)

    def _attach(self, session: LiveSession, rig: Rig, request: ShowRequest) -> None:
        """Observe the started ``session`` (its events also go to ``rig``); apply control changes made while it
        loaded."""
        self.session, self.rig = session, rig
        self.bridge = EngineBridge(session, self, rig)
        self.bridge.frame.connect(self.on_frame)
        self.bridge.pose.connect(self.on_pose)
        self.bridge.beat.connect(self.on_beat)
        self.bridge.status.connect(self.on_status)
        self.bridge.audio.connect(self.level.add_audio)
        self.bridge.finished.connect(self.finished)
        c, engine = self.controls, session.engine
        if c.resolution.currentText() != request.resolution:
            engine.set_resolution(c.resolution.currentText())
        if c.top_k.value() != request.top_k:
            engine.set_top_k(c.top_k.value())
        if c.mode.currentText() != request.mode:
            engine.set_mode(c.mode.currentText())
        if c.motion.currentText() != request.motion:
            session.set_motion(c.motion.currentText())
        self.status_label.setText(f"started: encoder {engine.encoder_name}")
        self.started.emit()

    def _fail(self, message: str) -> None:
        print(f"error: {message}", file=sys.stderr, flush=True)
        self._show_loading(f"could not start: {message}")
        self.statusBar().showMessage(f"error: {message}")
        self.controls.start.setText("Start")
        self.failed.emit(message)

    def _end_loading(self) -> None:
        self._loader = self._loader_key = None
        self._loading_timer.stop()

    def _show_loading(self, text: str) -> None:
        """Say ``text`` over the body view and the performance view, and in the status line."""
        for label in self._loading_labels:
            label.setText(text)
            label.show()
        self.status_label.setText(text)

    def stop(self) -> None:
        """Stop the engine, the rendering and any recording (or give up a start still loading)."""
        if self._loader is not None:
            self._loader.cancel()
            self._end_loading()
            self.controls.start.setText("Start")
        if self.session is None:
            return
        self.bridge.stop()
        info = self.session.stop()
        self.rig.close()
        if getattr(self.args, "export_motion", None) is not None:
            frames = self.session.export_motion(self.args.export_motion)
            print(f"wrote {self.args.export_motion} ({frames} frames of motion at 30 fps)")
        if info is not None:
            self.statusBar().showMessage(f"wrote {info.path} ({info.frames} frames, {info.audio_s:.1f} s audio)")
            print(f"wrote {info.path} ({info.frames} frames at {info.fps} fps, {info.audio_s:.1f} s of audio)")
        self.session = self.bridge = self.rig = None
        self.controls.start.setText("Start")
        self.controls.record.setChecked(False)

    def toggle_running(self) -> None:
        self.stop() if self.session is not None or self.loading else self.start()

    def _restart_if_running(self) -> None:
        if self.session is not None or self.loading:
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
        self.set_performance(not self.performance.isVisible())

    def set_performance(self, on: bool) -> None:
        """Open (``on``) or close the performance view."""
        if on and not self.performance.isVisible():
            self.performance.open_on(self.settings.screen)
        elif not on and self.performance.isVisible():
            self.performance.close()

    # -- what the engine says --------------------------------------------------------------------------------------
    def on_frame(self, frame: StageFrame) -> None:
        if not self._loading_labels[0].isHidden():
            for label in self._loading_labels:
                label.hide()
        self._show_picture(frame)
        if frame.tag is not None:
            self.image_panel.show_path(self.session.bank.image_path(frame.tag))
        self._update_status()
        self.shown.emit(frame)

    def _show_picture(self, frame: StageFrame) -> None:
        self.body_view.show_rgb(frame.rgb, frame.rgb.shape[1] - frame.rgb.shape[0])
        self.performance.show_frame(frame)

    def on_pose(self, event: PoseEvent) -> None:
        self.thumbs.show_paths([self.session.bank.image_path(i) for i in event.indices])
        self._drops += event.dropped_before
        self._latency_ms = 1000 * event.latency.total_s

    def on_beat(self, tick: BeatTick) -> None:
        self.level.add_beat(tick.beat_s, self.flash.on_beat(tick))

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

    def paintEvent(self, event: object) -> None:  # noqa: N802  (Qt's name)
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self._start_loader)

    def _start_loader(self) -> None:
        if self._loader is not None:
            self._loader.start()

    def closeEvent(self, event: object) -> None:  # noqa: N802  (Qt's name)
        self.stop()
        self.performance.close()
        super().closeEvent(event)


def replace_namespace(args: argparse.Namespace, **changes: object) -> argparse.Namespace:
    """A copy of ``args`` with ``changes``."""
    return argparse.Namespace(**(vars(args) | changes))
