"""``python main.py calibrate``: the flash + click pattern's files, and its beats sent live through OSC."""

from __future__ import annotations

import av
import numpy as np
import pytest

from main import main
from test_rig_osc import Receiver


def flash_starts(path) -> np.ndarray:
    with av.open(str(path)) as container:
        levels = [(frame.time, frame.to_ndarray(format="rgb24").mean()) for frame in container.decode(video=0)]
    return np.array([t for (t, level), (_, before) in zip(levels[1:], levels[:-1]) if level > 100 > before])


def click_starts(path) -> np.ndarray:
    with av.open(str(path)) as container:
        frames = [(frame.time, frame.to_ndarray()[0]) for frame in container.decode(audio=0)]
    samples, rate = np.concatenate([f for _, f in frames]), 48_000
    loud = np.flatnonzero(np.abs(samples) > 0.3)
    firsts = loud[np.concatenate([[True], np.diff(loud) > 0.2 * rate])]
    return frames[0][0] + firsts / rate


def test_pattern_flashes_ahead_of_its_clicks_by_the_screen_latency(tmp_path):
    assert main(["calibrate", "--seconds", "5", "--bpm", "120", "--latency-screen-ms", "80", "--size", "64",
                 "--out", str(tmp_path)]) == 0
    clicks, flashes = click_starts(tmp_path / "calibrate.mp4"), flash_starts(tmp_path / "calibrate.mp4")
    assert np.allclose(clicks, [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5], atol=0.002)
    assert len(flashes) == len(clicks)
    assert np.abs(flashes - (clicks - 0.080)).max() <= 1 / 60 + 1e-3  # to the nearest video frame
    assert (tmp_path / "click.wav").stat().st_size > 5 * 48_000 * 2


def test_pattern_beats_go_out_by_osc_on_the_clicks(tmp_path, capsys):
    receiver = Receiver()
    try:
        assert main(["calibrate", "--seconds", "3", "--play", "--osc", f"127.0.0.1:{receiver.port}",
                     "--osc-phase-hz", "0", "--size", "32", "--out", str(tmp_path)]) == 0
    finally:
        receiver.close()
    beats = [(args, stamp) for address, args, stamp in receiver.messages(lambda wall: wall)
             if address == "/dancepose/beat"]
    assert [args for args, _ in beats] == [(0,), (1,), (2,), (3,)]  # clicks at 1.0, 1.5, 2.0, 2.5 s
    spacing = np.diff([stamp for _, stamp in beats])
    assert np.median(spacing) == pytest.approx(0.5, abs=0.01) and np.abs(spacing - 0.5).max() < 0.04


def test_calibrate_refuses_bad_options(capsys):
    assert main(["calibrate", "--bpm", "900"]) == 2
    assert main(["calibrate", "--latency-osc-ms", "-600"]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: --bpm must be between 20 and 300, got 900",
                                                    "error: --latency-osc-ms must be between -500 and 1000 ms, "
                                                    "got -600"]
