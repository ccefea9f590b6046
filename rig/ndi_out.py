"""NDI video out of the performance view (``cyndilib``, whose wheel bundles the NDI runtime: the optional ``[ndi]``
extra; NDI is a registered trademark of Vizrt NDI AB, its runtime's licence text is ``rig/NDI_LICENSES.txt``).

:meth:`NdiOut.add_frame` is a render-loop listener (it takes any object with ``rgb``, an (H, W, 3) uint8 picture): it
only offers the newest picture to a one-slot queue, and a sender thread converts it to RGBA and sends it, so the
render thread never waits on the network. The resolution is the first picture's; later pictures of another size
are dropped (counted). Receivers find the source as ``<machine> (NAME)`` by mDNS, which needs an mDNS responder on
Linux (avahi); without one the source is sent but not found, and the run says so in one line.
"""

from __future__ import annotations

import queue
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from common.errors import InputError
from live.queues import offer_newest
from rig.stoppable import StoppableThread

AVAHI_SOCKET = Path("/run/avahi-daemon/socket")


def mdns_problem() -> str | None:
    """Why receivers on the network cannot find an NDI source by name here (one line), or None when they can."""
    if sys.platform.startswith("linux") and not AVAHI_SOCKET.exists():
        return f"no mDNS responder (avahi: {AVAHI_SOCKET} is missing): receivers will not find the source by name"
    return None


def _cyndilib():
    try:
        from cyndilib.sender import Sender
        from cyndilib.video_frame import VideoSendFrame
        from cyndilib.wrapper.ndi_structs import FourCC
    except ImportError as err:
        raise InputError(None, "NDI out needs the [ndi] extra: pip install 'dancepose[ndi]' (cyndilib)") from err
    return Sender, VideoSendFrame, FourCC


class NdiOut:
    """An NDI source called ``name`` sending the pictures given to :meth:`add_frame` at up to ``fps`` per second."""

    def __init__(self, name: str, fps: int = 30) -> None:
        self._classes = _cyndilib()
        self.name, self.fps = name, fps
        self._pictures: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=1)
        self._worker = StoppableThread()
        self._size: tuple[int, int] | None = None
        self._sender: object | None = None
        self.sent = 0
        """Pictures sent."""
        self.dropped = 0
        """Pictures replaced by a newer one before they were sent, or of another size than the first."""

    def add_frame(self, frame: object) -> None:
        """Offer the frame's ``rgb`` picture (never blocks)."""
        self.dropped += offer_newest(self._pictures, frame.rgb)

    def start(self) -> None:
        self._worker.start(self._run, "dancepose-ndi-out")

    def stop(self) -> None:
        """End the sender (safe to call more than once)."""
        self._worker.stop(wake=lambda: offer_newest(self._pictures, None))

    def _run(self) -> None:
        Sender, VideoSendFrame, FourCC = self._classes
        while (rgb := self._pictures.get()) is not None:
            if self._sender is None:
                self._size = (rgb.shape[1], rgb.shape[0])
                frame = VideoSendFrame()
                frame.set_resolution(*self._size)
                frame.set_frame_rate(Fraction(self.fps, 1))
                frame.set_fourcc(FourCC.RGBA)
                self._sender = Sender(self.name)
                self._sender.set_video_frame(frame)
                self._sender.open()
            if (rgb.shape[1], rgb.shape[0]) != self._size:
                self.dropped += 1
                continue
            rgba = np.empty((*rgb.shape[:2], 4), np.uint8)
            rgba[..., :3], rgba[..., 3] = rgb, 255
            self._sender.write_video(rgba.ravel())
            self.sent += 1
        if self._sender is not None:
            self._sender.close()
