"""Body-view rendering speed: frames per second and frame-time percentiles of ``PoseRenderer`` (moderngl, GPU
skinning) at 640x480, 1280x720 and 1920x1080, with 4x MSAA and without (what the live view uses on a CPU
rasterizer), idle and while the live engine plays the demo song in real time with the reactive encoder; then the
share of distinct frames in a recording of the performance view (engine + render loop + recorder, as ``make run``).

Per-frame time covers the whole ``render()`` call: kinematic chain, grounding, uniform upload, drawing, MSAA resolve
and read-back to a numpy array. Poses follow the ``ease`` motion's cue schedule (:mod:`motion.ease`) with a new bank
pose every beat, as in the live view.

Usage: python bench/bench_render.py [--frames N] [--record-seconds S] [--backend auto|egl|osmesa] [--idle-only]
[--device cpu] [--sizes 1920x1080 ...] [--json PATH]. Prints a Markdown table and writes bench/results/render.json
(or --json). ``--idle-only``: no engine rows and no recording (a GPU check); ``--device cpu``: a quick smoke run (a
few frames, idle only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from common.paths import DEFAULT_BANK, DEMO_SONG  # noqa: E402
from motion.ease import Cue, CueSchedule  # noqa: E402
from motion.frame import bank_rotvecs  # noqa: E402
from pose_db.bank import PoseBank  # noqa: E402
from pose_db.body import BodyModel, load_body  # noqa: E402
from pose_db.render import PoseRenderer  # noqa: E402
from ui.stage import STAGE_STYLE  # noqa: E402

SIZES = ((640, 480), (1280, 720), (1920, 1080))
BEAT_S = 0.5
FPS = 30.0


def measure(render: Callable[[np.ndarray], np.ndarray], bank: PoseBank, frames: int,
            between: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Render ``frames`` frames back to back (the first 3 are warm-up) of SMPL poses (72,); ``between`` runs after
    each frame."""
    poses, show = bank_rotvecs(bank.vectors), CueSchedule()
    times = []
    for n in range(frames + 3):
        t = n / FPS
        if n % round(BEAT_S * FPS) == 0:
            index = (7 * n) % len(bank)
            show.add(Cue(poses[index], t + BEAT_S, t, index))
        show.advance(t)
        pose = show.rotations_at(t).reshape(-1)
        started = time.perf_counter()
        render(pose)
        times.append(time.perf_counter() - started)
        between()
    ms = 1000 * np.array(times[3:])
    return {"fps": float(1000 / ms.mean()), "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)), "p99_ms": float(np.percentile(ms, 99)), "frames": frames}


@contextmanager
def engine_running(bank: PoseBank, body: BodyModel) -> Iterator[Callable[[], None]]:
    """The live engine playing the demo song in real time with the reactive encoder; yields a function that drains
    its events (call it between frames, as the UI does)."""
    from live.engine import EngineConfig, LiveEngine
    from live.file_source import FileSource
    from live.queues import drain
    from model.reactive import ReactiveRetriever

    engine = LiveEngine(FileSource(DEMO_SONG, speed=1.0), ReactiveRetriever(bank, body), EngineConfig())
    engine.start()
    try:
        yield lambda: drain(engine.events)
    finally:
        engine.stop()


def recording_distinct(seconds: float) -> dict[str, float]:
    """Run the no-display show (engine on the demo song, render loop, recorder) for ``seconds``: frames recorded
    and the share that differ from the one before."""
    from live.engine import EngineConfig, LiveEngine
    from live.file_source import FileSource
    from model.cli_options import open_ranking_setup
    from ui.session import LiveSession

    args = argparse.Namespace(encoder="reactive", checkpoint=None, bank=DEFAULT_BANK, body=None, device="cpu")
    setup = open_ranking_setup(args, EngineConfig().top_k)
    engine = LiveEngine(FileSource(DEMO_SONG, speed=1.0), setup.retriever, EngineConfig())
    with tempfile.TemporaryDirectory() as folder:
        session = LiveSession(engine, setup.bank, setup.body)
        session.start(seconds, record=Path(folder) / "performance.mp4")
        while not engine.wait(0.02):
            session.poll()
        info = session.stop()
    return {"seconds": seconds, "frames": info.frames, "distinct_share": info.distinct_share,
            "rendered_share": info.rendered_frames / max(info.frames, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=120, help="frames per row at 640x480 (fewer when larger)")
    parser.add_argument("--record-seconds", type=float, default=20.0, help="length of the recording run")
    parser.add_argument("--backend", default="auto", help="OpenGL context: auto, egl or osmesa")
    parser.add_argument("--sizes", nargs="*", default=None, help="picture sizes WxH (default: all three)")
    parser.add_argument("--idle-only", action="store_true", help="no engine rows and no recording")
    parser.add_argument("--device", default=None, help="cpu: a quick smoke run (a few frames, idle only)")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "render.json")
    args = parser.parse_args()
    smoke = args.device == "cpu"
    sizes = [tuple(map(int, s.split("x"))) for s in args.sizes] if args.sizes else SIZES
    body, bank = load_body(), PoseBank.open(DEFAULT_BANK)
    idle_only = smoke or args.idle_only
    conditions = ("idle",) if idle_only else ("idle", "engine running")
    rows = []
    for condition in conditions:
        with (engine_running(bank, body) if condition != "idle" else _no_engine()) as between:
            for width, height in sizes:
                frames = 5 if smoke else max(20, args.frames * 640 * 480 // (width * height))
                for samples in (4, 0):
                    with PoseRenderer(body, width, height, STAGE_STYLE, backend=args.backend,
                                      samples=samples) as renderer:
                        gl = renderer.gl_description
                        stats = measure(renderer.render_pose, bank, frames, between)
                    rows.append({"condition": condition, "size": f"{width}x{height}",
                                 "renderer": f"moderngl, {'MSAA 4x' if samples else 'no MSAA'}", "gl": gl, **stats})
    record = None if idle_only else recording_distinct(args.record_seconds)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "rows": rows, "recording": record}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print("| condition | size | renderer | fps | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['condition']} | {r['size']} | {r['renderer']} | {r['fps']:.1f} | {r['p50_ms']:.1f} | "
              f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} |")
    print(f"GL: {rows[0]['gl']}")
    if record is not None:
        print(f"recorder: {record['frames']} frames in {record['seconds']:.0f} s, "
              f"{100 * record['distinct_share']:.0f}% distinct, {100 * record['rendered_share']:.0f}% rendered for their "
              "own time (engine + render loop + recorder, demo song)")
    print(f"wrote {args.json}")
    return 0


@contextmanager
def _no_engine() -> Iterator[Callable[[], None]]:
    yield lambda: None


if __name__ == "__main__":
    sys.exit(main())
