"""The CLI against a real Neo4j server: the same answers as with a graph file, and lossless export/import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

KB = "ada\tborn_in\ttromso\ntromso\tlocated_in\tnorway\nada\tfounded\tfjordcell\nfjordcell\tbased_in\tstavanger\n"


def kgllm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "kgllm.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"kgllm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def test_cli_on_neo4j_matches_graph_file(neo4j_store, neo4j_server, tmp_path):
    neo4j_store.clear()
    kb = tmp_path / "kb.tsv"
    kb.write_text(KB)
    neo = ["--store", "neo4j", "--uri", neo4j_server.uri]
    if neo4j_server.auth:
        neo += ["--user", neo4j_server.auth[0], "--password", neo4j_server.auth[1]]
    graph = tmp_path / "kb.json"
    kgllm("import-kb", str(kb), "--graph", str(graph))
    kgllm("import-kb", str(kb), *neo)
    mem_stats = json.loads(kgllm("stats", "--graph", str(graph), "--json").stdout)
    assert json.loads(kgllm("stats", "--json", *neo).stdout) == mem_stats
    q = "which country was ada born in?"
    on_file = json.loads(kgllm("ask", q, "--graph", str(graph), "--no-llm", "--json").stdout)
    on_neo = json.loads(kgllm("ask", q, "--no-llm", "--json", *neo).stdout)
    assert on_neo["answer"] == on_file["answer"] and on_neo["facts"] == on_file["facts"]
    cypher = 'MATCH (a)-[r:born_in]->(b) RETURN a.name, b.name'
    assert json.loads(kgllm("query", cypher, "--json", *neo).stdout) == \
        json.loads(kgllm("query", cypher, "--graph", str(graph), "--json").stdout)
    exported = tmp_path / "exported.json"
    kgllm("export", "--to", str(exported), *neo[2:])
    assert json.loads(kgllm("stats", "--graph", str(exported), "--json").stdout) == mem_stats
    neo4j_store.clear()
    kgllm("import", str(exported), *neo[2:])
    assert json.loads(kgllm("stats", "--json", *neo).stdout) == mem_stats


def test_kgqa_eval_gives_equal_figures_on_both_stores(neo4j_store, neo4j_server, shared_data):
    """PQ-2H dev through `kgllm eval kgqa --store neo4j` equals the in-memory run (first 60 questions)."""
    neo4j_store.clear()
    args = ["eval", "kgqa", str(shared_data / "kgqa/PQ-2H-dev.jsonl"), "--kb", str(shared_data / "kgqa/PQ-2H-kb.tsv"),
            "--limit", "60", "--json"]
    neo = ["--store", "neo4j", "--uri", neo4j_server.uri]
    if neo4j_server.auth:
        neo += ["--user", neo4j_server.auth[0], "--password", neo4j_server.auth[1]]
    on_memory = json.loads(kgllm(*args).stdout)
    on_neo4j = json.loads(kgllm(*args, *neo).stdout)
    assert on_memory["n"] == 60 and on_memory["hits@1"] >= 0.8
    assert on_neo4j == on_memory
