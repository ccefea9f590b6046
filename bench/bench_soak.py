"""Soak: the live show for ``--minutes`` (default 60) on a real PulseAudio null sink, with faults injected.

What runs: a private PulseAudio daemon (``tests/pulse_audio.py``) whose null sink plays a looping playlist (the demo
song and a click track) and whose monitor is the live input; the live engine (reactive encoder, bundled bank and
body); the window's render loop and the recorder, headless (``ui.session.LiveSession``, as ``ui/headless_run.py``
drives it); the events written through ``live.event_log.EventLog``.

Faults, at fixed fractions of the run (durations scale with ``--minutes``):

- ``daemon-restart``: the PulseAudio daemon is killed (SIGKILL) and started again 2 s later;
- ``source-switch``: the default source is switched to another null sink's monitor, then back;
- ``silence``: the playlist stops (a minute in an hour-long run, at least 10 s);
- ``nan-burst``: one second of NaN samples in the input callback;
- ``clipping``: the input 30 dB too hot and hard-clipped at +-1;
- ``encoder-raising``: the pose encoder raises on every window;
- ``events-disk-full``: the events file's disk (a small tmpfs; without root, a write that raises ENOSPC) fills up.

Reported: audio overflows (ring and device), dropped samples, positions dropped, events lost (observer queue and
events file), resident memory, open file descriptors and threads at every sample (every minute; more often in short
runs), whether memory is flat (growth over the last half under 2%), the time for poses to resume after each fault,
and crashes (uncaught thread exceptions, the engine ending early, encoder errors outside the encoder fault). A fault's
resume time runs from its end to the first pose whose whole window was heard after it (fresh audio, not poses that
the grid kept serving from older audio).
Prints a table and writes ``bench/results/soak.json``.

Run (as root for the tmpfs; needs pulseaudio, pulseaudio-utils, libasound2-plugins):
``nice -n 10 .venv/bin/python bench/bench_soak.py [--minutes 60]``.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

from ui.stage import RenderConfig  # noqa: E402  (first among the ui imports: it picks the OpenGL platform)

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import soundfile  # noqa: E402

from common.paths import DEFAULT_BANK, DEMO_SONG  # noqa: E402
from conftest import click_track  # noqa: E402
from live.audio_input import AudioInput, InputCallback, InputConfig  # noqa: E402
from live.engine import EngineConfig, LiveEngine  # noqa: E402
from live.event_log import EventLog  # noqa: E402
from live.events import PoseEvent, StatusEvent  # noqa: E402
from pulse_audio import SINK, PulseServer, portaudio_environment  # noqa: E402
from ui.session import LiveSession  # noqa: E402

POLL_S = 0.05
"""How often (seconds) the soak drains the session, as the headless run does."""
OTHER_SINK = "w"
"""The second null sink whose monitor the default source is switched to."""
CLIP_GAIN = 30.0
"""Gain of the clipping fault (about 30 dB), before the hard clip at +-1."""


class FaultyCallback(InputCallback):
    """The device callback with switchable faults: ``mode`` None (clean), "nan" or "clip"."""

    mode: str | None = None

    def __call__(self, indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        if self.mode == "nan":
            indata = np.full_like(indata, np.nan)
        elif self.mode == "clip":
            indata = np.clip(indata * CLIP_GAIN, -1.0, 1.0)
        super().__call__(indata, frames, time_info, status)


class FaultyRetriever:
    """The pose encoder, raising on every window while ``failing`` is set."""

    def __init__(self, retriever) -> None:
        self._retriever = retriever
        self.encoder_name = retriever.encoder_name
        self.failing = False

    def rank(self, windows, bar_phase, k):
        if self.failing:
            raise RuntimeError("injected encoder fault")
        return self._retriever.rank(windows, bar_phase, k)

    def reset(self) -> None:
        self._retriever.reset()


class Playlist:
    """A thread playing the songs into the null sink in a loop with ``paplay``; paused while ``silent`` is set,
    retried while the daemon is down."""

    def __init__(self, server: PulseServer, songs: list[Path]) -> None:
        self.server, self.songs = server, songs
        self.silent = threading.Event()
        self._stop = threading.Event()
        self._player: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="soak-playlist", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.interrupt()
        self._thread.join(10)

    def interrupt(self) -> None:
        """End the song playing now (the loop goes on with the next one, unless silent)."""
        player = self._player
        if player is not None and player.poll() is None:
            player.terminate()

    def _run(self) -> None:
        index = 0
        while not self._stop.is_set():
            if self.silent.is_set() or not self.server.pid_file.exists():
                self._stop.wait(0.2)
                continue
            self._player = self.server.play(self.songs[index % len(self.songs)], latency_ms=100)
            while self._player.poll() is None and not self._stop.is_set():
                self._stop.wait(0.1)
            index += 1


@dataclass
class Fault:
    """One injected fault: ``start`` and ``clear`` run at ``at_s`` and ``at_s + duration_s`` (seconds into the run)."""

    name: str
    at_s: float
    duration_s: float
    start: Callable[[], None] = field(repr=False)
    clear: Callable[[], None] = field(repr=False)
    started_wall: float | None = None
    cleared_wall: float | None = None
    cleared_clock_s: float | None = None
    resumed_after_s: float | None = None
    poses_during: int = 0

    def record(self) -> dict:
        """The fault's schedule and outcome (wall times relative to nothing: left out)."""
        return {"name": self.name, "at_s": self.at_s, "duration_s": self.duration_s,
                "resumed_after_s": self.resumed_after_s, "poses_during": self.poses_during}


