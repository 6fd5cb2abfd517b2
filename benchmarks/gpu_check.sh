#!/usr/bin/env bash
# The engine's correctness tests and benchmark on CUDA in bf16 (needs an NVIDIA GPU).
# Usage: bash benchmarks/gpu_check.sh [benchmark args, e.g. --requests 64 --batch 16]
# The tests compare with transformers generate run in bf16 on the same GPU; in bf16 the
# first token of every request must match and >= 75% of requests token for token.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${KGLLM_VENV:-$HOME/.cache/kgllm/venv}/bin/python
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
"$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'gpu_check: no CUDA device')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
echo "== correctness (cuda, bfloat16)"
KGLLM_TEST_DEVICE=cuda KGLLM_TEST_DTYPE=bfloat16 "$PY" -m pytest -q -p no:cacheprovider \
    tests/unit/test_engine.py tests/unit/test_engine_scheduler.py
echo "== benchmark (cuda, bfloat16)"
"$PY" benchmarks/engine.py --device cuda --dtype bfloat16 --threads 2 "$@"
