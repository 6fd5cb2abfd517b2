"""The ``kgllm`` console script, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def kgllm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "kgllm.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"kgllm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def test_help_lists_every_command():
    text = kgllm("--help").stdout
    for cmd in ("build", "ask", "query", "import-kb", "stats", "eval"):
        assert cmd in text
    assert "kgqa" in kgllm("eval", "--help").stdout


@pytest.mark.slow
def test_build_ask_query_stats(tmp_path):
    graph = tmp_path / "demo.json"
    kgllm("build", "graphs/demo", "--graph", str(graph))
    stats = json.loads(kgllm("stats", "--graph", str(graph), "--json").stdout)
    assert stats["facts"] >= 8 and stats["documents"] == 3
    rebuilt = json.loads(kgllm("stats", "--graph", str(graph), "--json").stdout)
    kgllm("build", "graphs/demo", "--graph", str(graph))  # idempotent rebuild
    assert json.loads(kgllm("stats", "--graph", str(graph), "--json").stdout) == rebuilt
    ans = json.loads(kgllm("ask", "In which country was Ada Lindqvist born?", "--graph", str(graph), "--json").stdout)
    assert ans["supported"] and "norway" in ans["answer"].lower()
    assert ans["facts"] and ans["sources"]
    rows = json.loads(kgllm("query", 'MATCH (a)-[r]->(b) WHERE a.name == $name RETURN b.name', "--graph",
                            str(graph), "-p", "name=Fjordcell", "--json").stdout)["rows"]
    assert {"b.name": "Stavanger"} in rows


def test_import_kb_and_errors(tmp_path):
    kb = tmp_path / "kb.tsv"
    kb.write_text("alice\tparents\tbob\nbob\tgender\tmale\n")
    graph = tmp_path / "kb.json"
    kgllm("import-kb", str(kb), "--graph", str(graph))
    assert json.loads(kgllm("stats", "--graph", str(graph), "--json").stdout)["facts"] == 2
    bad = tmp_path / "bad.tsv"
    bad.write_text("x\ty\tz\nonly two\tcolumns\n")
    proc = kgllm("import-kb", str(bad), "--graph", str(graph), check=False)
    assert proc.returncode == 2 and "bad.tsv:2" in proc.stderr
    assert json.loads(kgllm("stats", "--graph", str(graph), "--json").stdout)["facts"] == 2
    proc = kgllm("query", "CREATE (n) RETURN n", "--graph", str(graph), check=False)
    assert proc.returncode == 2 and "read-only" in proc.stderr
    proc = kgllm("stats", "--graph", str(tmp_path / "nope.json"), check=False)
    assert proc.returncode == 2 and "nope.json" in proc.stderr


def test_eval_json_outputs_one_object(shared_data):
    proc = kgllm("eval", "kgqa", str(shared_data / "kgqa/PQ-2H-dev.jsonl"), "--kb",
                 str(shared_data / "kgqa/PQ-2H-kb.tsv"), "--limit", "20", "--json")
    result = json.loads(proc.stdout)
    assert result["n"] == 20 and set(result) == {"n", "hits@1", "path_recall"}
    proc = kgllm("eval", "extraction", str(shared_data / "extraction/webnlg2020-dev.jsonl"), "--limit", "10", "--json")
    result = json.loads(proc.stdout)
    assert result["n"] == 10 and set(result["strict"]) == {"precision", "recall", "f1"}
    proc = kgllm("eval", "textgraph", str(shared_data / "textgraph/clutrr-dev.jsonl"), "--limit", "3", "--no-llm",
                 "--json")
    result = json.loads(proc.stdout)
    assert result["n"] == 3 and 0.0 <= result["accuracy"] <= 1.0 and "relaxed" in result["extraction"]


@pytest.mark.slow
def test_serve_llm_and_ask_over_http_equals_local_engine(tmp_path, shared_data):
    """`kgllm serve-llm` on loopback; `kgllm ask --llm-url` through it answers like the in-process engine."""
    import select
    import signal

    graph = tmp_path / "demo.json"
    kgllm("build", "graphs/demo", "--graph", str(graph))
    question = "In which country was Ada Lindqvist born?"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-m", "kgllm.cli", "serve-llm", "--port", "0",
                               "--kv-budget-mb", "128"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=ROOT)
    try:
        ready, _, _ = select.select([server.stdout], [], [], 300)
        assert ready, "serve-llm printed no URL within 300 s"
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), (url, server.stderr.read())
        remote = json.loads(kgllm("ask", question, "--graph", str(graph), "--llm-url", url, "--json").stdout)
        local = json.loads(kgllm("ask", question, "--graph", str(graph), "--json").stdout)
        assert remote == local and remote["supported"] and "norway" in remote["answer"].lower()
        text = kgllm("ask", question, "--graph", str(graph), "--llm-url", url).stdout
        assert f"A: {remote['answer']}" in text and "Because:" in text and "places.txt" in text
        kgqa = [str(shared_data / "kgqa/PQ-2H-dev.jsonl"), "--kb", str(shared_data / "kgqa/PQ-2H-kb.tsv"),
                "--limit", "6", "--json"]
        remote = json.loads(kgllm("eval", "kgqa", *kgqa, "--llm-url", url).stdout)
        assert remote == json.loads(kgllm("eval", "kgqa", *kgqa, "--llm").stdout)
        assert remote["n"] == 6 and 0.0 <= remote["answer_hits@1"] <= 1.0
        proc = kgllm("ask", question, "--graph", str(graph), "--llm-url", url, "--model", "x.gguf", check=False)
        assert proc.returncode == 2 and "exclude" in proc.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    proc = kgllm("ask", question, "--graph", str(graph), "--llm-url", url, check=False)   # server gone
    assert proc.returncode == 1 and "cannot reach" in proc.stderr
