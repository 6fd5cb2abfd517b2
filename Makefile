# kgllm: `make demo` sets everything up and runs the demo; `make test` runs the whole suite.
# The virtual environment lives outside the clone and is reused between runs (torch is large).
KGLLM_VENV ?= $(HOME)/.cache/kgllm/venv
PY := $(KGLLM_VENV)/bin/python
export PYTHONPATH := $(CURDIR)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test test-fast eval help

help:
	@echo "make demo        set up the environment, build a graph from graphs/demo/, ask a question"
	@echo "make test        run the whole test suite (what .ci/run calls)"
	@echo "make test-fast   the quick loop: every test not marked slow (no real LM, no Neo4j server)"
	@echo "make eval        measure the dev figures reported in README.md"

setup:
	@KGLLM_VENV="$(KGLLM_VENV)" bash .ci/setup

demo: setup
	$(KGLLM_VENV)/bin/kgllm build graphs/demo --graph .kgllm/demo.graph.sqlite
	$(KGLLM_VENV)/bin/kgllm ask "In which country was Ada Lindqvist born?" --graph .kgllm/demo.graph.sqlite

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

eval: setup
	bash benchmarks/dev_figures.sh
