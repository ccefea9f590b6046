"""The Qt application: ``run_window(args)`` opens the main window on the show options and runs the event loop."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from PySide6.QtWidgets import QApplication

from ui.main_window import MainWindow
from ui.settings import load_settings


def input_devices() -> list[str]:
    """Names of the audio inputs (empty without PortAudio devices)."""
    from live.audio_input import list_input_devices

    return [device.name for device in list_input_devices()]


def build_window(args: argparse.Namespace) -> MainWindow:
    """The main window for the show options ``args`` (options given override the saved settings)."""
    settings = load_settings()
    given = {name: value for name, value in (("input", args.input), ("resolution", args.resolution),
                                             ("top_k", args.top_k), ("mode", args.mode), ("screen", args.screen))
             if value is not None}
    return MainWindow(args, replace(settings, **given), input_devices())


def run_window(args: argparse.Namespace) -> int:
    """Open the window, start the show, run until the window closes (or ``--seconds`` of audio have played)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("dancepose")
    window = build_window(args)
    window.resize(1280, 800)
    window.show()
    window.start(args.seconds, record=args.record)
    if args.fullscreen:
        window.toggle_performance()
    if args.seconds is not None:
        window.finished.connect(window.close)
        window.failed.connect(lambda message: app.exit(2))
    return app.exec()
