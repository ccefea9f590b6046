"""OSC out and in with real components: a song played as live through the engine, real python-osc servers and
clients on loopback, timestamps on the audio clock."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest
from pythonosc.osc_message import OscMessage

from common.constants import WINDOW_SAMPLES
from conftest import BEATS_DIR
from live.engine import EngineConfig, LiveEngine
from live.events import BeatTick, PoseEvent
from live.file_source import FileSource
from live.queues import drain
from live.snippets import bar_position
from pose_db.search import TopK
from rig.clock import AudioClock
from rig.latency import Latencies
from rig.options import RigOptions
from rig.osc_out import OscOut, OscOutConfig, OscTarget, resolume_tempo
from rig.outputs import open_rig

SONG = BEATS_DIR / "hydrogen_tutorial_georgyporgy.flac"  # drums, steady 98 BPM
SPEED = 2.0
"""The song is played at twice real time: the audio clock still runs smoothly against the wall clock."""


class HashRetriever:
    """A fast stand-in encoder: ranks by a hash of the window."""

    encoder_name = "test"

    def rank(self, windows: np.ndarray, bar_phase: np.ndarray, k: int) -> TopK:
        assert windows.shape == (1, WINDOW_SAMPLES)
        first = int(abs(float(windows[0, ::997].sum())) * 1000) % 100
        return TopK(indices=np.arange(first, first + k)[None, :], scores=np.zeros((1, k), np.float32))

    def reset(self) -> None:
        """Stateless."""


class Receiver:
    """A real UDP socket on loopback that stamps every OSC message with the wall clock as it arrives (parsed by
    python-osc afterwards)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.datagrams: list[tuple[bytes, float]] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            self.datagrams.append((data, time.monotonic()))

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self.sock.close()

    def messages(self, to_audio_s) -> list[tuple[str, tuple, float]]:
        """(address, arguments, arrival in seconds on the audio clock) of every message, in arrival order."""
        out = []
        for data, wall in self.datagrams:
            message = OscMessage(data)
            out.append((message.address, tuple(message.params), to_audio_s(wall)))
        return out


@dataclass
class Run:
    """What a run with a rig gave: the engine's events, each receiver's messages on the audio clock, the rig."""

    events: list
    received: list[list[tuple[str, tuple, float]]]
    rig: object

    def values(self, receiver: int, address: str) -> list[tuple[tuple, float]]:
        return [(args, stamp) for a, args, stamp in self.received[receiver] if a == address]


class IndexBank:
    """A stand-in pose bank whose vector ``i`` is 82 times the number ``i``, without pictures."""

    vectors = np.repeat(np.arange(200, dtype=np.float32)[:, None], 82, axis=1)

    def image_path(self, index: int) -> None:
        return None


def play_with_rig(options_for, seconds: float = 14.0) -> Run:
    """Play the song as live with a rig made by ``options_for(receiver ports)``.

    The audio clock of a file played as live is a line against the wall clock (slope ``SPEED``); the engine's clock
    steps below it, one step per block read. The line is the upper envelope of (wall, engine clock) samples taken
    through the run, which is how the receivers' wall-clock arrival times are put on the audio clock.
    """
    engine = LiveEngine(FileSource(SONG, speed=SPEED), HashRetriever(), EngineConfig())
    receivers = [Receiver(), Receiver()]
    rig = open_rig(options_for([r.port for r in receivers]), engine, bank=IndexBank())
    events, offsets = [], []
    try:
        engine.start(seconds=seconds)
        deadline = time.monotonic() + 120
        while not engine.wait(0.01):
            assert time.monotonic() < deadline, "the engine did not finish the song"
            offsets.append(engine.reader.clock_s - SPEED * time.monotonic())
            batch = drain(engine.events)
            events += batch
            rig.observe(batch)
        rig.observe(drain(engine.events))
    finally:
        engine.stop()
        rig.close()
        for receiver in receivers:
            receiver.close()
    offset = max(offsets)
    return Run(events, [r.messages(lambda wall: SPEED * wall + offset) for r in receivers], rig)


@pytest.fixture(scope="module")
def played(shared_dir) -> Run:
    """One run feeding two receivers: the dancepose address space (0) and the Resolume preset (1)."""
    return play_with_rig(lambda ports: RigOptions(osc=(OscTarget("127.0.0.1", ports[0]),
                                                       OscTarget("127.0.0.1", ports[1], "resolume")),
                                                  phase_hz=50, pose=True))


