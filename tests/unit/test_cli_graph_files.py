"""Graph files are recognised by content wherever ``--graph`` is read; anything else is refused saying what a graph
file is; bad input, job specs included, exits 2 (issue 22, items 1, 4 and 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Provenance

runner = CliRunner()
SENTENCE = "Ada Lindqvist was born in Tromsø."


def _graph(path: Path) -> Path:
    """A SQLite graph file named ``path`` (any name), holding one fact."""
    store = MemoryStore.open(path, create=True)
    store.upsert(GraphDelta(entities=[Entity.from_name("Ada Lindqvist", "PERSON"), Entity.from_name("Tromsø")],
                            facts=[Fact("ada lindqvist", "born_in", "tromsø",
                                        provenance=(Provenance("notes.txt", 0, 0, len(SENTENCE), "rules", SENTENCE),))]))
    store.close()
    return path


COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s rel:born_in ?o }"


@pytest.mark.parametrize("name", ["g.kg", "graph", "g.sqlite"])
def test_every_reading_command_opens_a_sqlite_graph_file_whatever_its_name(tmp_path, name):
    graph = str(_graph(tmp_path / name))
    answered = runner.invoke(app, ["sparql", COUNT, "--graph", graph, "--json"])
    assert answered.exit_code == 0, answered.output
    assert json.loads(answered.stdout)["rows"][0]["n"] == 1
    stats = runner.invoke(app, ["stats", "--graph", graph, "--json"])
    assert stats.exit_code == 0 and json.loads(stats.stdout)["facts"] == 1, stats.output
    exported = runner.invoke(app, ["export", "--graph", graph, "--to", str(tmp_path / "out.nt")])
    assert exported.exit_code == 0 and "born_in" in (tmp_path / "out.nt").read_text(), exported.output
    imported = runner.invoke(app, ["import", graph, "--graph", str(tmp_path / "copy.sqlite")])
    assert imported.exit_code == 0, imported.output
    converted = runner.invoke(app, ["convert", graph, str(tmp_path / "copy.json")])
    assert converted.exit_code == 0 and "1 facts" in converted.stderr, converted.output


def test_a_json_graph_file_with_another_name_is_read_by_its_content(tmp_path):
    store = MemoryStore.load(_graph(tmp_path / "g.sqlite"))
    store.save(tmp_path / "export.json")
    store.close()
    (tmp_path / "export.json").rename(tmp_path / "export.graph")
    answered = runner.invoke(app, ["sparql", COUNT, "--graph", str(tmp_path / "export.graph"), "--json"])
    assert answered.exit_code == 0, answered.output
    assert json.loads(answered.stdout)["rows"][0]["n"] == 1


def test_rdf_is_read_by_its_extension_or_by_format(tmp_path):
    turtle = ('@prefix rel: <https://kgllm.example/relation/> .\n'
              '<https://kgllm.example/entity/ada> rel:born_in <https://kgllm.example/entity/tromso> .\n')
    (tmp_path / "facts.ttl").write_text(turtle, encoding="utf-8")
    (tmp_path / "facts.data").write_text(turtle, encoding="utf-8")
    by_name = runner.invoke(app, ["sparql", COUNT, "--graph", str(tmp_path / "facts.ttl"), "--json"])
    assert by_name.exit_code == 0 and json.loads(by_name.stdout)["rows"][0]["n"] == 1, by_name.output
    by_format = runner.invoke(app, ["sparql", COUNT, "--graph", str(tmp_path / "facts.data"), "--format", "ttl",
                                    "--json"])
    assert by_format.exit_code == 0 and json.loads(by_format.stdout)["rows"][0]["n"] == 1, by_format.output
    unknown = runner.invoke(app, ["sparql", COUNT, "--graph", str(tmp_path / "facts.data")])
    assert unknown.exit_code == 2
    assert "RDF (Turtle" in unknown.stderr and "--format" in unknown.stderr, unknown.stderr


PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.mark.parametrize("name, content, holds", [
    ("notes.txt", SENTENCE.encode(), "plain text"),
    ("picture.png", PNG, "a PNG image"),
    ("graph.sqlite", PNG, "a PNG image"),           # the name does not make it a graph file
    ("graph.json", b'{"nodes": []}', "JSON, but not a kgllm graph"),
])
@pytest.mark.parametrize("argv", [["stats"], ["ask", "Where was Ada Lindqvist born?", "--no-llm"], ["docs", "list"],
                                  ["sparql", COUNT], ["build", "nothing-needed.txt"]])
def test_a_file_that_is_no_graph_file_is_refused_saying_what_a_graph_file_is(tmp_path, name, content, holds, argv):
    path = tmp_path / name
    path.write_bytes(content)
    (tmp_path / "nothing-needed.txt").write_text(SENTENCE, encoding="utf-8")
    argv = [a.replace("nothing-needed.txt", str(tmp_path / "nothing-needed.txt")) for a in argv]
    result = runner.invoke(app, [*argv, "--graph", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}: not a kgllm graph file (it holds {holds}" in result.stderr, result.stderr
    assert "A graph file is a SQLite database written by `kgllm build --graph FILE`" in result.stderr
    assert path.read_bytes() == content                   # nothing was written to it


def test_an_invalid_job_spec_exits_2_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - folder: texts\nstore: g.sqlite\nbatch_sise: 8\n", encoding="utf-8")
    for argv in (["jobs", "check", str(bad)], ["jobs", "run", str(bad)], ["jobs", "status", str(bad)],
                 ["jobs", "history", str(bad)]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 2, (argv, result.output)
        assert "bad.yaml:4: unknown key 'batch_sise'" in result.stderr
    missing = runner.invoke(app, ["jobs", "run", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "none.yaml" in missing.stderr


def test_a_bad_option_value_exits_2(tmp_path):
    (tmp_path / "a.txt").write_text(SENTENCE, encoding="utf-8")
    result = runner.invoke(app, ["build", str(tmp_path / "a.txt"), "--graph", str(tmp_path / "g.sqlite"),
                                 "--extractor", "magic"])
    assert result.exit_code == 2, result.output
    assert "magic" in result.stderr


def test_a_job_whose_store_is_no_graph_file_is_refused_saying_what_it_holds(tmp_path):
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text(SENTENCE, encoding="utf-8")
    (tmp_path / "graph.sqlite").write_bytes(PNG)
    spec = tmp_path / "job.yaml"
    spec.write_text("sources:\n  - folder: texts\nstore: graph.sqlite\n", encoding="utf-8")
    result = runner.invoke(app, ["jobs", "run", str(spec)])
    assert result.exit_code == 2, result.output
    assert "graph.sqlite: not a kgllm graph file (it holds a PNG image)" in result.stderr
    assert (tmp_path / "graph.sqlite").read_bytes() == PNG


def test_bad_option_values_of_ask_and_neo4j_exit_2_before_anything_starts(tmp_path, monkeypatch):
    graph = str(_graph(tmp_path / "g.sqlite"))
    result = runner.invoke(app, ["ask", "Where was Ada Lindqvist born?", "--graph", graph, "--llm-url", "ftp://x"])
    assert result.exit_code == 2 and "--llm-url expects an http:// or https:// URL" in result.stderr, result.output
    from kgllm import neo4j_server

    monkeypatch.setattr(neo4j_server, "start_background", lambda *a, **k: pytest.fail("started"))
    short = runner.invoke(app, ["neo4j", "start", "--data", str(tmp_path / "neo"), "--password", "short"])
    assert short.exit_code == 2 and "Invalid value for --password: Neo4j passwords must" in short.output, short.output
