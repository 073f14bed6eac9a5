#!/usr/bin/env bash
# GPU check (issue 10): both regimes on CUDA at N = 2e6, then the largest full-graph N the memory
# estimator says fits; prints epoch time and peak VRAM as JSON lines. Under 8 minutes on one H100/H200.
#   bash scripts/gpu_check.sh            (from the repository root, in the project's environment)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi
if ! "$PY" -c "import zeta_rmt, torch_geometric" 2>/dev/null; then
  # a bare machine: install the project (the GPU build of torch, no CPU constraints file)
  "$PY" -m pip install -q -e ".[dev]"
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv || true
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}
timeout 470 "$PY" scripts/gpu_check.py "$@"
