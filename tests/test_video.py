"""Pose videos: each picture appears on the frame of its beat, over the whole song's audio."""

import av
import numpy as np
import pytest
from PIL import Image

from offline.video import VideoSpec, frame_schedule, write_video


def test_schedule_shows_each_picture_from_its_time():
    schedule = frame_schedule(np.array([0.5, 1.0, 1.25]), duration_s=2.0, fps=10)
    assert len(schedule) == 20
    np.testing.assert_array_equal(schedule[:5], -1)  # before the first position
    assert list(schedule).index(0) == 5 and list(schedule).index(1) == 10 and list(schedule).index(2) == 12
    assert schedule[-1] == 2


def test_video_changes_picture_on_the_beat_and_keeps_all_audio(tmp_path):
    colours = [(250, 0, 0), (0, 250, 0), (0, 0, 250)]
    pictures = []
    for i, colour in enumerate(colours):
        pictures.append(tmp_path / f"{i}.png")
        Image.new("RGB", (120, 80), colour).save(pictures[-1])
    rate, seconds = 44_100, 3.0
    audio = (0.2 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype(np.float32)[:, None]
    times = np.array([0.51, 1.0, 2.2])
    path = tmp_path / "v.mp4"
    written = write_video(path, pictures, times, audio, rate, VideoSpec(fps=60, size=(64, 64)))
    assert written == 180

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24")[32, 32] for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        audio_samples = sum(f.samples for f in container.decode(audio=0))
    assert len(frames) == 180
    dominant = np.array([int(np.argmax(px)) if px.max() > 128 else -1 for px in frames])
    for channel, t in enumerate(times):
        assert list(dominant).index(channel) == int(round(t * 60)), f"picture {channel} not on its beat frame"
    assert audio_samples / rate == pytest.approx(seconds, abs=0.05)
