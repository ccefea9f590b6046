"""Body-view rendering speed with the interpolation running: frames per second and frame-time percentiles at
640x480 and 1920x1080, for stock pyrender (its shader cache keyed by the OpenGL context object, which under OSMesa
recompiles every shader every frame) and for ``pose_db.render.PoseRenderer`` (one shader cache per renderer).

Usage: python bench/bench_render.py [--frames N]. Writes bench/results/render.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ui.stage import stage_renderer  # noqa: E402  (first: picks the OpenGL platform)

from common.paths import DEFAULT_BANK, REPO_ROOT  # noqa: E402
from pose_db.animation import Choreography  # noqa: E402
from pose_db.bank import PoseBank  # noqa: E402
from pose_db.body import load_body  # noqa: E402
from pose_db.render import PoseRenderer  # noqa: E402

SIZES = ((640, 480), (1920, 1080))
BEAT_S = 0.5
FPS = 30.0


def stock_cache(renderer: PoseRenderer) -> PoseRenderer:
    """``renderer`` with pyrender's own shader cache put back, for comparison."""
    from pyrender.shader_program import ShaderProgramCache

    renderer._renderer._renderer._program_cache = ShaderProgramCache()  # noqa: SLF001
    return renderer


def measure(renderer: PoseRenderer, bank: PoseBank, frames: int) -> dict[str, float]:
    """Render ``frames`` frames of a choreography with a new pose every beat; per-frame time includes the
    interpolation, skinning, normals, upload, drawing and read-back."""
    show = Choreography()
    times = []
    for n in range(frames):
        t = n / FPS
        if n % round(BEAT_S * FPS) == 0:
            show.add(bank.vectors[(7 * n) % len(bank)], t + BEAT_S, t, tag=n)
        started = time.perf_counter()
        renderer.render(show.sample(t))
        times.append(time.perf_counter() - started)
    ms = 1000 * np.array(times[3:])
    return {"fps": float(1000 / ms.mean()), "p50_ms": float(np.percentile(ms, 50)),
            "p90_ms": float(np.percentile(ms, 90)), "p99_ms": float(np.percentile(ms, 99))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=90)
    args = parser.parse_args()
    torch.set_num_threads(1)
    body, bank = load_body(), PoseBank.open(DEFAULT_BANK)
    rows = []
    for width, height in SIZES:
        for variant, make in (("stock pyrender shader cache", lambda: stock_cache(stage_renderer(body, width, height))),
                              ("PoseRenderer (cache fixed)", lambda: stage_renderer(body, width, height))):
            with make() as renderer:
                stats = measure(renderer, bank, args.frames if width < 1000 else args.frames // 3)
            rows.append({"size": f"{width}x{height}", "variant": variant,
                         "platform": os.environ["PYOPENGL_PLATFORM"], **stats})
    out = REPO_ROOT / "bench" / "results" / "render.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print("| size | renderer | GL | fps | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['variant']} | {r['platform']} | {r['fps']:.1f} | {r['p50_ms']:.1f} | "
              f"{r['p90_ms']:.1f} | {r['p99_ms']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
