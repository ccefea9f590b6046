"""A contact sheet of a dance video: ``--frames`` evenly spaced frames of an MP4 (e.g. ``generate``'s ``dance.mp4``)
in a grid, each labelled with its time, written as a small palette PNG.

    .venv/bin/python tools/make_dance_contact_sheet.py out/dance_teacher_minute/gen/dance.mp4 \
        docs/images/dance_revolution_minute.png [--frames 12] [--columns 6] [--tile 200]

Frames are decoded with PyAV (the video encoder dancepose already uses).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def video_frames(path: Path) -> tuple[list[np.ndarray], float]:
    """Every frame of ``path`` as (H, W, 3) uint8 RGB, and its frame rate."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)], fps


def contact_sheet(frames: list[np.ndarray], fps: float, count: int, columns: int, tile: int) -> Image.Image:
    """``count`` frames evenly spaced over ``frames`` (first to last) in a grid of ``columns``, ``tile`` pixels wide,
    each labelled with its time (m:ss)."""
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    height = round(tile * frames[0].shape[0] / frames[0].shape[1])
    rows = -(-count // columns)
    sheet = Image.new("RGB", (columns * tile, rows * height), "white")
    draw = ImageDraw.Draw(sheet)
    for k, index in enumerate(picks):
        x, y = (k % columns) * tile, (k // columns) * height
        sheet.paste(Image.fromarray(frames[index]).resize((tile, height), Image.LANCZOS), (x, y))
        seconds = index / fps
        draw.text((x + 4, y + 3), f"{int(seconds // 60)}:{seconds % 60:04.1f}", fill=(0, 0, 0))
    return sheet


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--columns", type=int, default=6)
    parser.add_argument("--tile", type=int, default=200, help="tile width in pixels")
    args = parser.parse_args()
    frames, fps = video_frames(args.video)
    sheet = contact_sheet(frames, fps, args.frames, args.columns, args.tile)
    sheet.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
    print(f"{args.video}: {len(frames)} frames at {fps:g} fps -> {args.out} ({args.out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
