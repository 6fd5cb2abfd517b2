"""The CLI against a real Neo4j server: the same answers as with a graph file, and lossless export/import.

The commands run in process through typer's CliRunner (the subprocess is not the point here); the server is real.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgllm.cli import app

pytestmark = pytest.mark.slow  # a JVM per session

KB = "ada\tborn_in\ttromso\ntromso\tlocated_in\tnorway\nada\tfounded\tfjordcell\nfjordcell\tbased_in\tstavanger\n"
runner = CliRunner()


def kgllm(*args: str, status: int = 0):
    result = runner.invoke(app, list(args), prog_name="kgllm")
    assert result.exit_code == status, f"kgllm {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result


def _neo(server) -> list[str]:
    args = ["--uri", server.uri]
    if server.auth:
        args += ["--user", server.auth[0], "--password", server.auth[1]]
    return args


def test_cli_on_neo4j_matches_graph_file(neo4j_store, neo4j_server, tmp_path):
    neo4j_store.clear()
    kb = tmp_path / "kb.tsv"
    kb.write_text(KB, encoding="utf-8")
    conn = _neo(neo4j_server)
    neo = ["--store", "neo4j", *conn]
    graph = tmp_path / "kb.json"
    kgllm("import-kb", str(kb), "--graph", str(graph))
    kgllm("import-kb", str(kb), *neo)
    mem_stats = json.loads(kgllm("stats", "--graph", str(graph), "--json").stdout)
    assert mem_stats == {"entities": 5, "facts": 4, "relations": 4, "documents": 1, "provenances": 4, "merges": 0}
    assert json.loads(kgllm("stats", "--json", *neo).stdout) == mem_stats
    q = "which country was ada born in?"
    on_file = json.loads(kgllm("ask", q, "--graph", str(graph), "--no-llm", "--json").stdout)
    on_neo = json.loads(kgllm("ask", q, "--no-llm", "--json", *neo).stdout)
    assert on_file["answer"].lower() == "norway"
    assert on_neo["answer"] == on_file["answer"] and on_neo["facts"] == on_file["facts"]
    cypher = "MATCH (a)-[r:born_in]->(b) RETURN a.name, b.name"
    on_neo_rows = json.loads(kgllm("query", cypher, "--json", *neo).stdout)
    assert on_neo_rows == json.loads(kgllm("query", cypher, "--graph", str(graph), "--json").stdout)
    assert on_neo_rows == {"rows": [{"a.name": "ada", "b.name": "tromso"}]}
    exported = tmp_path / "exported.json"
    kgllm("export", "--to", str(exported), *conn)
    assert json.loads(kgllm("stats", "--graph", str(exported), "--json").stdout) == mem_stats
    refused = kgllm("import", str(exported), *conn, status=2)           # the database is not empty
    assert "not empty" in refused.stderr
    neo4j_store.clear()
    kgllm("import", str(exported), *conn)
    assert json.loads(kgllm("stats", "--json", *neo).stdout) == mem_stats


def test_kgqa_eval_gives_equal_figures_on_both_stores(neo4j_store, neo4j_server, shared_data):
    """PQ-2H dev through `kgllm eval kgqa --store neo4j` equals the in-memory run (first 60 questions)."""
    neo4j_store.clear()
    args = ["eval", "kgqa", str(shared_data / "kgqa/PQ-2H-dev.jsonl"), "--kb", str(shared_data / "kgqa/PQ-2H-kb.tsv"),
            "--limit", "60", "--json"]
    on_memory = json.loads(kgllm(*args).stdout)
    on_neo4j = json.loads(kgllm(*args, "--store", "neo4j", *_neo(neo4j_server)).stdout)
    assert on_memory["n"] == 60 and on_memory["hits@1"] >= 0.8
    assert on_neo4j == on_memory