@dataclass
class Sample:
    """One periodic measurement."""

    t_s: float
    rss_mb: float
    fds: int
    threads: int
    poses: int
    ring_overflows: int
    device_overflows: int


class EventsDisk:
    """The events file's disk: a small tmpfs (root), filled on demand; else a write wrapper that raises ENOSPC."""

    def __init__(self, root: Path) -> None:
        self.folder = root / "events-disk"
        self.folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(self.folder)],
                              capture_output=True)
        self.mounted = done.returncode == 0
        self.log = EventLog(self.folder / "events.jsonl")

    def fill(self) -> None:
        if self.mounted:
            with open(self.folder / "filler", "wb") as filler:
                try:
                    while True:
                        filler.write(b"\0" * 65536)
                        filler.flush()
                except OSError:
                    pass
        else:
            self.log._file = _RaisingFile(self.log._file)

    def close(self) -> None:
        self.log.close()
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.folder)], check=False)


class _RaisingFile:
    """A raw file whose writes fail as on a full disk."""

    def __init__(self, real) -> None:
        self.real = real

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fileno(self) -> int:
        return self.real.fileno()

    def close(self) -> None:
        self.real.close()


def build_faults(total_s: float, server: PulseServer, playlist: Playlist, callback: FaultyCallback,
                 retriever: FaultyRetriever, disk: EventsDisk) -> list[Fault]:
    """The fault schedule for a run of ``total_s`` seconds."""
    scale = total_s / 3600.0

    def kill() -> None:
        server.kill()

    def restart() -> None:
        """Start the daemon again. A capture stream that reconnected while the daemon was still being configured
        sits on its first default source (the null sink's monitor is made default a moment later): move it over,
        as a real sound server's restored configuration would."""
        server.start()
        for line in server.pactl("list", "short", "source-outputs").splitlines():
            server.pactl("move-source-output", line.split()[0], f"{SINK}.monitor")

    def switch() -> None:
        server.pactl("load-module", "module-null-sink", f"sink_name={OTHER_SINK}")
        server.pactl("set-default-source", f"{OTHER_SINK}.monitor")

    def switch_back() -> None:
        server.pactl("set-default-source", f"{SINK}.monitor")

    def silence() -> None:
        playlist.silent.set()
        playlist.interrupt()

    def mode(value: str | None) -> Callable[[], None]:
        return lambda: setattr(callback, "mode", value)

    def failing(value: bool) -> Callable[[], None]:
        return lambda: setattr(retriever, "failing", value)

    return [
        Fault("daemon-restart", 0.15 * total_s, 2.0, kill, restart),
        Fault("source-switch", 0.25 * total_s, max(10.0, 60 * scale), switch, switch_back),
        Fault("silence", 0.35 * total_s, max(10.0, 60 * scale), silence, playlist.silent.clear),
        Fault("nan-burst", 0.50 * total_s, 1.0, mode("nan"), mode(None)),
        Fault("clipping", 0.60 * total_s, max(10.0, 60 * scale), mode("clip"), mode(None)),
        Fault("encoder-raising", 0.70 * total_s, max(5.0, 30 * scale), failing(True), failing(False)),
        Fault("events-disk-full", 0.80 * total_s, 0.0, disk.fill, lambda: None),
    ]


