#!/usr/bin/env bash
# Reproduce the dev figures of README.md's "Evaluation" table (run from the repo root, e.g. via `make eval`).
set -euo pipefail
data=${KGLLM_SHARED_DATA:-../shared/data}
kg=${KGLLM_VENV:-$HOME/.cache/kgllm/venv}/bin/kgllm
for name in PQ-2H PQ-3H PQL-2H PQL-3H; do
  echo "$name: $($kg eval kgqa --kb "$data/kgqa/$name-kb.tsv" "$data/kgqa/$name-dev.jsonl" --json)"
done
echo "webnlg2020-dev: $($kg eval extraction "$data/extraction/webnlg2020-dev.jsonl" --json)"
echo "clutrr-dev: $($kg eval textgraph "$data/textgraph/clutrr-dev.jsonl" --json)"
echo "userqa-dev: $($kg eval textqa "$data/userqa/userqa-dev.jsonl" --corpus --json)"
for corpus in tests/corpora/*/; do
  echo "$(basename "$corpus"): $($kg eval textqa "$corpus" --json)"
done
