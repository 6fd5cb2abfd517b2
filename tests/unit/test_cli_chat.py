"""``kgllm chat`` driven through a pseudo-terminal (readline prompt, resolved questions, /sources, /reset, /quit)
and with ``--json`` through a pipe (issue 20)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kgllm import KnowledgeGraph
from kgllm.types import Document
from tests.unit.test_conversation import TEXT

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kg = KnowledgeGraph()
    kg.ingest([Document("velmora", TEXT)])
    path = tmp_path_factory.mktemp("chat") / "velmora.json"
    kg.save(path)
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "NO_COLOR": "1", "TERM": "dumb", "HOME": os.environ.get("HOME", "/tmp")}


def _read_until(fd: int, marker: str, seen: list[str], timeout: float = 120.0) -> str:
    """Read the terminal until ``marker`` appears after what was already read; return the new text."""
    start = len("".join(seen))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 4096).decode("utf-8", "replace")
            except OSError:
                break
            if not chunk:
                break
            seen.append(chunk)
            if marker in "".join(seen)[start:]:
                return "".join(seen)[start:]
    raise AssertionError(f"no {marker!r} within {timeout}s; terminal showed: {''.join(seen)[start:]!r}")


def test_chat_in_a_terminal(graph_file: Path) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "kgllm.cli", "chat", "--graph", str(graph_file), "--no-llm"],
                            stdin=slave, stdout=slave, stderr=slave, env=_env(), cwd=ROOT, close_fds=True)
    os.close(slave)
    seen: list[str] = []
    try:
        _read_until(master, "you> ", seen)
        os.write(master, b"Who founded Velmora Bikes?\n")
        shown = _read_until(master, "you> ", seen)
        assert "A: Ada Lindqvist" in shown and "source velmora" in shown
        os.write(master, b"Where was she born?\n")
        shown = _read_until(master, "you> ", seen)
        assert "Q: Where was Ada Lindqvist born?" in shown and "A: Tromsø" in shown
        os.write(master, b"/sources\n")
        shown = _read_until(master, "you> ", seen)
        assert "She was born in Tromsø." in shown or "born in Tromsø" in shown
        os.write(master, b"/reset\n")
        assert "new conversation" in _read_until(master, "you> ", seen)
        os.write(master, b"Where was she born?\n")
        shown = _read_until(master, "you> ", seen)
        assert "not resolved: she" in shown  # the reset forgot Ada Lindqvist
        os.write(master, b"/quit\n")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_chat_json_one_object_a_turn(graph_file: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kgllm.cli", "chat", "--graph", str(graph_file), "--no-llm",
                           "--json"], input="Who founded Velmora Bikes?\nIn which year?\n\n/quit\n",
                          capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    turns = [json.loads(line) for line in done.stdout.splitlines()]
    assert [t["turn"] for t in turns] == [1, 2]
    assert turns[0]["answer"] == "Ada Lindqvist" and turns[0]["sources"]
    assert turns[1]["question"] == "In which year?"
    assert turns[1]["resolved_question"] == "In which year was Velmora Bikes founded?"
    assert turns[1]["answer"] == "1990" and turns[1]["unresolved"] == []
