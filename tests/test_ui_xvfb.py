"""A real X window under Xvfb (QT_QPA_PLATFORM=xcb, in a subprocess: Qt's platform is fixed per process): the
performance view full screen, recording to MP4 with the audio; and the no-display run writing its files. Waits poll
for what they await (the X server, the body on screen, the child's exit) with generous deadlines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DISPLAY = ":87"
DEADLINE_S = 240.0
"""Longest any wait may take before the test fails saying what it awaited (loading takes seconds here, more on a busy
machine)."""
POLL_S = 0.5
"""Pause between two looks at what is awaited."""

CHILD = """
import sys
from pathlib import Path
from ui.cli import run_show, show_defaults
args = show_defaults()
args.input, args.seconds, args.record, args.fullscreen = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]), True
sys.exit(run_show(args))
"""


@pytest.fixture(scope="module")
def xvfb():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb xauth x11-apps imagemagick)")
    server = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = Path(f"/tmp/.X11-unix/X{DISPLAY[1:]}")
    deadline = time.monotonic() + DEADLINE_S
    while not socket.exists():
        assert server.poll() is None, f"Xvfb exited with {server.returncode}"
        assert time.monotonic() < deadline, f"waited {DEADLINE_S:.0f} s for Xvfb's socket {socket}"
        time.sleep(POLL_S)
    yield DISPLAY
    server.terminate()
    server.wait()


def audio_and_video(path: Path) -> tuple[int, float, float]:
    """(video frames, video seconds, audio seconds) of an MP4."""
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].rate
        fps = float(container.streams.video[0].average_rate)
    return frames, frames / fps, samples / rate


def screenshot(display: str, path: Path) -> np.ndarray:
    """The whole X screen as (H, W, 3) int RGB, also saved to ``path``."""
    subprocess.run(["import", "-display", display, "-window", "root", str(path)], check=True, timeout=DEADLINE_S)
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def body_on_screen(screen: np.ndarray) -> bool:
    """Something bright and varied is drawn (the body, not just a black view with its grey 'loading' line)."""
    return bool(screen.std() > 10)


def test_fullscreen_window_records_in_sync(xvfb, dev_song, tmp_path):
    env = os.environ | {"DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    out, log = tmp_path / "show.mp4", tmp_path / "child.log"
    with open(log, "w") as sink:
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(dev_song), "7", str(out)], cwd=REPO, env=env,
                                 stdout=sink, stderr=subprocess.STDOUT, text=True)
    shot = tmp_path / "screen.png"
    deadline = time.monotonic() + DEADLINE_S
    while not body_on_screen(screen := screenshot(xvfb, shot)):
        ended = child.poll() is not None
        if ended or time.monotonic() > deadline:
            child.kill()
            child.wait()
            pytest.fail(f"waited for the body on the full-screen performance view; "
                        f"{'the show ended first' if ended else f'{DEADLINE_S:.0f} s passed'}:\n"
                        f"{log.read_text()[-3000:]}")
        time.sleep(POLL_S)
    child.wait(timeout=DEADLINE_S)
    output = log.read_text()
    assert child.returncode == 0, output
    assert f"wrote {out}" in output
    assert screen.shape[:2] == (800, 1280)
    assert (screen[:40].max() < 30), "the performance view is not full screen on black"  # no chrome at the top
    frames, video_s, audio_s = audio_and_video(out)
    assert frames > 100 and audio_s == pytest.approx(video_s, abs=0.1)
    assert audio_s > 5.0


def test_no_display_run_writes_recording_and_events(dev_song, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    code = ("import sys; from pathlib import Path; from ui.cli import run_show, show_defaults; a = show_defaults(); "
            "a.input, a.seconds, a.out = sys.argv[1], 5.0, Path(sys.argv[2]); sys.exit(run_show(a))")
    result = subprocess.run([sys.executable, "-c", code, str(dev_song), str(tmp_path)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=DEADLINE_S)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no display" in result.stdout and f"wrote {tmp_path / 'performance.mp4'}" in result.stdout
    frames, video_s, audio_s = audio_and_video(tmp_path / "performance.mp4")
    assert audio_s == pytest.approx(5.0, abs=0.2) and video_s == pytest.approx(audio_s, abs=0.1)
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert any('"PoseEvent"' in line for line in lines)
    assert Image.open(tmp_path / "performance.png").size == (1120, 480)
