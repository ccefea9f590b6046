"""NDI out: the performance view's pictures sent as an NDI source and received in the same process (skipped when
cyndilib is missing or no mDNS responder lets the receiver find the source)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest

pytest.importorskip("cyndilib", reason="the [ndi] extra (cyndilib) is not installed")
from rig.ndi_out import NdiOut  # noqa: E402


@dataclass(frozen=True)
class Picture:
    rgb: np.ndarray


def test_pictures_are_sent_and_received_as_an_ndi_source():
    from cyndilib.finder import Finder
    from cyndilib.receiver import Receiver
    from cyndilib.video_frame import VideoFrameSync
    from cyndilib.wrapper.ndi_recv import RecvBandwidth, RecvColorFormat

    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:, :32] = (200, 40, 10)
    out = NdiOut("dancepose-test")
    out.start()
    finder = Finder()
    finder.open()
    try:
        deadline = time.monotonic() + 8
        while out.sent < 5:
            assert time.monotonic() < deadline, "the sender thread sent nothing"
            out.add_frame(Picture(picture))
            time.sleep(0.02)
        source = None
        while source is None:
            if time.monotonic() > deadline:
                pytest.skip("NDI source sent but not found in 8 s: no mDNS responder (avahi) on this machine")
            finder.wait_for_sources(0.5)
            names = [n for n in finder.get_source_names() if "dancepose-test" in n]
            source = finder.get_source(names[0]) if names else None
        receiver = Receiver(color_format=RecvColorFormat.RGBX_RGBA, bandwidth=RecvBandwidth.highest)
        synced = VideoFrameSync()
        receiver.frame_sync.set_video_frame(synced)
        receiver.set_source(source)
        deadline = time.monotonic() + 10
        while synced.xres == 0:
            assert time.monotonic() < deadline, "no picture received"
            out.add_frame(Picture(picture))
            time.sleep(0.03)
            receiver.frame_sync.capture_video()
        received = synced.get_array().reshape(48, 64, 4)
        assert np.abs(received[:, :32, :3].astype(int) - (200, 40, 10)).max() < 8
        assert received[:, 32:, :3].max() < 8
    finally:
        out.stop()
        finder.close()
