"""The performance picture, without Qt: the body rendered off screen on a black stage, the pose's image beside it.

:class:`RenderLoop` is a thread that renders the body on the audio clock's frame grid (frame ``n`` shows time
``n / fps``; the audio clock, made continuous between its steps by :class:`SmoothClock`) from a
:class:`~motion.player.MotionPlayer` and hands each :class:`StageFrame` to its listeners (the
Qt views, the recorder). Each grid slot is rendered at most once, so a recorder at the same rate gets a new picture
for every video frame the renderer keeps up with. Rendering never happens on the GUI thread. The OpenGL context is
created on the render thread and used only there (EGL and OSMesa contexts are current on one thread).

Screen latency (:attr:`RenderLoop.lead_s`, from ``--latency-screen-ms``, :mod:`rig.latency`): the frame for audio
time ``t`` shows the motion at ``t + latency``, so a projector that shows a picture ``latency`` late shows it on the
beat the audience hears (negative: later). The frame keeps ``t`` (``StageFrame.t_s``: when it is to be seen, on the
audio clock, where the recorder puts it) and says what it shows (``StageFrame.shows_s``).

:class:`Stage` is the motion player and the render loop of a show, which can run before the engine exists (on a clock
standing at 0): the body is drawn while the encoder loads. Nothing here imports torch.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from common.constants import NUM_BETAS
from motion.frame import bank_rotvecs, renderer_root
from motion.ik import skeleton_of
from motion.player import MotionPlayer
from motion.source import DEFAULT_MOTION, MotionSetup
from pose_db.bank import PoseBank
from pose_db.body import BodyModel
from pose_db.render import PoseRenderer, RenderStyle
from rig.stoppable import StoppableThread

STAGE_STYLE = RenderStyle(background=(0.0, 0.0, 0.0), floor=(0.02, 0.02, 0.025), body=(0.80, 0.62, 0.50),
                          shadow_opacity=0.8, key_light=2.6, fill_light=0.9, rim_light=1.4, ambient=0.18,
                          floor_falloff_m=2.0)
"""Projector look: black background, a floor just above black lit like a spotlight pool around the body, a warm body
with a strong rim light."""


def stage_renderer(body: BodyModel, width: int, height: int, samples: int | None = None) -> PoseRenderer:
    """A :class:`PoseRenderer` in :data:`STAGE_STYLE` with ``samples`` MSAA samples per pixel (None: 4 on a GPU,
    none on a CPU rasterizer, see :class:`PoseRenderer`)."""
    return PoseRenderer(body, width, height, STAGE_STYLE, samples=samples)


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
    """One rendered picture: ``rgb`` (H, W, 3) uint8 is the picture for audio time ``t_s`` (seconds, when it is to be
    seen); ``render_s`` is how long it took to make (seconds); ``tag`` is the bank index on show (None before the
    first); ``shows_s`` the motion time it shows, ``t_s`` plus the screen latency (None: ``t_s``)."""

    t_s: float
    rgb: np.ndarray
    render_s: float
    tag: int | None
    shows_s: float | None = None


@dataclass(frozen=True)
class RenderConfig:
    """Render loop settings: body picture ``size`` (width, height) in pixels, target ``fps``, whether the frame
    carries the pose's image (``with_image``) to the right of the body, MSAA ``samples`` per pixel (None: 4 on a
    GPU, none on a CPU rasterizer) and the screen's latency ``screen_latency_ms`` in milliseconds (the motion is
    sampled that much ahead of the audio clock; :mod:`rig.latency`)."""

    size: tuple[int, int] = (640, 480)
    fps: float = 30.0
    with_image: bool = True
    samples: int | None = None
    screen_latency_ms: float = 0.0


class SmoothClock:
    """The audio clock made continuous for frame timing.

    The audio clock advances in steps (one engine read, about 34 ms) and stalls while the engine is busy; between
    steps this clock runs on ``monotonic`` (seconds), at most ``max_lead_s`` past the latest audio reading. It never
    goes backwards, except when the audio clock itself does (a new input starts over).
    """

    def __init__(self, audio_clock: Callable[[], float], max_lead_s: float = 0.1,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.audio_clock, self.max_lead_s, self.monotonic = audio_clock, max_lead_s, monotonic
        self._audio: float | None = None
        self._since = 0.0
        self._last = -np.inf

    def __call__(self) -> float:
        audio, now = self.audio_clock(), self.monotonic()
        if audio != self._audio:
            if self._audio is not None and audio < self._audio:
                self._last = -np.inf
            self._audio, self._since = audio, now
        self._last = max(self._last, audio + min(now - self._since, self.max_lead_s))
        return self._last


class RenderLoop:
    """A thread rendering the choreography at ``config.fps`` on ``clock()`` (audio clock, seconds).

    ``image_of(tag)`` gives the image file of a bank index. Listeners are called on the render thread with each
    :class:`StageFrame`; they must be quick (hand the frame over, do not process it there).
    """

    def __init__(self, body: BodyModel, choreography: MotionPlayer, clock: Callable[[], float],
                 image_of: Callable[[int], Path], config: RenderConfig = RenderConfig()) -> None:
        self.body, self.choreography, self.clock, self.image_of, self.config = body, choreography, clock, image_of, config
        self.frame_clock: Callable[[], float] = SmoothClock(clock)
        """What the frame grid follows: the audio clock, continuous between its steps."""
        self.listeners: list[Callable[[StageFrame], None]] = []
        self.render_times_s: deque[float] = deque(maxlen=600)
        self.lead_s: float = config.screen_latency_ms / 1000.0
        """Screen latency in seconds: frame ``t`` shows the motion at ``t + lead_s`` (set from any thread)."""
        self.first_frame = threading.Event()
        """Set once the first frame has gone to the listeners."""
        self._worker = StoppableThread()

    @property
    def running(self) -> bool:
        """True once started (until stopped)."""
        return self._worker.running

    def start(self) -> None:
        self._worker.start(self._run, "dancepose-render")

    def stop(self) -> None:
        self._worker.stop()

    def render_once(self, renderer: PoseRenderer, t_s: float) -> StageFrame:
        """Render the picture for audio time ``t_s``, showing the motion at ``t_s + lead_s``, with ``renderer`` (a
        renderer of this thread's context)."""
        started = time.perf_counter()
        shows_s = t_s + self.lead_s
        frame = self.choreography.sample(shows_s)  # this thread owns the motion source: it advances, then reads
        body = renderer.render_pose(frame.pose72(), self.choreography.betas, root_m=renderer_root(frame))
        tag = self.choreography.shown_tag(shows_s)
        image = None
        if self.config.with_image:
            image = np.zeros((body.shape[0],) * 2 + (3,), np.uint8) if tag is None else \
                load_image(self.image_of(tag), body.shape[0])
        return StageFrame(t_s, compose(body, image), time.perf_counter() - started, tag, shows_s)

    def _run(self) -> None:
        renderer = stage_renderer(self.body, *self.config.size, self.config.samples)
        try:
            for slot in self._slots():
                frame = self.render_once(renderer, slot / self.config.fps)
                self.render_times_s.append(frame.render_s)
                for listener in list(self.listeners):  # a copy: other threads add and remove listeners
                    listener(frame)
                self.first_frame.set()
        finally:
            renderer.close()

    def _slots(self) -> Iterator[int]:
        """Frame slots to render, until stopped: the newest slot ``n`` with ``n / fps`` at or before
        :attr:`frame_clock`, each once (slots passed while rendering are skipped; a clock that goes back starts
        over)."""
        fps, last = self.config.fps, None
        while not self._worker.stopping.is_set():
            now = self.frame_clock()
            slot = math.floor(now * fps + 1e-9)
            if slot != last:
                last = slot
                yield slot
            else:
                self._worker.stopping.wait(min(max((slot + 1) / fps - now, 0.002), 1.0 / fps))


MOTION_HISTORY_S = 10.0
"""Seconds of motion events a show keeps when it will not export its motion."""


class Stage:
    """The motion player and the render loop of a show over ``bank`` and ``body``, startable before the engine: its
    clock stands at 0 until :meth:`follow` gives it the audio clock.

    ``motion`` names the motion mode (:data:`motion.source.MOTION_MODES`); ``betas`` (10,) the performer's shape
    (None: the mean shape); ``dance_checkpoint`` the model of the ``generate`` mode; ``keep_motion_log`` keeps every
    motion event for an export at the end (otherwise the last :data:`MOTION_HISTORY_S` seconds).
    """

    def __init__(self, bank: PoseBank, body: BodyModel, render: RenderConfig = RenderConfig(),
                 motion: str = DEFAULT_MOTION, betas: np.ndarray | None = None,
                 dance_checkpoint: Path | None = None, keep_motion_log: bool = False) -> None:
        self.bank, self.body = bank, body
        shape = np.zeros(NUM_BETAS, np.float32) if betas is None else np.asarray(betas, np.float32)
        self.motion_setup = MotionSetup(bank_rotvecs(bank.vectors), skeleton_of(body, shape), shape,
                                        dance_checkpoint)
        self.motion = MotionPlayer(self.motion_setup, motion, None if keep_motion_log else MOTION_HISTORY_S)
        self._audio_clock: Callable[[], float] = lambda: 0.0
        self.render = RenderLoop(body, self.motion, self.clock_s, bank.image_path, render)

    def clock_s(self) -> float:
        """The audio clock in seconds (0 until :meth:`follow`)."""
        return self._audio_clock()

    def follow(self, audio_clock: Callable[[], float]) -> None:
        """Run the render loop on ``audio_clock`` (seconds) from now on."""
        self._audio_clock = audio_clock