def open_setup():
    """Bank, body and the reactive encoder, as ``live`` opens them."""
    from model.cli_options import open_ranking_setup

    args = argparse.Namespace(bank=DEFAULT_BANK, body=None, encoder="reactive", checkpoint=None, device=None)
    return open_ranking_setup(args, 5)


def playlist_songs(folder: Path) -> list[Path]:
    audio, _ = click_track(126, 30.0, 44_100)
    clicks = folder / "clicks_126.wav"
    soundfile.write(clicks, audio, 44_100)
    return [DEMO_SONG, clicks]


def run_soak(minutes: float, work: Path, render_size: tuple[int, int], fps: float,
             progress: Callable[[str], None] = print) -> dict:
    """Run the soak for ``minutes`` in ``work``; the report as a dict (see the module docstring)."""
    total_s = 60.0 * minutes
    logging.getLogger("live.worker").setLevel(logging.CRITICAL)  # one traceback per failed window: counted instead
    crashes: list[str] = []
    threading.excepthook = lambda hook: crashes.append(f"{hook.thread.name if hook.thread else '?'}: "
                                                       f"{hook.exc_type.__name__}: {hook.exc_value}")
    server = PulseServer(work)
    server.start()
    process = psutil.Process()
    with portaudio_environment(server.env):
        setup = open_setup()
        source = AudioInput(InputConfig(device="pulse", silence_timeout_s=1.0, retry_interval_s=0.5))
        callback = FaultyCallback(source.ring, source.blocksize)
        source._callback = callback
        retriever = FaultyRetriever(setup.retriever)
        engine = LiveEngine(source, retriever, EngineConfig())
        session = LiveSession(engine, setup.bank, setup.body, RenderConfig(size=render_size, fps=fps))
        disk = EventsDisk(work)
        playlist = Playlist(server, playlist_songs(work))
        faults = build_faults(total_s, server, playlist, callback, retriever, disk)
        samples: list[Sample] = []
        pose_walls: list[float] = []
        pose_windows: list[float] = []  # each pose's window start on the audio clock (seconds)
        statuses: list[tuple[float, str]] = []
        dropped_positions = 0
        sample_every_s = min(60.0, total_s / 12)
        playlist.start()
        session.start(None, record=work / "soak.mp4")
        started = time.monotonic()
        next_sample = started
        try:
            while (now := time.monotonic()) - started < total_s:
                if engine.wait(0):
                    crashes.append(f"the engine ended by itself after {now - started:.1f} s")
                    break
                for event in session.poll().events:
                    disk.log.write(event)
                    if isinstance(event, PoseEvent):
                        pose_walls.append(now)
                        pose_windows.append(event.window_start_s)
                        dropped_positions += event.dropped_before
                    elif isinstance(event, StatusEvent):
                        statuses.append((now - started, event.kind))
                _advance_faults(faults, now - started, now, engine.reader.clock_s, progress)
                if now >= next_sample:
                    samples.append(Sample(now - started, process.memory_info().rss / 2**20, process.num_fds(),
                                          process.num_threads(), len(pose_walls), source.ring.overflows,
                                          source.input_overflows))
                    progress(f"[{samples[-1].t_s:7.1f} s] rss {samples[-1].rss_mb:.0f} MB, fds {samples[-1].fds}, "
                             f"threads {samples[-1].threads}, poses {len(pose_walls)}")
                    next_sample += sample_every_s
                time.sleep(POLL_S)
        finally:
            playlist.stop()
            info = session.stop()
            for event in session.poll().events:
                disk.log.write(event)
            disk.close()
            if server.pid_file.exists():
                server.kill(signal.SIGTERM)
    for fault in faults:
        if fault.cleared_wall is not None:
            fresh = [w for w, start in zip(pose_walls, pose_windows) if start >= fault.cleared_clock_s]
            fault.resumed_after_s = None if not fresh else fresh[0] - fault.cleared_wall
            fault.poses_during = sum(fault.started_wall <= w < fault.cleared_wall for w in pose_walls)
    encoder_window = next(f for f in faults if f.name == "encoder-raising")
    stray_errors = [t for t, kind in statuses if kind == "encoder-error"
                    and not encoder_window.at_s <= t <= encoder_window.at_s + encoder_window.duration_s + 5.0]
    if stray_errors:
        crashes.append(f"{len(stray_errors)} encoder errors outside the encoder fault "
                       f"(first at {stray_errors[0]:.1f} s)")
    half = [s.rss_mb for s in samples if s.t_s >= total_s / 2]
    growth = (half[-1] - half[0]) / half[0] if len(half) >= 2 else 0.0
    return {
        "minutes": minutes, "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "render_size": list(render_size), "fps": fps, "events_disk": "tmpfs" if disk.mounted else "ENOSPC wrapper",
        "poses": len(pose_walls), "positions_dropped": dropped_positions,
        "ring_overflows": source.ring.overflows, "samples_dropped": source.ring.dropped_samples,
        "device_overflows": source.input_overflows, "replaced_samples": engine.reader.replaced_samples,
        "events_dropped_by_observer": engine.events_dropped, "events_written": disk.log.written,
        "events_lost": disk.log.lost, "events_error": disk.log.error,
        "rss_last_half_growth": growth, "rss_flat": growth < 0.02,
        "recording_frames": None if info is None else info.frames,
        "faults": [f.record() for f in faults],
        "samples": [asdict(s) for s in samples], "crashes": crashes,
    }


