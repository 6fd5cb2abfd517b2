#!/usr/bin/env bash
# Reproduce the dev figures of README.md's "Evaluation" table (run from the repo root, e.g. via `make eval`).
set -euo pipefail
data=${KGLLM_SHARED_DATA:-../shared/data}
kg=${KGLLM_VENV:-$HOME/.cache/kgllm/venv}/bin/kgllm
for h in 2H 3H; do
  echo "PQ-$h: $($kg eval kgqa --kb "$data/kgqa/PQ-$h-kb.tsv" "$data/kgqa/PQ-$h-dev.jsonl" --json)"
done
echo "webnlg2020-dev: $($kg eval extraction "$data/extraction/webnlg2020-dev.jsonl" --json)"
echo "clutrr-dev: $($kg eval textgraph "$data/textgraph/clutrr-dev.jsonl" --json)"
