"""Longer fuzzing of every loader a user can point at a file (the CI share is ``tests/test_fuzz_loaders.py``).

For each target of ``tests/test_fuzz_loaders.TARGETS``: ``--examples`` random or mutated inputs through hypothesis
(random seed each run), counting loads, one-line refusals and failures (any other exception, a multi-line message or
a file written), with the time per input. Prints a table and writes ``bench/results/fuzz.json``.

Run: ``nice -n 10 .venv/bin/python bench/bench_fuzz.py [--examples 2000] [--only NAME]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from hypothesis import HealthCheck, given, settings  # noqa: E402

from test_fuzz_loaders import TARGETS, Target, _seed_paths, check_one, file_bytes, make_seed  # noqa: E402


def fuzz(target: Target, examples: int, work: Path) -> dict:
    """Run ``examples`` inputs through ``target``; outcome counts, seconds per input and the first failure."""
    seed_folder = make_seed(target, work / target.name.replace(" ", "_"))
    seed = _seed_paths(seed_folder)[0].read_bytes()
    outcomes: Counter[str] = Counter()

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(payload=file_bytes(seed))
    def run(payload: bytes) -> None:
        outcomes[check_one(target, seed_folder, payload)] += 1

    started = time.perf_counter()
    failure = None
    try:
        run()
    except BaseException as err:  # a failure is what the benchmark reports, with hypothesis' minimal example
        if isinstance(err, KeyboardInterrupt):
            raise
        failure = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]
    seconds = time.perf_counter() - started
    total = sum(outcomes.values())
    return {"target": target.name, "inputs": total, "loaded": outcomes["loaded"], "refused": outcomes["refused"],
            "failure": failure, "ms_per_input": 1000 * seconds / max(total, 1), "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=2000, help="inputs per loader (default 2000)")
    parser.add_argument("--only", default=None, help="fuzz only the targets whose name contains this")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as work, \
            mock.patch("pose_db.body.smpl_pickle.CACHE_DIR", Path(work) / "body-cache"):
        for target in TARGETS:
            if args.only and args.only.lower() not in target.name.lower():
                continue
            rows.append(fuzz(target, args.examples, Path(work)))
            row = rows[-1]
            print(f"{row['target']:<30} {row['inputs']:>7} {row['loaded']:>7} {row['refused']:>8} "
                  f"{row['ms_per_input']:>8.1f}  {row['failure'] or 'none'}", flush=True)
    print(f"\n{'loader':<30} {'inputs':>7} {'loaded':>7} {'refused':>8} {'ms/input':>8}  failure")
    for row in rows:
        print(f"{row['target']:<30} {row['inputs']:>7} {row['loaded']:>7} {row['refused']:>8} "
              f"{row['ms_per_input']:>8.1f}  {row['failure'] or 'none'}")
    out = REPO / "bench" / "results" / "fuzz.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"examples": args.examples, "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "targets": rows}, indent=1))
    print(f"wrote {out}")
    return 1 if any(row["failure"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
