"""Pictures and videos of generated dances: the reference's 2D skeleton drawing (``keypoint2img.py``, from vid2vid)
and an MP4 writer for frames held in memory, with the song's audio.

Skeleton (facts section 11): black 1280 x 720 canvas; joints with score <= 0.01 are invalid and an edge with an
endpoint at x == 0 is skipped; each edge is a straight line sampled along its longer axis, painted with a square
brush from -3 to +2 px, plus filled discs of radius < 6 px at both ends; vid2vid's ``setColor``: if every pixel a
stroke touches is black it is painted, otherwise *all* of them become the mean of the old value and the colour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from model.dance_revolution.poses import CANVAS

EDGES: tuple[tuple[int, int, tuple[int, int, int]], ...] = (
    (17, 15, (153, 0, 153)), (15, 0, (153, 0, 102)), (0, 16, (102, 0, 153)), (16, 18, (51, 0, 153)),
    (0, 1, (153, 0, 51)), (1, 8, (153, 0, 0)), (1, 2, (153, 51, 0)), (2, 3, (153, 102, 0)), (3, 4, (153, 153, 0)),
    (1, 5, (102, 153, 0)), (5, 6, (51, 153, 0)), (6, 7, (0, 153, 0)), (8, 9, (0, 153, 51)), (9, 10, (0, 153, 102)),
    (10, 11, (0, 153, 153)), (11, 24, (0, 153, 153)), (11, 22, (0, 153, 153)), (22, 23, (0, 153, 153)),
    (8, 12, (0, 102, 153)), (12, 13, (0, 51, 153)), (13, 14, (0, 0, 153)), (14, 21, (0, 0, 153)),
    (14, 19, (0, 0, 153)), (19, 20, (0, 0, 153)),
)
"""BODY_25 edges and their RGB colours, in the reference's drawing order."""
BRUSH: range = range(-3, 3)
"""Brush offsets in pixels (vid2vid ``bw = 3``: ``range(-bw, bw)``)."""
MIN_SCORE: float = 0.01


def line_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixels of the segment (x0, y0)-(x1, y1) as vid2vid's ``interpPoints`` samples it: ``round(|d|)``
    points along the longer axis (endpoints included), the other coordinate from the line, truncated to int."""
    if abs(x[1] - x[0]) < abs(y[1] - y[0]):
        along_y, along_x = line_points(y, x)
        return along_x, along_y
    if x[0] > x[-1]:
        x, y = x[::-1], y[::-1]
    count = int(np.round(x[-1] - x[0]))
    curve_x = np.linspace(x[0], x[-1], count)
    slope = (y[1] - y[0]) / (x[1] - x[0]) if x[1] != x[0] else 0.0
    return curve_x.astype(int), (y[0] + slope * (curve_x - x[0])).astype(int)


def paint(image: np.ndarray, yy: np.ndarray, xx: np.ndarray, color: tuple[int, int, int]) -> None:
    """vid2vid ``setColor``: paint if all touched pixels are black, else average all of them with the colour."""
    if (image[yy, xx] == 0).all():
        image[yy, xx] = color
    else:
        image[yy, xx] = ((image[yy, xx].astype(float) + np.asarray(color, float)) / 2).astype(np.uint8)


def draw_edge(image: np.ndarray, x: np.ndarray, y: np.ndarray, color: tuple[int, int, int]) -> None:
    """vid2vid ``drawEdge(bw=3, draw_end_points=True)`` for one sampled line."""
    if x.size == 0:
        return
    height, width = image.shape[:2]
    for i in BRUSH:
        for j in BRUSH:
            paint(image, np.clip(y + i, 0, height - 1), np.clip(x + j, 0, width - 1), color)
    ends_y, ends_x = np.array([y[0], y[-1]]), np.array([x[0], x[-1]])
    for i in range(-6, 6):
        for j in range(-6, 6):
            if i * i + j * j < 36:
                paint(image, np.clip(ends_y + i, 0, height - 1), np.clip(ends_x + j, 0, width - 1), color)


def draw_skeleton(pixels: np.ndarray, size: tuple[int, int] = CANVAS) -> np.ndarray:
    """One frame: (25, 3) keypoints in pixels (x, y, score) -> (H, W, 3) uint8 RGB on black."""
    image = np.zeros((size[1], size[0], 3), np.uint8)
    x = np.where(pixels[:, 2] > MIN_SCORE, pixels[:, 0], 0.0)
    y = np.where(pixels[:, 2] > MIN_SCORE, pixels[:, 1], 0.0)
    for a, b, color in EDGES:
        ex, ey = np.array([x[a], x[b]]), np.array([y[a], y[b]])
        if 0 in ex:
            continue
        draw_edge(image, *line_points(ex, ey), color)
    return image


def write_frames_video(path: Path, frames: Iterable[np.ndarray], fps: int, size: tuple[int, int],
                       audio: np.ndarray, audio_rate: int) -> int:
    """Encode (H, W, 3) uint8 frames as H.264 at ``fps`` with mono float32 ``audio`` (L,) at ``audio_rate`` Hz (AAC);
    returns the number of frames written."""
    from offline.video import encode_frames

    return encode_frames(path, frames, fps, size, np.asarray(audio, np.float32).reshape(-1, 1), audio_rate)
