"""Start-up wall times: how long each command takes before it does its work.

    .venv/bin/python bench/bench_startup.py [--repeats N] [--song FILE] [--no-window]

Each case runs in a fresh process (what a user waits for); the clock starts just before the process is spawned:
- ``--help``: until the process exits.
- ``devices``: until the process exits (the device table printed, or "no audio input").
- ``beats SONG``: until the command starts reading the audio file (the process is ended there).
- ``show``: the window (on Xvfb when it is installed, else Qt's offscreen platform) with SONG played as live:
  the first paint of the window, the first paint with the "loading" line, the first paint of the body (the body at
  rest, rendered while the bank and the encoder load), and the first paint of a frame from the running engine.

Prints a table (median and min of the repeats, seconds; and the CPU seconds of the command cases, user + system,
which a busy machine does not inflate) and writes bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "startup.json"
DEFAULT_SONG = REPO / "assets" / "demo" / "demo_song.flac"
XVFB_DISPLAY = ":93"
SHOW_DEADLINE_S = 120.0
"""Longest a window run may take before the bench gives up on it."""

BEATS_CHILD = """
import os, sys, time
sys.argv = ["main.py", "beats", sys.argv[1]]
import live.audio_file as audio_file
def first_read(*args, **kwargs):
    print("READ", time.time(), flush=True)
    os._exit(0)
audio_file.load_song = first_read
import main
main.main(sys.argv[1:])
"""
"""Runs ``main.py beats SONG`` and ends the process at its first audio read, printing the wall time then. Importing
``live.audio_file`` first costs nothing extra: the command imports it before reading anyway."""

SHOW_CHILD = """
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
from ui.app import build_window
from ui.cli import show_defaults

marks = {}
def mark(name):
    marks.setdefault(name, time.time())

class Paints(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            mark("window painted")
            if watched is window.body_view:
                if window.loading:
                    mark("loading painted")
                if "body picture" in marks:
                    mark("body painted")
                if "engine frame" in marks:
                    mark("engine frame painted")
                    QTimer.singleShot(0, app.quit)
        return False

app = QApplication(sys.argv[:1])
args = show_defaults()
args.input = sys.argv[1]
window = build_window(args)
show_rgb = window.body_view.show_rgb
def recorded_show_rgb(*a, **k):
    mark("body picture")
    show_rgb(*a, **k)
window.body_view.show_rgb = recorded_show_rgb
window.shown.connect(lambda frame: mark("engine frame"))
window.failed.connect(lambda message: (print("FAILED", message, flush=True), app.exit(2)))
paints = Paints()
for widget in (window, window.body_view):
    widget.installEventFilter(paints)
window.resize(1280, 800)
window.show()
window.start()
QTimer.singleShot(int(float(sys.argv[2]) * 1000), app.quit)
code = app.exec()
window.close()
for name, at in marks.items():
    print("MARK", name, at, flush=True)
sys.exit(code)
"""
"""Builds and starts the window as :func:`ui.app.run_window` does, and prints the wall time of each first paint."""

SHOW_MARKS = ("window painted", "loading painted", "body painted", "engine frame painted")


def children_cpu_s() -> float:
    """User + system CPU seconds of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str] | None = None,
          timeout_s: float = SHOW_DEADLINE_S) -> tuple[float, float, str]:
    """(seconds from spawn to exit, CPU seconds, stdout) of ``argv`` run in the repository."""
    started, cpu = time.time(), children_cpu_s()
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"{argv[1:]} exited {result.returncode}: {result.stderr[-2000:]}")
    return time.time() - started, children_cpu_s() - cpu, result.stdout


def marks_of(stdout: str, started: float) -> dict[str, float]:
    """The ``MARK name time`` / ``READ time`` lines of a child's output as seconds after ``started``."""
    found = {}
    for line in stdout.splitlines():
        words = line.split()
        if words[:1] == ["READ"]:
            found["first audio read"] = float(words[1]) - started
        elif words[:1] == ["MARK"]:
            found[" ".join(words[1:-1])] = float(words[-1]) - started
    return found


def command_times(song: Path) -> tuple[dict[str, float], dict[str, float]]:
    """One run of each command case: (seconds from spawn, CPU seconds) by case."""
    python = sys.executable
    times, cpus = {}, {}
    for name, argv in (("--help", ["main.py", "--help"]), ("devices", ["main.py", "devices"])):
        times[name], cpus[name], _ = timed([python, *argv])
    started = time.time()
    _, cpu, out = timed([python, "-c", BEATS_CHILD, str(song)])
    name = "beats SONG (to first audio read)"
    times[name], cpus[name] = marks_of(out, started)["first audio read"], cpu
    return times, cpus


def show_env() -> tuple[dict[str, str], subprocess.Popen | None]:
    """The environment for the window runs, and the Xvfb server started for them (None: Qt offscreen)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["XDG_CONFIG_HOME"] = str(REPO / "out" / "bench_startup_config")  # the window's settings: not the user's
    if shutil.which("Xvfb") is None:
        return env | {"QT_QPA_PLATFORM": "offscreen"}, None
    server = subprocess.Popen(["Xvfb", XVFB_DISPLAY, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30.0
    while not Path(f"/tmp/.X11-unix/X{XVFB_DISPLAY[1:]}").exists():
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.05)
    return env | {"DISPLAY": XVFB_DISPLAY, "QT_QPA_PLATFORM": "xcb"}, server


def show_times(song: Path, env: dict[str, str]) -> dict[str, float]:
    """One window run: seconds from spawn to each first paint."""
    started = time.time()
    _, _, out = timed([sys.executable, "-c", SHOW_CHILD, str(song), str(SHOW_DEADLINE_S - 10)], env=env)
    found = marks_of(out, started)
    missing = [name for name in SHOW_MARKS if name not in found]
    if missing:
        raise RuntimeError(f"the window run never reached: {', '.join(missing)}\n{out[-2000:]}")
    return {f"show: {name}": found[name] for name in SHOW_MARKS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each case (default 5)")
    parser.add_argument("--song", type=Path, default=DEFAULT_SONG, help="song for beats and show (default: demo)")
    parser.add_argument("--no-window", action="store_true", help="skip the show cases")
    args = parser.parse_args()
    measured = [command_times(args.song) for _ in range(args.repeats)]
    runs: list[dict[str, float]] = [times for times, _ in measured]
    cpu = {name: statistics.median(cpus[name] for _, cpus in measured) for name in measured[0][1]}
    if not args.no_window:
        env, server = show_env()
        try:
            for run in runs:
                run.update(show_times(args.song, env))
        finally:
            if server is not None:
                server.terminate()
                server.wait()
    cases = {name: [run[name] for run in runs] for name in runs[0]}
    width = max(map(len, cases))
    print(f"{'case':<{width}}  {'median s':>8}  {'min s':>6}  {'cpu s':>6}  (n={args.repeats}, "
          f"load {os.getloadavg()[0]:.2f})")
    for name, values in cases.items():
        cpu_text = f"{cpu[name]:6.2f}" if name in cpu else f"{'':6}"
        print(f"{name:<{width}}  {statistics.median(values):8.2f}  {min(values):6.2f}  {cpu_text}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": platform.platform(),
        "cpus": os.cpu_count(), "load_1min": os.getloadavg()[0], "song": str(args.song),
        "cases": {name: {"median_s": statistics.median(v), "min_s": min(v), "runs_s": v, "cpu_s": cpu.get(name)}
                  for name, v in cases.items()},
    }, indent=1) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
