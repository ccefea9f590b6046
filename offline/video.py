"""MP4 videos of per-position pictures over the song's audio, encoded with PyAV (FFmpeg's libx264 and AAC).

Picture ``i`` is on screen from its position time ``times_s[i]`` until the next position; before the first position
the placeholder is shown. The video lasts as long as the song, so every picture appears exactly at its beat time
(to the nearest frame) and no audio is cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps

AAC_FRAME_SAMPLES = 1024
"""Samples per AAC frame: the encoder's fixed frame size."""

BACKGROUND = (24, 24, 28)


@dataclass(frozen=True)
class VideoSpec:
    """Encoding settings.

    Attributes:
        fps: video frames per second (60, as the reference's videos).
        size: (width, height) in pixels; pictures are letterboxed into it. Both must be even.
        crf: libx264 constant rate factor (lower is better quality).
    """

    fps: int = 60
    size: tuple[int, int] = (512, 512)
    crf: int = 20


def frame_schedule(times_s: np.ndarray, duration_s: float, fps: int) -> np.ndarray:
    """Which picture each video frame shows: (F,) int64 picture index, -1 before the first position.

    Frame ``f`` covers ``[f / fps, (f + 1) / fps)``; it shows the last picture whose time is at or before the frame's
    midpoint, so a change lands on the frame nearest to its position time.
    """
    n_frames = int(np.ceil(duration_s * fps))
    midpoints = (np.arange(n_frames) + 0.5) / fps
    return np.searchsorted(np.asarray(times_s, dtype=np.float64), midpoints, side="right") - 1


def letterbox(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """``image`` scaled to fit ``size`` (width, height), centred on the background colour: (H, W, 3) uint8."""
    return np.asarray(ImageOps.pad(image.convert("RGB"), size, color=BACKGROUND, method=Image.Resampling.LANCZOS))


def audio_frames(samples: np.ndarray, rate: int, layout: str) -> Iterator[av.AudioFrame]:
    """AAC-sized planar float frames of (L, C) samples, with sample-count timestamps."""
    planar = np.ascontiguousarray(samples.T, dtype=np.float32)
    for start in range(0, planar.shape[1], AAC_FRAME_SAMPLES):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(planar[:, start : start + AAC_FRAME_SAMPLES]), format="fltp", layout=layout
        )
        frame.sample_rate = rate
        frame.pts = start
        yield frame


def write_video(
    path: Path,
    pictures: Sequence[Path],
    times_s: np.ndarray,
    audio: np.ndarray,
    audio_rate: int,
    spec: VideoSpec = VideoSpec(),
    placeholder: np.ndarray | None = None,
) -> int:
    """Encode an H.264/AAC MP4 of ``pictures`` shown at ``times_s`` over ``audio``.

    Args:
        path: output .mp4 file.
        pictures: one image file per position.
        times_s: (P,) increasing position times in seconds.
        audio: (L, C) float32 samples at ``audio_rate`` Hz (C = 1 or 2), the whole song.
        placeholder: (H, W, 3) uint8 shown before the first position; background colour if None.

    Returns:
        The number of video frames written.
    """
    duration_s = len(audio) / audio_rate
    schedule = frame_schedule(times_s, duration_s, spec.fps)
    width, height = spec.size
    blank = np.full((height, width, 3), BACKGROUND, np.uint8) if placeholder is None else placeholder
    return encode_frames(path, shown_pictures(schedule, pictures, blank, spec.size), spec.fps, spec.size, audio,
                         audio_rate, spec.crf)


def shown_pictures(schedule: np.ndarray, pictures: Sequence[Path], blank: np.ndarray,
                   size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The (H, W, 3) uint8 picture of each scheduled frame, each file decoded once per run of frames showing it."""
    shown, picture = -2, blank
    for which in schedule:
        if which != shown:
            shown = which
            picture = blank if which < 0 else letterbox(Image.open(pictures[which]), size)
        yield picture


def encode_frames(path: Path, frames: Iterable[np.ndarray], fps: int, size: tuple[int, int], audio: np.ndarray,
                  audio_rate: int, crf: int = 20) -> int:
    """Encode (H, W, 3) uint8 RGB ``frames`` as H.264 at ``fps`` (``size`` = (width, height)) with (L, C) float32
    ``audio`` at ``audio_rate`` Hz as AAC (first two channels), interleaved by time; returns the frames written."""
    layout = "mono" if audio.shape[1] == 1 else "stereo"
    written = 0
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "veryfast"})
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        sound = container.add_stream("aac", rate=audio_rate, layout=layout)
        sound_frames = audio_frames(audio[:, :2], audio_rate, layout)
        pending = next(sound_frames, None)
        for index, picture in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
            written += 1
            while pending is not None and pending.pts <= (index + 1) * audio_rate / fps:
                container.mux(sound.encode(pending))
                pending = next(sound_frames, None)
        for rest in ([pending] if pending is not None else []) + list(sound_frames):
            container.mux(sound.encode(rest))
        container.mux(video.encode(None))
        container.mux(sound.encode(None))
    return written
