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
echo "== every family's tiny model loads in bf16 on cuda and passes the engine's check against transformers"
"$PY" - <<'PYEOF'
import tempfile, torch
from kgllm.engine import Engine, SamplingParams
from kgllm.engine.loading import load_hf_model
from kgllm.engine.tiny import TINY, save_tiny
with tempfile.TemporaryDirectory() as tmp:
    for name in sorted(TINY):
        model, tok = load_hf_model(save_tiny(name, f"{tmp}/{name}"), "cuda", "bfloat16")
        engine = Engine.from_model(model, tok, kv_budget_mb=16)
        out = engine.generate(["hello"] * 16, SamplingParams(max_tokens=8, ignore_eos=True))
        print(name, "ok", len(out), "requests,", {p.dtype for p in model.parameters()})
PYEOF
echo "== benchmark (cuda, bfloat16)"
"$PY" benchmarks/engine.py --device cuda --dtype bfloat16 --threads 2 --no-families "$@"
