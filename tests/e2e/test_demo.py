"""``make demo`` prints what the README shows, and no warnings (issue 22, item 11): the Makefile's demo commands
run as written (the graph in a temporary folder), with the real models."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def demo_commands() -> list[list[str]]:
    """The ``demo`` target's recipe lines of the Makefile, as argument lists."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", text, flags=re.M)
    assert recipe, "the Makefile has no demo target"
    return [shlex.split(line.strip()) for line in recipe.group(1).splitlines()]


def readme_demo_output() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```\n(Q: .*?)```", text, flags=re.S)
    assert block, "the README shows no demo output"
    return block.group(1)


def test_make_demo_prints_the_readme_output_and_no_warnings(tmp_path):
    graph = str(tmp_path / "demo.graph.sqlite")
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    stdout, stderr = "", ""
    commands = demo_commands()
    assert [c[0].rsplit("/", 1)[-1] for c in commands] == ["kgllm", "kgllm"]
    for argv in commands:
        argv = [sys.executable, "-m", "kgllm.cli"] + [graph if a == ".kgllm/demo.graph.sqlite" else a for a in argv[1:]]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        stdout, stderr = stdout + done.stdout, stderr + done.stderr
    assert stdout == readme_demo_output()
    noisy = [line for line in stderr.splitlines() if "Warning" in line or "deprecat" in line.lower()]
    assert noisy == [], "\n".join(noisy)