def beat_offsets(run: Run, shift_s: float = 0.0) -> np.ndarray:
    """Arrival of each /dancepose/beat on the audio clock minus (its tick's beat time - ``shift_s``), seconds.

    The first beat is left out: it is known only when its tick comes (after it); from the second on, the sender
    extrapolates the grid and sends each beat at its time."""
    ticks = [e.beat_s for e in run.events if isinstance(e, BeatTick)]
    return np.array([stamp - (ticks[n] - shift_s) for (n,), stamp in run.values(0, "/dancepose/beat")
                     if 0 < n < len(ticks)])


def test_beats_arrive_in_order_at_their_time_on_the_audio_clock(played):
    ticks = [e for e in played.events if isinstance(e, BeatTick)]
    counts = [args[0] for args, _ in played.values(0, "/dancepose/beat")]
    assert len(ticks) > 15 and len(counts) >= len(ticks) - 1
    assert counts == list(range(counts[0], counts[0] + len(counts))), "beat counts out of order or missing"
    offsets = beat_offsets(played)
    print(f"beat message - tick time: median {1000 * np.median(offsets):+.1f} ms, "
          f"90th pct |.| {1000 * np.percentile(np.abs(offsets), 90):.1f} ms, max {1000 * np.abs(offsets).max():.1f} ms")
    # the tracker's beats lie on its 10.7 ms hop grid (256 samples at 24 kHz): a tick differs from the beat
    # extrapolated one period earlier by up to a hop either way. Bounds for a loaded 2-core machine (with a load
    # average of 10, an engine that falls behind sends a beat late now and then); an idle one measured a median of
    # +1 ms and a 90th percentile of 6 ms
    assert np.median(np.abs(offsets)) < 0.008
    assert np.percentile(np.abs(offsets), 80) < 0.015
    assert played.rig.osc_out.dropped == 0 and played.rig.osc_out.send_errors == 0


def test_poses_are_sent_at_their_show_time(played):
    shown = [e for e in played.events if isinstance(e, PoseEvent)]
    sent = played.values(0, "/dancepose/pose")
    assert all(len(args) == 82 for args, _ in sent)
    # in order, one per pose event (the last ones may be due after the end of the run)
    assert [round(args[0]) for args, _ in sent] == [e.indices[0] for e in shown][: len(sent)]
    assert len(sent) >= len(shown) - 3
    offsets = np.array([stamp - e.show_at_s for e, (_, stamp) in zip(shown, sent) if not e.late])
    print(f"pose message - show time: median {1000 * np.median(offsets):+.1f} ms, "
          f"90th pct |.| {1000 * np.percentile(np.abs(offsets), 90):.1f} ms")
    assert len(offsets) > 30
    assert abs(np.median(offsets)) < 0.006 and np.percentile(np.abs(offsets), 80) < 0.015


