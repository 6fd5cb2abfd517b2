"""Shared fixtures: paths to the evaluation data and one real language model per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests explore new examples on every developer run; CI replays a fixed (derandomized) set, so a red CI
# always points at a change, and what a developer run finds is added as an explicit example.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("KGLLM_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The evaluation data folder (../shared/data); tests fail loudly if it is missing."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"evaluation data not found at {SHARED_DATA}; set KGLLM_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def lm():
    """The real bundled SmolLM2 model, loaded once for the whole session."""
    from kgllm.lm import LocalLM

    model = LocalLM(threads=2)
    model.chat([[{"role": "user", "content": "Say hi."}]], max_new_tokens=2)  # load now, once
    return model
