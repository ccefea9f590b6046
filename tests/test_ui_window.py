"""The window, offscreen (QT_QPA_PLATFORM=offscreen), driven by the live engine on a dev-set song through the file
source: it says "loading" while the show starts off the GUI thread, the body is drawn and moves with the events, the
image panel shows the event's image, the BPM is the song's, a slow encoder leaves the event loop responsive, and a
start that fails says why and leaves the window usable. Every wait polls for its condition with a generous deadline
(loading takes seconds here and more on a busy machine)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from model.cli_options import RankingSetup  # noqa: E402
from pose_db.search import TopK  # noqa: E402
from ui.app import build_window  # noqa: E402
from ui.cli import show_defaults  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.settings import load_settings, save_settings  # noqa: E402

SONG_BPM = 120.0
DEADLINE_S = 240.0
"""Longest any wait here may take (the show starting, a song playing out) before the test fails saying what it
awaited."""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))  # QSettings go here, not to ~
    return QApplication.instance() or QApplication([])


def run_until(app: QApplication, done, what: str, every_s: float | None = None, action=None) -> None:
    """Run the event loop until ``done()``, calling ``action()`` every ``every_s`` meanwhile; fail after
    :data:`DEADLINE_S` saying that ``what`` was awaited."""
    timer = QTimer()
    if action is not None:
        timer.timeout.connect(action)
        timer.start(int(every_s * 1000))
    deadline = time.monotonic() + DEADLINE_S
    try:
        while not done():
            if time.monotonic() > deadline:
                pytest.fail(f"waited {DEADLINE_S:.0f} s for {what}")
            app.processEvents()
            time.sleep(0.002)
    finally:
        timer.stop()


def started(window) -> bool:
    """The show runs (the loader has handed its session over)."""
    return window.session is not None


def image_of(widget) -> np.ndarray:
    """What ``widget`` shows: (H, W*3) uint8, copied out of the QImage (whose buffer dies with it)."""
    image = widget.grab().toImage()
    image = image.convertToFormat(image.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].copy()


def song_window(song: Path) -> MainWindow:
    """A main window (not shown yet) with the ``show`` defaults playing the sound file ``song``."""
    args = show_defaults()
    args.input = str(song)
    return build_window(args)


def test_window_dances_to_the_song(app, dev_song, tmp_path):
    window = song_window(dev_song)
    window.resize(1280, 800)
    window.show()
    window.start(seconds=11.0)
    grabs, drawn_tags, finished = [], [], []
    window.shown.connect(lambda frame: frame.tag is not None and drawn_tags.append(frame.tag))  # after drawing
    window.finished.connect(lambda: finished.append(True))

    def grab() -> None:
        if drawn_tags and window.image_panel.path is not None:
            grabs.append((image_of(window.body_view), drawn_tags[-1], window.image_panel.path))

    run_until(app, lambda: started(window), "the show to start")
    run_until(app, lambda: finished, "the engine to play 11 s of the song", every_s=0.8, action=grab)
    window.grab().save(str(tmp_path / "main.png"))
    bpm, bank = window.flash.bpm, window.session.bank
    window.close()
    assert len(grabs) >= 5
    for body, tag, shown in grabs:
        assert body.std() > 10, "the body view is blank"
        assert shown == bank.image_path(tag), "the image panel does not show the drawn pose's picture"
    new_pose = [(a, b) for a, b in zip(grabs, grabs[1:]) if a[1] != b[1]]
    assert len(new_pose) >= 3, "the window drew too few different poses"
    for (before, *_), (after, *_) in new_pose:  # a new pose from the engine is a visibly different body
        assert np.abs(before.astype(int) - after.astype(int)).mean() > 0.5, "the body does not move between beats"
    assert bpm == pytest.approx(SONG_BPM, rel=0.02)


class SlowRetriever:
    """Takes 0.4 s per window: positions get dropped, the window must not stall. ``busy`` lists the (start, end)
    monotonic seconds of each ranking."""

    encoder_name = "slow"

    def __init__(self) -> None:
        self.busy: list[tuple[float, float]] = []

    def rank(self, windows: np.ndarray, bar_phase: np.ndarray, k: int) -> TopK:
        started = time.monotonic()
        time.sleep(0.4)
        self.busy.append((started, time.monotonic()))
        return TopK(indices=np.arange(k)[None, :], scores=np.zeros((1, k), np.float32))

    def reset(self) -> None:
        """Stateless."""


def test_a_slow_encoder_leaves_the_window_responsive(app, dev_song):
    window = song_window(dev_song)
    key = (window.controls.encoder.currentText(), window.controls.bank.currentText())
    from model.cli_options import open_ranking_setup
    from ui.main_window import replace_namespace
    real = open_ranking_setup(replace_namespace(window.args, top_k=5), 5)
    slow = SlowRetriever()
    window._setups[key] = RankingSetup(real.bank, real.body, slow, None)
    window.show()
    window.start(seconds=6.0)
    finished, ticks = [], []
    window.finished.connect(lambda: finished.append(True))
    run_until(app, lambda: started(window), "the show to start")
    run_until(app, lambda: finished, "the engine to play 6 s of the song", every_s=0.01,
              action=lambda: ticks.append(time.monotonic()))
    drops = window._drops
    window.close()
    # The event loop runs on while the encoder works: GUI timer ticks land inside the encoder's rankings. (Counted,
    # not timed, so that a busy machine, which delays everything, does not fail the test.)
    watched = [(start, end) for start, end in slow.busy if ticks[0] < start and end < ticks[-1]]
    ticks_inside = [sum(start < tick < end for tick in ticks) for start, end in watched]
    assert len(ticks_inside) >= 3, f"only {len(ticks_inside)} rankings ran while the show played"
    assert sum(n > 0 for n in ticks_inside) >= 0.8 * len(ticks_inside), f"GUI ticks per ranking: {ticks_inside}"
    assert drops > 0 or window.flash.beats > 0


def test_the_window_says_loading_until_the_show_runs(app, dev_song):
    window = song_window(dev_song)
    window.show()
    window.start(seconds=3.0)
    app.processEvents()
    labels = window._loading_labels
    assert window.loading and window.session is None, "start() must return before the show is loaded"
    assert all(label.text().startswith("loading") and not label.isHidden() for label in labels)
    steps = set()
    run_until(app, lambda: steps.add(labels[0].text()) or started(window), "the show to start")
    assert not window.loading
    assert any("encoder" in step for step in steps), f"no progress line named the encoder: {steps}"
    drawn = []
    window.shown.connect(drawn.append)
    run_until(app, lambda: drawn, "the first frame of the running show")
    assert all(label.isHidden() for label in labels), "the loading line stays over the body"
    assert image_of(window.body_view).std() > 10, "the body view is blank"
    window.close()


def test_a_failed_start_says_why_and_leaves_the_window_usable(app, tmp_path):
    args = show_defaults()
    missing = tmp_path / "no_such_bank"
    saved = load_settings()
    window = build_window(args)
    window.controls.bank.addItem(str(missing))
    window.controls.bank.setCurrentText(str(missing))
    failures = []
    window.failed.connect(failures.append)
    window.show()
    window.start()
    run_until(app, lambda: failures, "the start to fail")
    assert str(missing) in failures[0]
    assert not window.loading and window.session is None
    assert window.controls.start.text() == "Start"
    assert str(missing) in window._loading_labels[0].text()
    window.close()
    save_settings(saved)  # the next window opens on the bundled bank again


def test_stopping_while_loading_leaves_nothing_running(app, dev_song):
    window = song_window(dev_song)
    window.show()
    window.start(seconds=30.0)
    loader, label = window._loader, window._loading_labels[0]
    run_until(app, lambda: label.text().startswith("loading: "), "the loader's first progress line")
    window.stop()
    assert not window.loading and window.session is None and window.controls.start.text() == "Start"

    def wound_down() -> bool:
        return not any(thread.name.startswith("dancepose-") for thread in threading.enumerate())

    run_until(app, wound_down, "the cancelled start's threads (loader, engine, render) to end")
    assert window.session is None, "a cancelled start was handed over"
    window.close()
