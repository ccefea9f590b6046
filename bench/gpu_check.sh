#!/usr/bin/env bash
# One GPU check for a machine with an NVIDIA GPU (one `device` call, under 5 minutes), writing JSON into $OUT:
#   render.json           the renderer at 1920x1080 through EGL on the NVIDIA driver (goal >= 120 fps)
#   model_precision.json  EDSA latency at batch 1 and 16 in fp32, bf16 and fp16 autocast (p50/p99; goal p99 <= 10 ms
#                         at batch 1) and top-5 agreement with fp32 on the demo song
#   search.json           top-10 search over 1M bank rows on the GPU
#   env.json              what ran where (GPU, driver, GL renderer)
# Usage: bench/gpu_check.sh [--device cpu]   (--device cpu: a quick smoke run of every piece on this CPU)
# On the device machine: carry .venv (and .gl, the GL loaders prepared as the device README says); $OUT is given.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=cuda
if [[ "${1:-}" == "--device" ]]; then DEVICE="$2"; fi
OUT="${OUT:-bench/results/gpu_check}"
mkdir -p "$OUT"
PY="${PY:-.venv/bin/python}"

if [[ "$DEVICE" != cpu ]]; then
  # GL loaders (libEGL/libglvnd) carried in .gl when the image lacks them; the NVIDIA EGL vendor file when present
  if compgen -G ".gl/*.deb" >/dev/null; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
  vendor=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  if [[ -f $vendor ]]; then export __EGL_VENDOR_LIBRARY_FILENAMES=$vendor; fi
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/nvidia_smi.txt" || true
fi

step() { echo "== $1"; shift; local start=$SECONDS; "$@"; echo "   ($((SECONDS - start)) s)"; }

if [[ "$DEVICE" == cpu ]]; then
  step "renderer (smoke)" $PY bench/bench_render.py --device cpu --backend egl --sizes 320x240 --json "$OUT/render.json"
  step "EDSA precision (smoke)" $PY bench/bench_model_precision.py --device cpu --json "$OUT/model_precision.json"
  step "search (smoke)" $PY bench/bench_search.py --sizes 10000 --device cpu --repeats 2
else
  step "renderer 1920x1080, EGL" $PY bench/bench_render.py --idle-only --backend egl --sizes 1920x1080 --frames 2000 \
    --json "$OUT/render.json"
  step "EDSA precision" $PY bench/bench_model_precision.py --device cuda --json "$OUT/model_precision.json"
  step "search 1M rows" $PY bench/bench_search.py --sizes 1000000 --device cuda
fi
cp bench/results/search.json "$OUT/search.json"
$PY - "$OUT/env.json" <<'EOF'
import json, sys, torch
from pose_db.gl_context import context_description, headless_context
ctx = headless_context("egl")
json.dump({"torch": torch.__version__, "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
           "gl": context_description(ctx)}, open(sys.argv[1], "w"), indent=1)
EOF
echo "wrote $(ls "$OUT" | tr '\n' ' ')in $OUT"