def _advance_faults(faults: list[Fault], elapsed_s: float, now: float, clock_s: float,
                    progress: Callable[[str], None]) -> None:
    """Start and clear the faults that are due; ``clock_s`` is the engine's audio clock now (seconds)."""
    for fault in faults:
        if fault.started_wall is None and elapsed_s >= fault.at_s:
            fault.started_wall = now
            progress(f"[{elapsed_s:7.1f} s] fault {fault.name} for {fault.duration_s:.0f} s")
            fault.start()
        elif (fault.cleared_wall is None and fault.started_wall is not None
              and elapsed_s >= fault.at_s + fault.duration_s):
            fault.clear()
            fault.cleared_wall, fault.cleared_clock_s = time.monotonic(), clock_s


def print_report(report: dict) -> None:
    print(f"\nsoak {report['minutes']:g} min ({report['utc']}), render {report['render_size']} at "
          f"{report['fps']:g} fps")
    print(f"{'fault':<18} {'at s':>7} {'for s':>6} {'poses during':>12} {'resumed after s':>16}")
    for fault in report["faults"]:
        resumed = "-" if fault["resumed_after_s"] is None else f"{fault['resumed_after_s']:.1f}"
        print(f"{fault['name']:<18} {fault['at_s']:>7.0f} {fault['duration_s']:>6.0f} {fault['poses_during']:>12} "
              f"{resumed:>16}")
    samples = report["samples"]
    print(f"\n{'t s':>7} {'RSS MB':>7} {'fds':>5} {'threads':>7} {'poses':>6}")
    for s in samples:
        print(f"{s['t_s']:>7.0f} {s['rss_mb']:>7.0f} {s['fds']:>5} {s['threads']:>7} {s['poses']:>6}")
    print(f"\nposes {report['poses']}, positions dropped {report['positions_dropped']}, ring overflows "
          f"{report['ring_overflows']} ({report['samples_dropped']} samples), device overflows "
          f"{report['device_overflows']}, non-finite samples replaced {report['replaced_samples']}")
    print(f"events: {report['events_written']} written, {report['events_lost']} lost to the full disk "
          f"({report['events_disk']}: {report['events_error']}), {report['events_dropped_by_observer']} dropped by "
          f"the observer")
    print(f"RSS growth over the last half {100 * report['rss_last_half_growth']:+.2f}% "
          f"({'flat' if report['rss_flat'] else 'NOT flat'}); crashes: {report['crashes'] or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the run (default 60)")
    parser.add_argument("--render-size", type=int, nargs=2, default=(320, 240), metavar=("W", "H"),
                        help="render size in pixels (default 320 240)")
    parser.add_argument("--fps", type=float, default=15.0, help="render and recording frame rate (default 15)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as work:
        report = run_soak(args.minutes, Path(work), tuple(args.render_size), args.fps)
    print_report(report)
    out = REPO / "bench" / "results" / "soak.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")
    return 1 if report["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
