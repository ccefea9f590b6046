"""The window's beat display, offscreen: the flash marks the tracker's downbeats and writes the beat's place in its
metre; the level strip draws downbeats white; without a bar model a bar is 4 beats from the first."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pyqtgraph as pg  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from live.events import BeatTick  # noqa: E402
from ui.level_strip import LevelStrip  # noqa: E402
from ui.views import BeatFlash  # noqa: E402


@pytest.fixture(scope="module")
def app():
    return QApplication.instance() or QApplication([])


def ticks(places: list[int | None], beats_per_bar: int | None) -> list[BeatTick]:
    return [BeatTick(0.5 * n, 0.5 * n + 0.02, 120.0, place, beats_per_bar) for n, place in enumerate(places)]


@pytest.mark.parametrize(("beats_per_bar", "places"), [(3, [2, 3, 1, 2, 3, 1, 2]), (5, [4, 5, 1, 2, 3, 4, 5, 1])])
def test_flash_and_strip_mark_the_trackers_downbeats_and_show_the_metre(app, beats_per_bar, places):
    flash, strip = BeatFlash(), LevelStrip()
    flags = []
    for tick in ticks(places, beats_per_bar):
        flags.append(flash.on_beat(tick))
        strip.add_beat(tick.beat_s, flags[-1])
        assert f"beat {tick.beat_in_bar} of {beats_per_bar}" in flash.text()
        assert flash.text().startswith("120.0 BPM")
    assert flags == [place == 1 for place in places]
    lines = [item for item in strip.getPlotItem().items if isinstance(item, pg.InfiniteLine)]
    colours = [line.pen.color().name() for line in sorted(lines, key=lambda line: line.value())]
    assert colours == ["#ffffff" if place == 1 else "#777777" for place in places]


def test_without_a_bar_model_every_4th_beat_from_the_first_is_a_downbeat(app):
    flash = BeatFlash()
    assert [flash.on_beat(tick) for tick in ticks([None] * 9, None)] == [n % 4 == 0 for n in range(9)]
    assert flash.text() == "120.0 BPM" and flash.beats == 9
