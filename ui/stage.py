"""The performance picture, without Qt: the body rendered off screen on a black stage, the pose's image beside it.

:class:`RenderLoop` is a thread that renders the body at a fixed rate on the audio clock from a
:class:`~pose_db.animation.Choreography` and hands each :class:`StageFrame` to its listeners (the Qt views, the
recorder). Rendering never happens on the GUI thread. The OpenGL context is created on the render thread and used only
there (OSMesa and EGL contexts are per thread).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from pose_db.render import PoseRenderer, RenderStyle  # first: it picks the OpenGL platform


from pose_db.animation import Choreography  # noqa: E402
from pose_db.body import BodyModel  # noqa: E402

STAGE_STYLE = RenderStyle(background=(0.0, 0.0, 0.0), floor=(0.02, 0.02, 0.025), body=(0.80, 0.62, 0.50),
                          shadow_opacity=0.8, key_light=2.6, fill_light=0.9, rim_light=1.4, ambient=0.18)
"""Projector look: black background, a floor just above black, a warm body with a strong rim light."""


def stage_renderer(body: BodyModel, width: int, height: int) -> PoseRenderer:
    """A :class:`PoseRenderer` in :data:`STAGE_STYLE`."""
    return PoseRenderer(body, width, height, STAGE_STYLE)


@lru_cache(maxsize=64)
def load_image(path: Path, size: int) -> np.ndarray:
    """The picture at ``path`` letterboxed into a ``size`` x ``size`` black square: (size, size, 3) uint8."""
    with Image.open(path) as image:
        return np.asarray(ImageOps.pad(image.convert("RGB"), (size, size), color=(0, 0, 0)))


def compose(body: np.ndarray, image: np.ndarray | None) -> np.ndarray:
    """The performance picture: the body (H, W, 3) with, when given, the square image (H, H, 3) to its right."""
    return body if image is None else np.concatenate([body, image], axis=1)


@dataclass(frozen=True)
class StageFrame:
    """One rendered picture: ``rgb`` (H, W, 3) uint8 shows the body at ``t_s`` (audio clock, seconds);
    ``render_s`` is how long it took to make (seconds); ``tag`` is the bank index on show (None before the first)."""

    t_s: float
    rgb: np.ndarray
    render_s: float
    tag: int | None


@dataclass(frozen=True)
class RenderConfig:
    """Render loop settings: body picture ``size`` (width, height) in pixels, target ``fps``, and whether the frame
    carries the pose's image (``with_image``) to the right of the body."""

    size: tuple[int, int] = (640, 480)
    fps: float = 30.0
    with_image: bool = True


class RenderLoop:
    """A thread rendering the choreography at ``config.fps`` on ``clock()`` (audio clock, seconds).

    ``image_of(tag)`` gives the image file of a bank index. Listeners are called on the render thread with each
    :class:`StageFrame`; they must be quick (hand the frame over, do not process it there).
    """

    def __init__(self, body: BodyModel, choreography: Choreography, clock: Callable[[], float],
                 image_of: Callable[[int], Path], config: RenderConfig = RenderConfig()) -> None:
        self.body, self.choreography, self.clock, self.image_of, self.config = body, choreography, clock, image_of, config
        self.listeners: list[Callable[[StageFrame], None]] = []
        self.render_times_s: deque[float] = deque(maxlen=600)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dancepose-render", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def render_once(self, renderer: PoseRenderer, t_s: float) -> StageFrame:
        """Render the picture for time ``t_s`` with ``renderer`` (a renderer of this thread's context)."""
        started = time.perf_counter()
        body = renderer.render(self.choreography.sample(t_s))
        tag = self.choreography.shown_tag()
        image = None
        if self.config.with_image:
            image = np.zeros((body.shape[0],) * 2 + (3,), np.uint8) if tag is None else \
                load_image(self.image_of(tag), body.shape[0])
        return StageFrame(t_s, compose(body, image), time.perf_counter() - started, tag)

    def _run(self) -> None:
        renderer = stage_renderer(self.body, *self.config.size)
        period = 1.0 / self.config.fps
        next_due = time.monotonic()
        try:
            while not self._stop.is_set():
                frame = self.render_once(renderer, self.clock())
                self.render_times_s.append(frame.render_s)
                for listener in self.listeners:
                    listener(frame)
                next_due = max(next_due + period, time.monotonic())
                self._stop.wait(max(0.0, next_due - time.monotonic()))
        finally:
            renderer.close()
