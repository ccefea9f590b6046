"""MIDI clock out and in: the real clock thread on a live audio clock (tick spacing measured at 120 BPM), the
incoming-clock follower, and a round trip through virtual ports where ALSA's sequencer exists."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from live.events import BeatTick, StatusEvent
from rig.clock import AudioClock

mido = pytest.importorskip("mido", reason="the [rig] extra (mido, python-rtmidi) is not installed")
from rig.midi_clock import PPQN, MidiClockFollower, MidiClockOut, follow_midi_clock, open_midi_output  # noqa: E402


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


class RecordingPort:
    """An output port that keeps every message with its wall-clock send time."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, object]] = []
        self.closed = False
        self._lock = threading.Lock()

    def send(self, message: object) -> None:
        with self._lock:
            self.sent.append((time.monotonic(), message))

    def close(self) -> None:
        self.closed = True

    def of(self, kind: str) -> list[tuple[float, object]]:
        with self._lock:
            return [(t, m) for t, m in self.sent if m.type == kind]


def real_time_audio_clock() -> tuple[Callable[[], float], float]:
    """An engine clock that advances in 10 ms blocks in real time (as a sound card delivers), and its start."""
    started = time.monotonic()
    return (lambda: np.floor((time.monotonic() - started) / 0.01) * 0.01 + 1e-6), started


def test_clock_out_ticks_24_times_a_beat_at_120_bpm_with_start_and_stop():
    read, _ = real_time_audio_clock()
    port = RecordingPort()
    clock_out = MidiClockOut(port, AudioClock(read, 1.0))
    clock_out.start()
    try:
        wait_for(lambda: read() > 0.05, "the audio clock to start")
        now = read()
        for n in range(4):  # four beats at 120 BPM just heard: the grid runs on from the last
            clock_out.observe(BeatTick(now - 1.5 + 0.5 * n, now, 120.0))
        wait_for(lambda: len(port.of("clock")) >= 4 * PPQN + 1, "four beats of clock")
        clock_out.observe(StatusEvent(read(), "silence", "no beats"))
        wait_for(lambda: bool(port.of("stop")), "stop on silence")
    finally:
        clock_out.stop()
    kinds = [m.type for _, m in port.sent]
    assert kinds[:3] == ["songpos", "continue", "clock"] and port.sent[0][1].pos == 12  # beat 3 = 16th 12
    ticks = np.array([t for t, _ in port.of("clock")])
    spacing = np.diff(ticks)
    print(f"tick spacing at 120 BPM: median {1000 * np.median(spacing):.2f} ms (ideal 20.83), "
          f"90th pct |error| {1000 * np.percentile(np.abs(spacing - 0.5 / 24), 90):.2f} ms")
    assert (ticks[-1] - ticks[0]) / (len(ticks) - 1) == pytest.approx(0.5 / PPQN, rel=0.01)  # no drift, none lost
    assert np.median(spacing) == pytest.approx(0.5 / PPQN, abs=0.001)
    assert np.percentile(np.abs(spacing - 0.5 / PPQN), 75) < 0.004  # (an idle machine: 90 % within 0.05 ms)
    assert kinds.count("stop") == 1 and port.closed


def test_clock_out_sends_earlier_by_the_midi_latency():
    early = {}
    for latency_ms in (0.0, 100.0):
        read, started = real_time_audio_clock()
        port = RecordingPort()
        clock_out = MidiClockOut(port, AudioClock(read, 1.0), latency_ms=latency_ms)
        clock_out.start()
        try:
            clock_out.observe(BeatTick(0.4, 0.0, 120.0))  # beat 0 at 0.4 s, announced ahead
            wait_for(lambda: len(port.of("clock")) >= PPQN, "a beat of ticks")
        finally:
            clock_out.stop()
        sent = np.array([t for t, _ in port.of("clock")[:PPQN]]) - started
        early[latency_ms] = np.median(0.4 + np.arange(PPQN) * 0.5 / PPQN - sent)  # tick k is heard at 0.4 + k/48 s
    assert early[0.0] == pytest.approx(0.0, abs=0.005)
    assert early[100.0] == pytest.approx(0.100, abs=0.005)


def test_follower_reads_tempo_position_and_beats_of_an_incoming_clock():
    beats = []
    follower = MidiClockFollower(on_beat=lambda: beats.append(follower.position_ticks))
    spacing = 60.0 / 125.0 / PPQN
    follower.feed("songpos", 0.0, pos=8)  # bar 1, beat 0 (16th 8)
    follower.feed("continue", 0.0)
    for tick in range(3 * PPQN):
        follower.feed("clock", 1.0 + tick * spacing + (0.0005 if tick % 2 else -0.0005))  # 0.5 ms jitter
    assert follower.tempo_bpm == pytest.approx(125.0, rel=0.01)
    assert beats == [48, 72, 96] and follower.position_ticks == 48 + 3 * PPQN
    follower.feed("stop", 2.0)
    follower.feed("clock", 2.1)
    assert not follower.running and len(beats) == 3


def alsa_sequencer() -> None:
    """Skip unless ALSA's sequencer can make virtual ports here."""
    if not Path("/dev/snd/seq").exists():
        pytest.skip("no ALSA sequencer (/dev/snd/seq is missing: no snd-seq kernel module in this machine)")
    try:
        mido.get_output_names()
    except Exception as err:  # rtmidi raises SystemError when the sequencer cannot be opened
        pytest.skip(f"ALSA sequencer unusable: {err}")


def test_clock_through_virtual_ports_is_followed_at_its_tempo():
    alsa_sequencer()
    read, _ = real_time_audio_clock()
    clock_out = MidiClockOut(open_midi_output("virtual:dancepose-test-clock"), AudioClock(read, 1.0))
    name = next(n for n in mido.get_input_names() if "dancepose-test-clock" in n)
    follower = MidiClockFollower()
    port_in = follow_midi_clock(name, follower)
    clock_out.start()
    try:
        now = read()
        clock_out.observe(BeatTick(now, now, 120.0))
        wait_for(lambda: follower.tempo_bpm is not None and follower.running, "the clock to be followed")
        wait_for(lambda: follower.position_ticks >= 2 * PPQN, "two beats of ticks")
        assert follower.tempo_bpm == pytest.approx(120.0, rel=0.03)
    finally:
        clock_out.stop()
        port_in.close()
