"""README command lines run as written: each ``kgllm ...`` line parses with the real CLI and names files that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from kgllm.cli import app

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    """``kgllm`` lines of the README's code blocks and inline code spans."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        lines += [ln.strip() for ln in block.splitlines() if ln.strip().startswith("kgllm ")]
    lines += [m for m in re.findall(r"`(kgllm [^`]+)`", text) if "/" in m]   # inline: those naming files
    return lines


COMMANDS = readme_commands()


def test_the_readme_shows_commands():
    assert len(COMMANDS) >= 15
    assert {shlex.split(c, comments=True)[1] for c in COMMANDS} >= {"build", "ask", "query", "stats", "import-kb",
                                                                     "eval", "serve-llm", "neo4j", "export"}


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_command_parses_and_names_existing_files(line, monkeypatch):
    assert "…" not in line and "..." not in line, line
    argv = shlex.split(line, comments=True)[1:]
    for name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "KGLLM_LLM_URL", "KGLLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    cmd, path = typer.main.get_command(app), []
    while hasattr(cmd, "commands"):
        assert argv and argv[0] in cmd.commands, f"{line}: no command {argv[:1]}"
        path.append(argv[0])
        cmd, argv = cmd.commands[argv[0]], argv[1:]
    cmd.make_context(" ".join(path), list(argv))            # raises on an unknown option or a missing argument
    for arg in argv:
        if arg.startswith(("graphs/", "../shared/")):
            if arg.startswith("../shared/") and not (ROOT.parent / "shared").is_dir():
                continue                                     # a checkout without the evaluation data beside it
            assert (ROOT / arg).exists(), f"{line}: {arg} does not exist"
