"""OSC in with real components: a python-osc listener driving a running engine, a real UDP client on loopback
reading the replies, and garbage packets that must not hurt."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from conftest import BEATS_DIR
from live.engine import EngineConfig, LiveEngine
from live.file_source import FileSource
from rig.osc_in import OscIn, OwnerActions
from test_rig_osc import HashRetriever

SONG = BEATS_DIR / "hydrogen_tutorial_georgyporgy.flac"


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def message(address: str, *args: object) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


class Client:
    """A UDP socket that sends to the listener and reads its replies."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10.0)
        self.port = port

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def ask(self, address: str, *args: object) -> tuple[str, tuple]:
        """Send one command; (reply address, reply arguments)."""
        self.send(message(address, *args))
        reply = OscMessage(self.sock.recv(65536))
        return reply.address, tuple(reply.params)


@pytest.fixture
def running(shared_dir):
    """An engine playing the song in real time, an OSC listener on it (any free port), a client."""
    engine = LiveEngine(FileSource(SONG, speed=1.0), HashRetriever(), EngineConfig())
    stopped: list[bool] = []
    listener = OscIn(0, engine, OwnerActions(stop=lambda: stopped.append(True)), host="127.0.0.1")
    listener.start()
    engine.start(seconds=60.0)
    client = Client(listener.port)
    yield engine, listener, client, stopped
    listener.stop()
    engine.stop()
    client.sock.close()


def test_osc_nudge_resolution_top_k_and_tracker_reach_the_engine(running):
    engine, listener, client, _ = running
    assert client.ask("/dancepose/nudge", 20.0) == ("/dancepose/reply", ("/dancepose/nudge", "ok"))
    wait_for(lambda: engine.grid.offset_s == pytest.approx(0.020), "the nudge to reach the grid")
    assert client.ask("/dancepose/nudge", -50) == ("/dancepose/reply", ("/dancepose/nudge", "ok"))
    wait_for(lambda: engine.grid.offset_s == pytest.approx(-0.030), "the second nudge")
    assert client.ask("/dancepose/resolution", "16th")[0] == "/dancepose/reply"
    wait_for(lambda: engine.per_beat == 4 and engine.config.resolution == "16th", "16th notes")
    assert client.ask("/dancepose/topk", 3)[0] == "/dancepose/reply"
    wait_for(lambda: engine.config.top_k == 3, "top-k 3")
    assert client.ask("/dancepose/window", "centred")[0] == "/dancepose/reply"
    wait_for(lambda: engine.config.mode == "centred", "the centred window")
    assert client.ask("/dancepose/tracker")[0] == "/dancepose/reply"
    wait_for(lambda: engine.grid.offset_s == 0.0, "back to the tracker")
    assert listener.handled == 6 and listener.refused == 0


def test_taps_by_osc_set_the_tempo(running):
    engine, _, client, _ = running
    for _ in range(6):  # 0.4 s apart in real time: 150 BPM
        client.send(message("/dancepose/tap"))
        time.sleep(0.4)
    wait_for(lambda: engine.grid.tapped is not None, "the tapped grid")
    assert 60.0 / engine.grid.tapped[1] == pytest.approx(150, rel=0.08)


def test_unknown_addresses_and_bad_arguments_are_answered_with_errors(running):
    engine, listener, client, stopped = running
    address, (about, why) = client.ask("/dancepose/fly")
    assert (address, about, why) == ("/dancepose/error", "/dancepose/fly", "unknown address")
    assert client.ask("/other/thing", 1)[1][1] == "unknown address"
    assert "one of 4th, 8th, 16th" in client.ask("/dancepose/resolution", "32nd")[1][1]
    assert "at least 1" in client.ask("/dancepose/topk", 0)[1][1]
    assert "takes one number" in client.ask("/dancepose/nudge", "later")[1][1]
    assert "between -500 and 1000 ms" in client.ask("/dancepose/latency/osc", 5000.0)[1][1]
    assert client.ask("/dancepose/record", 1)[1][1] == "record is not available in this run"
    assert client.ask("/dancepose/stop") == ("/dancepose/reply", ("/dancepose/stop", "ok")) and stopped == [True]
    assert listener.refused == 7 and engine.config.resolution == "8th" and engine.config.top_k == 5


def test_garbage_packets_are_counted_and_ignored(running):
    engine, listener, client, _ = running
    garbage = [b"", b"\x00" * 7, b"hello world", b"/dancepose/tap\x00\x00",  # no type tags
               b"/dancepose/nudge\x00\x00\x00\x00,f\x00\x00\x01",  # a float cut short
               b"#bundle\x00\x00\x00", message("/dancepose/topk", 2)[:-3], bytes(range(256)) * 4]
    for data in garbage:
        client.send(data)
    assert client.ask("/dancepose/nudge", 10.0)[0] == "/dancepose/reply"  # still answering, in order
    wait_for(lambda: engine.grid.offset_s == pytest.approx(0.010), "the nudge after the garbage")
    assert listener.malformed >= len(garbage) - 2  # an empty datagram may not even arrive as one
    assert engine.config.top_k == 5 and not engine.wait(0)  # nothing reached the engine; it runs on


def test_latency_set_by_osc_moves_the_rigs_sends_and_is_announced(shared_dir):
    from rig.options import RigOptions
    from rig.osc_out import OscTarget
    from rig.outputs import open_rig
    from test_rig_osc import Receiver

    engine = LiveEngine(FileSource(SONG, speed=1.0), HashRetriever(), EngineConfig())
    receiver = Receiver()
    rig = open_rig(RigOptions(osc=(OscTarget("127.0.0.1", receiver.port),), listen=0), engine)
    client = Client(rig.osc_in.port)
    try:
        assert client.ask("/dancepose/latency/osc", 120.0) == ("/dancepose/reply", ("/dancepose/latency/osc", "ok"))
        wait_for(lambda: rig.osc_out.latencies.osc_ms == 120.0, "the OSC sender to take the new latency")
        assert client.ask("/dancepose/latency/midi", -40)[0] == "/dancepose/reply"
        wait_for(lambda: rig.options.latencies.midi_ms == -40.0, "the MIDI latency setting")
    finally:
        rig.close()
        receiver.close()
        client.sock.close()
    sent = [args for address, args, _ in receiver.messages(lambda wall: wall) if address == "/dancepose/latency/osc"]
    assert sent == [(0.0,), (120.0,), (120.0,)]  # at start, then on each change
