"""Ableton Link with real peers: this process and a second one on the same machine, joined over the loopback
network (skipped when aalink is missing or the machine's multicast lets no peer be found)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from live.events import BeatTick
from rig.clock import AudioClock

pytest.importorskip("aalink", reason="the [link] extra (aalink, GPL-3) is not installed")
from rig.link import LinkBridge, bar_offset_beats  # noqa: E402

PEER = textwrap.dedent("""
    import asyncio, sys, time
    import aalink

    async def main(bpm, seconds):
        link = aalink.Link(bpm)
        link.quantum = 4
        link.enabled = True
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if sys.argv[3] == "lead":
                link.tempo = bpm
            print(f"{time.monotonic():.6f} {link.beat:.6f} {link.tempo:.4f} {link.num_peers}", flush=True)
            await asyncio.sleep(0.05)
        link.enabled = False

    asyncio.run(main(float(sys.argv[1]), float(sys.argv[2])))
""")


def peer(bpm: float, seconds: float, role: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PEER, str(bpm), str(seconds), role], stdout=subprocess.PIPE,
                            text=True)


def wait_for_peer(bridge: LinkBridge, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while bridge.peers < 1:
        if time.monotonic() > deadline:
            pytest.skip(f"no Link peer found in {timeout_s:.0f} s: this machine's multicast on loopback does not "
                        "carry Link's discovery")
        time.sleep(0.02)


def readings(process: subprocess.Popen) -> np.ndarray:
    out, _ = process.communicate(timeout=60)
    return np.array([[float(v) for v in line.split()] for line in out.splitlines() if line.strip()])


def test_lead_gives_peers_the_grids_tempo_and_phase():
    started = time.monotonic()
    clock = AudioClock(lambda: time.monotonic() - started, 1.0)  # an audio clock that is the wall clock
    bridge = LinkBridge("lead", clock=clock)
    for n in range(4):  # a 98 BPM grid with beat 0 at audio time 0
        bridge.observe(BeatTick(n * 60 / 98, 0.0, 98.0))
    bridge.start()
    other = peer(120.0, 6.0, "report")
    try:
        wait_for_peer(bridge)
        rows = readings(other)
    finally:
        bridge.stop()
        other.kill()
    settled = rows[(rows[:, 3] >= 1) & (rows[:, 0] > rows[0, 0] + 2.0)]  # two seconds after joining
    assert len(settled) > 10, "the peer reported too little after it joined"
    assert np.median(settled[:, 2]) == pytest.approx(98.0, abs=0.01)
    grid_beat = (settled[:, 0] - started) * 98 / 60
    offset = (settled[:, 1] - grid_beat + 2) % 4 - 2  # the same bar phase: Link's quantum is 4 beats
    print(f"peer beat - grid beat: median {np.median(offset):+.4f} beats, max |.| {np.abs(offset).max():.4f}")
    assert np.abs(offset).max() < 0.03  # 18 ms at 98 BPM


def test_follow_taps_on_the_sessions_beats():
    taps: list[float] = []
    bridge = LinkBridge("follow", tap=lambda: taps.append(time.monotonic()))
    leader = peer(130.0, 8.0, "lead")
    bridge.start()
    try:
        wait_for_peer(bridge)
        deadline = time.monotonic() + 15
        while len(taps) < 10:
            assert time.monotonic() < deadline, "no beats followed"
            time.sleep(0.02)
    finally:
        bridge.stop()
        leader.kill()
    spacing = np.diff(taps[-6:])
    assert np.median(spacing) == pytest.approx(60 / 130, rel=0.02)


def test_lead_puts_the_sessions_place_in_the_bar_on_the_grids_in_its_metre():
    assert bar_offset_beats(10.25, 0.25, 3) == pytest.approx(1.0)  # the session a beat ahead in a 3-beat bar
    assert bar_offset_beats(9.0, 2.9, 3) == pytest.approx(0.1)  # across the bar line: just ahead, not 2.9 behind
    assert bar_offset_beats(7.0, 2.0, 5) == pytest.approx(0.0)
    assert bar_offset_beats(13.5, 2.0, 4) == pytest.approx(-0.5)  # without a bar model the quantum stays 4
