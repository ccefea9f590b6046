"""The rig in the window, offscreen (QT_QPA_PLATFORM=offscreen): a show started from the window sends its beats by OSC
to a loopback receiver, and OSC commands reach the engine (a nudge) and the window (performance view, latency, stop:
posted to the GUI thread). Every wait polls for its condition with a generous deadline."""

from __future__ import annotations

import os
import socket
import threading

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402
from pythonosc.osc_message import OscMessage  # noqa: E402

from test_rig_osc_in import Client  # noqa: E402
from test_ui_window import app, run_until, started  # noqa: E402, F401  (app: a fixture)
from ui.app import build_window  # noqa: E402
from ui.cli import show_defaults  # noqa: E402


class Receiver:
    """A loopback UDP socket collecting the OSC messages sent to it, on a thread of its own."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.addresses: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-osc-receiver", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if data.startswith(b"/"):  # a message (bundles are not sent by the dancepose preset's beat)
                self.addresses.append(OscMessage(data).address)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def receiver():
    osc = Receiver()
    yield osc
    osc.close()


def test_the_window_runs_its_rig_sending_beats_and_taking_commands(app, dev_song, receiver):  # noqa: F811
    args = show_defaults()
    args.input = str(dev_song)
    args.osc, args.osc_listen, args.osc_phase_hz = [f"127.0.0.1:{receiver.port}"], 0, 0.0
    window = build_window(args)
    window.show()
    window.start(seconds=20.0)
    run_until(app, lambda: started(window), "the show to start")
    assert window.rig is not None and window.rig.osc_in is not None
    run_until(app, lambda: "/dancepose/beat" in receiver.addresses, "a /dancepose/beat message from the window's show")

    client = Client(window.rig.osc_in.port)
    assert client.ask("/dancepose/nudge", 40.0) == ("/dancepose/reply", ("/dancepose/nudge", "ok"))
    engine = window.session.engine
    run_until(app, lambda: abs(engine.grid.offset_s - 0.04) < 1e-9, "the OSC nudge to move the engine's beat grid")

    assert client.ask("/dancepose/view", 1)[0] == "/dancepose/reply"
    run_until(app, window.performance.isVisible, "the performance view to open on an OSC command")
    assert client.ask("/dancepose/latency/screen", 150.0)[0] == "/dancepose/reply"
    run_until(app, lambda: window.session.render.lead_s == 0.15, "the screen latency to reach the render loop")
    assert window.rig.options.latencies.screen_ms == 150.0

    assert client.ask("/dancepose/stop")[0] == "/dancepose/reply"
    run_until(app, lambda: window.session is None and window.rig is None, "the show to stop on an OSC command")
    with pytest.raises(OSError):  # the listener closed with the show
        client.ask("/dancepose/tap")
    window.close()