def test_bar_downbeat_bpm_and_phase_follow_the_beat(played):
    beats = [args[0] for args, _ in played.values(0, "/dancepose/beat")]
    bars = [args[0] for args, _ in played.values(0, "/dancepose/bar")]
    downbeats = [args[0] for args, _ in played.values(0, "/dancepose/downbeat")]
    assert all(after - before in (0, 1) for before, after in zip(bars, bars[1:]))
    ticks = [e for e in played.events if isinstance(e, BeatTick)]
    if ticks[0].beats_per_bar is None:  # a tracker without downbeats: a bar every 4 beats from the first
        assert bars == [b // 4 for b in beats] and downbeats == [int(b % 4 == 0) for b in beats]
    else:  # the tracker's downbeats (a beat is sent before its tick comes: the tracker may change its mind since)
        heard = [(d, int(bar_position(b, 0.0, ticks[b].beat_in_bar, ticks[b].beats_per_bar)[0] == 0))
                 for b, d in zip(beats, downbeats) if b < len(ticks)]
        assert np.mean([sent == tick for sent, tick in heard]) > 0.9, heard
    bpm = [args[0] for args, _ in played.values(0, "/dancepose/bpm")]
    assert np.median(bpm) == pytest.approx(98, rel=0.02)
    phase = np.array([args[0] for args, _ in played.values(0, "/dancepose/phase")])
    assert len(phase) > 100 and phase.min() >= 0 and phase.max() < 1
    wraps = int(np.sum(np.diff(phase) < -0.5))
    assert abs(wraps - len(beats)) <= 2  # the phase ramps up once per beat
    levels = [args[0] for args, _ in played.values(0, "/dancepose/energy")]
    assert len(levels) > 100 and 0.01 < np.median(levels) < 1
    onsets = played.values(0, "/dancepose/onset")
    assert abs(len(onsets) - len(levels)) <= 1  # sent in pairs: the last one may still be in flight
    assert [args for args, _ in played.values(0, "/dancepose/latency/osc")] == [(0.0,)]


def test_resolume_preset_gets_its_tempo_and_a_resync_on_each_downbeat(played):
    tempo = [args[0] for args, _ in played.values(1, "/composition/tempocontroller/tempo")]
    assert tempo and all(0 < t < 1 for t in tempo)
    assert tempo[-1] == pytest.approx(resolume_tempo(98), abs=0.002)  # (98 - 20) / 480
    resyncs = [stamp for args, stamp in played.values(1, "/composition/tempocontroller/resync") if args == (1,)]
    downbeats = [stamp for (d,), stamp in played.values(0, "/dancepose/downbeat") if d == 1]
    assert len(resyncs) == len(downbeats) >= 3
    assert np.median(np.abs(np.array(resyncs) - np.array(downbeats))) < 0.005  # sent together
    assert {address for address, _, _ in played.received[1]} == {"/composition/tempocontroller/tempo",
                                                                   "/composition/tempocontroller/resync"}


@pytest.mark.parametrize(("beats_per_bar", "first_in_bar"), [(3, 2), (5, 4)])
def test_bar_and_downbeat_follow_the_trackers_downbeats_and_metre(beats_per_bar, first_in_bar):
    receiver, started = Receiver(), time.monotonic()
    clock = AudioClock(lambda: 4.0 * (time.monotonic() - started), 4.0)  # audio at four times the wall clock
    out = OscOut(OscOutConfig((OscTarget("127.0.0.1", receiver.port),), phase_hz=0), clock)
    for n in range(3):  # 120 BPM from audio time 0, the first beat at its place ``first_in_bar`` in the bar
        out.observe(BeatTick(0.5 * n, 0.0, 120.0, (first_in_bar - 1 + n) % beats_per_bar + 1, beats_per_bar))
    out.start()
    try:
        deadline = time.monotonic() + 60
        while len([d for d, _ in receiver.datagrams if b"/dancepose/bar" in d]) < 12:
            assert time.monotonic() < deadline, "waited 60 s for 12 bar messages"
            time.sleep(0.02)
    finally:
        out.stop()
        receiver.close()
    received = receiver.messages(lambda wall: wall)
    beats = [args[0] for a, args, _ in received if a == "/dancepose/beat"]
    bars = [args[0] for a, args, _ in received if a == "/dancepose/bar"]
    downbeats = [args[0] for a, args, _ in received if a == "/dancepose/downbeat"]
    places = [(first_in_bar - 1 + b) % beats_per_bar for b in beats]  # 0-based place in the bar of each beat
    assert beats == list(range(beats[0], beats[0] + len(beats))) and len(beats) >= 12
    assert downbeats[: len(beats)] == [int(place == 0) for place in places]
    assert bars[: len(beats)] == [(first_in_bar - 1 + b) // beats_per_bar for b in beats]  # +1 on each downbeat


def test_resolume_tempo_maps_20_to_500_bpm_onto_0_to_1():
    assert [resolume_tempo(b) for b in (20, 260, 500, 10, 900)] == [0.0, 0.5, 1.0, 0.0, 1.0]


def test_osc_latency_sends_beats_that_much_earlier(played):
    early = play_with_rig(lambda ports: RigOptions(osc=(OscTarget("127.0.0.1", ports[0]),), phase_hz=0,
                                                   latencies=Latencies(osc_ms=150.0)), seconds=10.0)
    on_time, ahead = np.median(beat_offsets(played)), np.median(beat_offsets(early))
    print(f"beats at 0 ms: {1000 * on_time:+.1f} ms, at 150 ms: {1000 * ahead:+.1f} ms from the tick")
    assert ahead - on_time == pytest.approx(-0.150, abs=0.010)  # predicting further ahead costs a few ms
    assert [args for args, _ in early.values(0, "/dancepose/latency/osc")] == [(150.0,)]
