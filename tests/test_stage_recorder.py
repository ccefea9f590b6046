"""The render loop's frame grid and the recorder's count of distinct frames (no threads waiting on time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ui.recorder import Recorder
from ui.stage import RenderConfig, RenderLoop, SmoothClock, StageFrame


def picture(value: int) -> np.ndarray:
    return np.full((16, 16, 3), value, np.uint8)


def test_recorder_counts_frames_that_differ_from_the_one_before(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "out.mp4", start_s=10.0, fps=10)
    # the first picture comes for frame 1 (frame 0 shows it too); frame 2 new; slot 3 missed (frame 3 repeats frame
    # 2); frame 4 new but the same picture as frame 3; frame 5 new
    for n, value in ((1, 20), (2, 30), (4, 30), (5, 40)):
        recorder.add_frame(StageFrame(10.0 + n / 10, picture(value), 0.01, None))
    info = recorder.close()
    assert info.frames == 6
    assert info.distinct_frames == 3  # frames 0, 2 and 5
    assert info.rendered_frames == 4  # frames 1, 2, 4 and 5
    assert info.distinct_share == 3 / 6


class SteppingClock:
    """An audio clock that moves by a fixed step each time it is read."""

    def __init__(self, times: list[float]) -> None:
        self.times, self.reads = times, 0

    def __call__(self) -> float:
        value = self.times[min(self.reads, len(self.times) - 1)]
        self.reads += 1
        return value


def test_render_loop_renders_each_grid_slot_once_and_restarts_when_the_clock_goes_back() -> None:
    fps = 30.0
    clock = SteppingClock([0.0, 0.5 / fps, 1.0 / fps, 1.2 / fps, 3.5 / fps, 0.0, 1.0 / fps])
    loop = RenderLoop(body=None, choreography=None, clock=clock, image_of=Path, config=RenderConfig(fps=fps))
    loop.frame_clock = clock
    slots = []
    for slot in loop._slots():
        slots.append(slot)
        if clock.reads >= len(clock.times):
            break
    # 0; 0.5 is still slot 0 (skipped); 1; 1.2 still slot 1; 3.5 -> slot 3 (slot 2 passed while rendering);
    # then the clock restarts at 0 and 1
    assert slots == [0, 1, 3, 0, 1]


def test_smooth_clock_runs_between_audio_steps_and_never_goes_back() -> None:
    audio, wall = [0.0], [100.0]
    clock = SmoothClock(lambda: audio[0], max_lead_s=0.1, monotonic=lambda: wall[0])
    readings = []
    for audio_s, wall_s in ((0.0, 100.0), (0.0, 100.02), (0.034, 100.034), (0.034, 100.05), (0.034, 100.5),
                            (0.068, 100.51), (0.068, 100.52), (0.0, 101.0)):
        audio[0], wall[0] = audio_s, wall_s
        readings.append(clock())
    np.testing.assert_allclose(readings, [0.0, 0.02, 0.034, 0.05, 0.134, 0.134, 0.134, 0.0])


class TimedMotion:
    """A motion player whose frame at ``t`` has its pelvis moved ``t`` metres sideways, recording what it is asked."""

    betas = np.zeros(10, np.float32)

    def __init__(self) -> None:
        self.sampled: list[float] = []

    def sample(self, t_s: float):
        from motion.frame import rest_frame

        self.sampled.append(t_s)
        frame = rest_frame(t_s)
        return type(frame)(t_s, np.array([t_s, 0.0, 0.0]), frame.global_orient, frame.body_pose)

    def shown_tag(self, t_s: float) -> int:
        return round(t_s * 1000)  # the bank index on show names the time it was asked for


class RootPainter:
    """A renderer whose picture encodes the pelvis's sideways place in millimetres (first pixel, two bytes)."""

    def render_pose(self, pose72: np.ndarray, betas: np.ndarray, root_m: np.ndarray) -> np.ndarray:
        mm = round(root_m[0] * 1000)
        rgb = np.zeros((4, 4, 3), np.uint8)
        rgb[0, 0, :2] = divmod(mm, 256)
        return rgb


def test_screen_latency_shows_the_motion_that_much_ahead_of_the_audio_clock() -> None:
    motion = TimedMotion()
    loop = RenderLoop(body=None, choreography=motion, clock=lambda: 0.0, image_of=Path,
                      config=RenderConfig(with_image=False, screen_latency_ms=120.0))
    frame = loop.render_once(RootPainter(), 1.0)
    assert frame.t_s == 1.0  # seen at 1.0 s of audio (where the recorder puts it) ...
    assert frame.shows_s == pytest.approx(1.12) and motion.sampled == [pytest.approx(1.12)]  # ... showing 1.12 s
    assert divmod(1120, 256) == tuple(frame.rgb[0, 0, :2]) and frame.tag == 1120
    loop.lead_s = -0.05  # changed while running (an OSC latency command): a screen nearer than the speakers
    frame = loop.render_once(RootPainter(), 2.0)
    assert frame.shows_s == pytest.approx(1.95) and tuple(frame.rgb[0, 0, :2]) == divmod(1950, 256)
