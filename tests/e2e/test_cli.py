"""The ``kgllm`` CLI end to end: in process through typer's CliRunner, and as a real process where that is the point
(the console script's exit status and streams, ``serve-llm`` over loopback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgllm.cli import app

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "In which country was Ada Lindqvist born?"
runner = CliRunner()


def cli(*args: str, status: int = 0):
    """Run ``kgllm ARGS`` in process; check the exit status."""
    result = runner.invoke(app, list(args), prog_name="kgllm")
    assert result.exit_code == status, f"kgllm {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result


def script(*args: str, module: bool = False) -> subprocess.CompletedProcess:
    """Run the installed ``kgllm`` console script (or ``python -m kgllm.cli``) as a real process."""
    exe = Path(sys.executable).with_name("kgllm")
    if not module and not exe.exists():
        pytest.skip(f"no kgllm console script next to {sys.executable} (pip install -e . installs it)")
    cmd = [sys.executable, "-m", "kgllm.cli"] if module else [str(exe)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_console_script_exit_statuses_and_streams(tmp_path):
    kb = tmp_path / "kb.tsv"
    kb.write_text("mira\tborn_in\tvelden\n", encoding="utf-8")
    graph = tmp_path / "kb.json"
    done = script("import-kb", str(kb), "--graph", str(graph))
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr.strip() == f"imported {kb}: 1 new facts, 2 new entities"
    stats = script("stats", "--graph", str(graph), "--json")
    assert stats.returncode == 0 and stats.stderr == ""
    assert json.loads(stats.stdout) == {"entities": 2, "facts": 1, "relations": 1, "documents": 1,
                                        "provenances": 1, "merges": 0}
    missing = script("stats", "--graph", str(tmp_path / "nope.json"), module=True)
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.startswith("error: ") and "nope.json" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_import_kb_query_stats_and_errors(tmp_path):
    kb = tmp_path / "kb.tsv"
    kb.write_text("alice\tparents\tbob\nbob\tgender\tmale\n", encoding="utf-8")
    graph = tmp_path / "kb.json"
    cli("import-kb", str(kb), "--graph", str(graph))
    before = json.loads(cli("stats", "--graph", str(graph), "--json").stdout)
    assert before == {"entities": 3, "facts": 2, "relations": 2, "documents": 1, "provenances": 2, "merges": 0}
    bad = tmp_path / "bad.tsv"
    bad.write_text("x\ty\tz\n[bold]only two\tcolumns\n", encoding="utf-8")
    error = cli("import-kb", str(bad), "--graph", str(graph), status=2).stderr
    assert "bad.tsv:2" in error and "[bold]only two" in error            # printed as written, not as markup
    assert json.loads(cli("stats", "--graph", str(graph), "--json").stdout) == before     # nothing half-written
    rows = json.loads(cli("query", "MATCH (a)-[r]->(b) WHERE a.name == $name RETURN b.name", "--graph", str(graph),
                          "-p", "name=alice", "--json").stdout)["rows"]
    assert rows == [{"b.name": "bob"}]
    assert "read-only" in cli("query", "CREATE (n) RETURN n", "--graph", str(graph), status=2).stderr
    assert "NAME=VALUE" in cli("query", "MATCH (a) RETURN a", "--graph", str(graph), "-p", "novalue", status=2).stderr
    assert "nope.json" in cli("stats", "--graph", str(tmp_path / "nope.json"), status=2).stderr
    assert "--graph FILE is required" in cli("stats", status=2).stderr
    assert "--store must be 'memory' or 'neo4j'" in cli("stats", "--store", "sqlite", status=2).stderr


@pytest.mark.slow  # runs evaluations on dev data (loads spaCy and the sentence embedder); tests/unit/test_cli_eval.py
def test_eval_json_is_one_object_equal_to_the_library_result(shared_data):  # checks the wiring in the fast loop
    from kgllm.eval.extraction import evaluate_extraction
    from kgllm.eval.kgqa import evaluate_kgqa
    from kgllm.eval.textgraph import evaluate_textgraph

    questions, kb = shared_data / "kgqa/PQ-2H-dev.jsonl", shared_data / "kgqa/PQ-2H-kb.tsv"
    out = cli("eval", "kgqa", str(questions), "--kb", str(kb), "--limit", "5", "--json").stdout
    assert out.count("\n") == 1 and json.loads(out) == evaluate_kgqa(kb, questions, limit=5)
    assert json.loads(out)["n"] == 5
    texts = shared_data / "extraction/webnlg2020-dev.jsonl"
    out = cli("eval", "extraction", str(texts), "--limit", "4", "--json").stdout
    assert json.loads(out) == evaluate_extraction(texts, limit=4) and json.loads(out)["n"] == 4
    stories = shared_data / "textgraph/clutrr-dev.jsonl"
    out = cli("eval", "textgraph", str(stories), "--limit", "2", "--no-llm", "--json").stdout
    assert json.loads(out) == evaluate_textgraph(stories, limit=2, llm=None) and json.loads(out)["n"] == 2
    table = cli("eval", "kgqa", str(questions), "--kb", str(kb), "--limit", "5").stdout
    assert "kgqa: PQ-2H-dev.jsonl" in table and "hits@1" in table and "path_recall" in table


@pytest.fixture(scope="module")
def demo_graph(tmp_path_factory) -> Path:
    graph = tmp_path_factory.mktemp("demo") / "demo.json"
    cli("build", str(ROOT / "graphs/demo"), "--graph", str(graph))
    return graph


@pytest.mark.slow
def test_build_ask_query_stats(demo_graph):
    stats = json.loads(cli("stats", "--graph", str(demo_graph), "--json").stdout)
    assert stats["documents"] == 3
    cli("build", str(ROOT / "graphs/demo"), "--graph", str(demo_graph))  # rebuilding changes nothing
    assert json.loads(cli("stats", "--graph", str(demo_graph), "--json").stdout) == stats
    ans = json.loads(cli("ask", QUESTION, "--graph", str(demo_graph), "--json").stdout)
    assert ans["supported"] and "Norway" in ans["generated"]   # the model named it, not only the graph's fallback
    assert ans["answer"] == " ".join(ans["generated"].split()) and ans["entities"][0] == {"id": "norway", "name": "Norway"}
    assert {(f["subject"], f["relation"], f["object"]) for f in ans["facts"]} == {
        ("Ada Lindqvist", "born_in", "Tromsø"), ("Tromsø", "located_in", "Norway")}   # names as written
    assert [any(name in s["doc_id"] for s in ans["sources"]) for name in ("ada_lindqvist.txt", "places.txt")] == \
        [True, True]
    rows = json.loads(cli("query", "MATCH (a)-[r]->(b) WHERE a.name == $name RETURN b.name", "--graph",
                          str(demo_graph), "-p", "name=Fjordcell", "--json").stdout)["rows"]
    assert {"b.name": "Stavanger"} in rows


@pytest.mark.slow
def test_serve_llm_and_ask_over_http_equals_local_engine(demo_graph, shared_data):
    """`kgllm serve-llm` on loopback with a bearer token; `kgllm ask --llm-url` through it answers like the
    in-process engine, and a request without the token is refused."""
    import select
    import signal

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "KGLLM_API_KEY": "test-token"}
    server = subprocess.Popen([sys.executable, "-m", "kgllm.cli", "serve-llm", "--port", "0", "--kv-budget-mb", "128"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    graph = str(demo_graph)
    try:
        ready, _, _ = select.select([server.stdout], [], [], 300)
        assert ready, "serve-llm printed no URL within 300 s"
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), (url, server.stderr.read())
        key = ["--llm-url", url, "--llm-api-key", "test-token"]
        remote = json.loads(cli("ask", QUESTION, "--graph", graph, *key, "--json").stdout)
        local = json.loads(cli("ask", QUESTION, "--graph", graph, "--json").stdout)
        # The local engine chooses among the graph's candidates by constrained decoding; a server's model writes
        # free text that is checked against the evidence. Either way the same checked, cited answer comes out.
        assert remote["entities"][0] == local["entities"][0] == {"id": "norway", "name": "Norway"}
        assert "Norway" in remote["answer"] and "Norway" in local["answer"] and remote["supported"] and local["supported"]
        assert remote["facts"] == local["facts"] and "Norway" in remote["generated"]
        text = cli("ask", QUESTION, "--graph", graph, *key).stdout
        assert f"A: {remote['answer']}" in text and "Because:" in text and "places.txt" in text
        assert "Graph answer:" not in text                   # the streamed words were the model's answer
        refused = cli("ask", QUESTION, "--graph", graph, "--llm-url", url, "--json", status=2)
        assert "401" in refused.stderr
        kgqa = [str(shared_data / "kgqa/PQ-2H-dev.jsonl"), "--kb", str(shared_data / "kgqa/PQ-2H-kb.tsv"),
                "--limit", "6", "--json"]
        remote = json.loads(cli("eval", "kgqa", *kgqa, *key).stdout)
        local = json.loads(cli("eval", "kgqa", *kgqa, "--llm").stdout)
        assert {k: remote[k] for k in ("n", "hits@1", "path_recall")} == {k: local[k] for k in ("n", "hits@1", "path_recall")}
        assert remote["n"] == 6 and "answer_hits@1" in remote and "answer_hits@1" in local
        assert "exclude" in cli("ask", QUESTION, "--graph", graph, *key, "--model", "x.gguf", status=2).stderr
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    gone = cli("ask", QUESTION, "--graph", graph, *key, status=1)          # server gone
    assert "cannot reach" in gone.stderr
