"""Frame strips of the motion modes on the demo song: ``docs/images/motion_{ease,groove,graph}.png``.

The demo song is played through the real live engine (file source, faster than real time, the reactive encoder); its
events and the music's level are captured once, then played again by each mode (the same log, so every strip shows
the same retrieved poses; ``graph`` plays the default graph, ``make graph``) and 8 frames across two beats are
rendered side by side, the beat phase under each.

Run: ``.venv/bin/python tools/make_motion_strips.py [--start BEAT]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from common.paths import DEMO_SONG, REPO_ROOT  # noqa: E402
from live.events import BeatTick  # noqa: E402

FRAMES = 8
RENDER = (480, 480)
"""Rendered picture (width, height) in pixels; each tile is the middle of it."""
CROP = (slice(90, 470), slice(140, 340))
"""Rows and columns of a rendered picture kept in the strip (the body and its floor)."""


def capture_demo(seconds: float):
    """Play the demo song through the live engine; returns (the motion capture, the ranking setup)."""
    from argparse import Namespace

    from live.engine import EngineConfig, LiveEngine
    from live.file_source import FileSource
    from live.queues import drain
    from model.cli_options import open_ranking_setup
    from motion.capture import MotionCapture
    from motion.frame import bank_rotvecs
    from motion.ik import skeleton_of
    from motion.player import MotionPlayer
    from motion.source import MotionSetup

    parser = argparse.ArgumentParser()
    from model.cli_options import add_encoder_options

    add_encoder_options(parser)
    options: Namespace = parser.parse_args(["--encoder", "reactive"])
    setup = open_ranking_setup(options, 5)
    engine = LiveEngine(FileSource(DEMO_SONG, speed=4.0), setup.retriever, EngineConfig(resolution="4th"))
    motion_setup = MotionSetup(bank_rotvecs(setup.bank.vectors), skeleton_of(setup.body))
    capture = MotionCapture(MotionPlayer(motion_setup, "ease"), engine.tap_audio())
    engine.start(seconds)
    while not engine.wait(0.02):
        capture.observe(drain(engine.events), engine.reader.clock_s)
    capture.observe(drain(engine.events), engine.reader.clock_s)
    return capture, setup


def strip(frames, body, path: Path, title: str) -> None:
    """Render ``frames`` side by side (cropped to the body), their beat phase above each, a line at the highest head
    of the strip (the dips show under it), and write ``path``."""
    from motion.frame import renderer_root
    from pose_db.render import PoseRenderer

    tiles, tops = [], []
    with PoseRenderer(body, *RENDER) as renderer:
        for frame in frames:
            pose, root = frame.pose72(), renderer_root(frame)
            rgb = renderer.render_pose(pose, None, root_m=root)[CROP]
            tops.append(int(np.argmax(renderer.body_mask(pose, None, root_m=root)[CROP].any(axis=1))))
            tiles.append(rgb)
    picture = Image.fromarray(np.concatenate(tiles, axis=1))
    draw = ImageDraw.Draw(picture)
    draw.line([(0, min(tops)), (picture.width, min(tops))], fill=(200, 60, 60), width=1)
    width = tiles[0].shape[1]
    for i, frame in enumerate(frames):
        draw.text((i * width + 6, 4), f"beat phase {round(frame.beat_phase, 2) % 1:.2f}", fill=(20, 20, 20))
    draw.text((6, picture.height - 16), title, fill=(20, 20, 20))
    picture.save(path)
    print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start", type=int, default=16, help="the strip starts on this beat of the song")
    args = parser.parse_args()
    from motion.player import replay_frames

    capture, setup = capture_demo(seconds=30.0)
    log = capture.player.log
    beats = sorted(e.beat_s for _, e in log if isinstance(e, BeatTick))
    start, end = beats[args.start], beats[args.start + 2]
    for mode in ("ease", "groove", "graph"):
        frames = replay_frames(capture.player.setup, mode, log, FRAMES / (end - start), start, end)[:FRAMES]
        strip(frames, setup.body, REPO_ROOT / "docs" / "images" / f"motion_{mode}.png",
              f"{mode}: demo song, beats {args.start}-{args.start + 2}, {FRAMES} frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
