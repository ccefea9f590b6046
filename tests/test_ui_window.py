"""The window, offscreen (QT_QPA_PLATFORM=offscreen), driven by the live engine on a dev-set song through the file
source: the body is drawn and moves with the events, the image panel shows the event's image, the BPM is the song's,
and a slow encoder leaves the event loop responsive."""

from __future__ import annotations

import os
import time

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from model.cli_options import RankingSetup  # noqa: E402
from pose_db.search import TopK  # noqa: E402
from ui.app import build_window  # noqa: E402
from ui.cli import show_defaults  # noqa: E402

SONG_BPM = 120.0


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))  # QSettings go here, not to ~
    return QApplication.instance() or QApplication([])


def run_for(app: QApplication, seconds: float, every_s: float, action) -> None:
    """Run the event loop for ``seconds``, calling ``action()`` every ``every_s``."""
    timer = QTimer()
    timer.timeout.connect(action)
    timer.start(int(every_s * 1000))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.002)
    timer.stop()


def image_of(widget) -> np.ndarray:
    """What ``widget`` shows: (H, W*3) uint8, copied out of the QImage (whose buffer dies with it)."""
    image = widget.grab().toImage()
    image = image.convertToFormat(image.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].copy()


def test_window_dances_to_the_song(app, dev_song, tmp_path):
    args = show_defaults()
    args.input = str(dev_song)
    window = build_window(args)
    window.resize(1280, 800)
    window.show()
    window.start(seconds=11.0)
    grabs, drawn_tags = [], []
    # connected after the window's own slot: the last tag seen is the frame the window has just drawn
    window.bridge.frame.connect(lambda frame: frame.tag is not None and drawn_tags.append(frame.tag))

    def grab() -> None:
        if drawn_tags and window.image_panel.path is not None:
            grabs.append((image_of(window.body_view), drawn_tags[-1], window.image_panel.path))

    run_for(app, 11.5, 0.8, grab)
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
    """Takes 0.4 s per window: positions get dropped, the window must not stall."""

    encoder_name = "slow"

    def rank(self, windows: np.ndarray, bar_phase: np.ndarray, k: int) -> TopK:
        time.sleep(0.4)
        return TopK(indices=np.arange(k)[None, :], scores=np.zeros((1, k), np.float32))

    def reset(self) -> None:
        """Stateless."""


def test_a_slow_encoder_leaves_the_window_responsive(app, dev_song):
    args = show_defaults()
    args.input = str(dev_song)
    window = build_window(args)
    key = (window.controls.encoder.currentText(), window.controls.bank.currentText())
    from model.cli_options import open_ranking_setup
    from ui.main_window import replace_namespace
    real = open_ranking_setup(replace_namespace(args, top_k=5), 5)
    window._setups[key] = RankingSetup(real.bank, real.body, SlowRetriever(), None)
    window.show()
    window.start(seconds=6.0)
    last, gaps = [time.monotonic()], []

    def tick() -> None:
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    run_for(app, 6.0, 0.01, tick)
    drops = window._drops
    window.close()
    assert np.percentile(gaps, 99) < 0.1 and max(gaps) < 0.25, f"event loop stalled: {max(gaps):.3f} s"
    assert drops > 0 or window.flash.beats > 0
