#!/usr/bin/env bash
# The whole GPU check in one go, for someone with ~10 minutes on an H100 (or H200): 6 minutes at most.
#
#   1. tests/test_cuda.py: flex attention vs SDPA (forward and gradients, document masks), compiled vs
#      eager, bf16 training steps, cached vs uncached generation (3 minutes at most);
#   2. scripts/train_blt.py --preset gpu for 200 steps (137M-parameter BLT, 64 x 2048-byte batches, bf16,
#      torch.compile, flex attention): time, bytes/s, TFLOP/s and MFU against 989 TFLOP/s (H100 dense
#      bf16) every 20 steps, then held-out bits per byte (under 3 minutes, compilation included).
#
# Usage: scripts/gpu_check.sh   (from anywhere; PYTHON=... picks the interpreter, default .venv/bin/python)
# Writes gpu_check.log to $OUT if set, else to runs/. The trained model goes to runs/blt_gpu.safetensors
# (550 MB: not into $OUT). Each part has its own time limit, so one that hangs cannot starve the other.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
LOG_DIR=${OUT:-runs}
mkdir -p "$LOG_DIR"
LOG="$LOG_DIR/gpu_check.log"
start=$(date +%s)

if ! "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu_check: no CUDA GPU here (torch.cuda.is_available() is False); nothing to check" | tee "$LOG"
    exit 2
fi

{
    echo "== gpu_check $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    "$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name())"
} 2>&1 | tee "$LOG"

echo "== tests/test_cuda.py" | tee -a "$LOG"
# -v: one line per test as it finishes (a timeout still leaves them); --durations: where the time went.
# The throughput test is left out here: the training run below measures the same step on real data
# (run it alone with: pytest tests/test_cuda.py -s -k throughput).
timeout 200 "$PY" -m pytest tests/test_cuda.py -v -s --durations=8 -k "not throughput" \
    -o addopts="-p no:cacheprovider" 2>&1 | tee -a "$LOG"
tests_rc=${PIPESTATUS[0]}

echo "== scripts/train_blt.py --preset gpu --steps 200" | tee -a "$LOG"
# One validation pass (at the end): each mode (train, eval) costs a compilation.
timeout 160 "$PY" scripts/train_blt.py --preset gpu --steps 200 --log-every 20 --eval-every 200 --threads 8 \
    2>&1 | tee -a "$LOG"
train_rc=${PIPESTATUS[0]}

echo "== done in $(($(date +%s) - start)) s: tests exit $tests_rc, training exit $train_rc (124 = timed out)" | tee -a "$LOG"
[ "$tests_rc" -eq 0 ] && [ "$train_rc" -eq 0 ]
