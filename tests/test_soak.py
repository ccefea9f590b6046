"""A 3-minute soak of the live show with every fault of ``bench/bench_soak.py`` (issue 10); the hour-long run is the
benchmark. Asserts robust properties only: nothing crashes, poses come back after every fault (generous deadline),
and file descriptors and threads do not grow."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from conftest import REPO

SOAK_MINUTES = 3.0
RESUME_DEADLINE_S = 45.0
"""Poses must be back this long after a fault is cleared (the daemon restart needs the device reopened and the
tracker to lock again; 2 busy cores)."""
GROWTH_ALLOWED = 8
"""File descriptors or threads the run may end with beyond its first sample after start-up."""


@pytest.mark.slow
def test_three_minutes_with_every_fault_and_no_crash(tmp_path: Path) -> None:
    missing = [tool for tool in ("pulseaudio", "pactl", "paplay", "pacat") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (Debian: pulseaudio pulseaudio-utils libasound2-plugins)")
    sys.path.insert(0, str(REPO / "bench"))
    from bench_soak import print_report, run_soak

    report = run_soak(SOAK_MINUTES, tmp_path, (160, 120), 10.0, progress=lambda line: None)
    print_report(report)
    assert report["crashes"] == []
    assert report["poses"] > 0
    for fault in report["faults"]:
        assert fault["resumed_after_s"] is not None, f"poses never came back after {fault['name']}"
        assert fault["resumed_after_s"] < RESUME_DEADLINE_S, f"poses took {fault['resumed_after_s']:.0f} s to come " \
                                                              f"back after {fault['name']}"
    samples = report["samples"][1:]  # the first is taken before the threads and streams are up
    assert samples[-1]["fds"] <= samples[0]["fds"] + GROWTH_ALLOWED, [s["fds"] for s in samples]
    assert samples[-1]["threads"] <= samples[0]["threads"] + GROWTH_ALLOWED, [s["threads"] for s in samples]
    assert report["events_written"] > 0 and report["events_error"] is not None  # the disk filled; the show went on
