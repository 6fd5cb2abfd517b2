"""`kgllm export`, `kgllm import` and `kgllm sparql` on graph files and RDF files; SPARQL through rdflib."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.errors import InputError
from kgllm.rdf.sparql import run_sparql, store_dataset
from kgllm.stores.memory import MemoryStore
from tests.unit.test_rdf import canonical, small_graph

runner = CliRunner()


def kgllm(*args: str, status: int = 0):
    result = runner.invoke(app, list(args), prog_name="kgllm")
    assert result.exit_code == status, f"kgllm {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result


@pytest.fixture()
def graph_file(tmp_path):
    path = tmp_path / "harbour.json"
    small_graph().save(path)
    return path


@pytest.mark.parametrize("fmt", ["ttl", "nt", "jsonld", "trig", "nq"])
def test_export_then_import_through_the_cli(tmp_path, graph_file, fmt):
    rdf = tmp_path / f"out.{fmt}"
    kgllm("export", "--graph", str(graph_file), "--to", str(rdf))
    copy = tmp_path / "copy.json"
    report = json.loads(kgllm("import", str(rdf), "--graph", str(copy), "--json").stdout)
    assert report["format"] == fmt and report["merges_not_applied"] == 1
    assert canonical(MemoryStore.load(copy)) == canonical(MemoryStore.load(graph_file))


def test_format_option_overrides_the_extension_and_json_stays_lossless(tmp_path, graph_file):
    odd = tmp_path / "graph.data"
    kgllm("export", "--graph", str(graph_file), "--to", str(odd), "--format", "trig")
    assert odd.read_text(encoding="utf-8").lstrip().startswith("@prefix")
    copy = tmp_path / "copy.json"
    kgllm("import", str(odd), "--format", "trig", "--graph", str(copy))
    assert canonical(MemoryStore.load(copy)) == canonical(MemoryStore.load(graph_file))
    as_json = tmp_path / "exact.json"
    kgllm("export", "--graph", str(graph_file), "--to", str(as_json))
    assert MemoryStore.load(as_json).to_dict() == MemoryStore.load(graph_file).to_dict()  # merges and undo too
    refused = kgllm("import", str(as_json), "--graph", str(as_json), status=2)
    assert "not empty" in refused.stderr


def test_import_of_malformed_rdf_leaves_the_graph_file_as_it_was(tmp_path, graph_file):
    before = graph_file.read_bytes()
    bad = tmp_path / "bad.nt"
    bad.write_text("<http://x.org/a> <http://x.org/r> <http://x.org/b> .\n<http://x.org/a> <http://x.org/r> .\n",
                   encoding="utf-8")
    result = kgllm("import", str(bad), "--graph", str(graph_file), status=2)
    assert f"{bad}:2: malformed N-Triples" in result.stderr
    assert graph_file.read_bytes() == before
    result = kgllm("export", "--graph", str(graph_file), "--to", str(tmp_path / "x.csv"), status=2)
    assert "pass --format" in result.stderr


def test_sparql_select_ask_construct_and_refused_update(tmp_path, graph_file):
    query = 'SELECT ?name WHERE { ?a rdfs:label "Ines Varga" ; rel:sailed ?b . ?b rdfs:label ?name }'
    rows = json.loads(kgllm("sparql", query, "--graph", str(graph_file), "--json").stdout)
    assert rows == {"variables": ["name"], "rows": [{"name": "Morning Gull"}]}
    assert "Morning Gull" in kgllm("sparql", query, "--graph", str(graph_file)).stdout
    assert kgllm("sparql", "ASK { ent:morning_gull rel:launched_in 1998 }", "--graph", str(graph_file)
                 ).stdout.strip() == "false"  # 1998 is an xsd:integer, the export wrote an xsd:gYear
    ask = 'ASK { ent:morning_gull rel:launched_in "1998"^^xsd:gYear }'
    assert kgllm("sparql", ask, "--graph", str(graph_file)).stdout.strip() == "true"
    ttl = tmp_path / "g.ttl"
    kgllm("export", "--graph", str(graph_file), "--to", str(ttl))
    query_file = tmp_path / "q.rq"
    query_file.write_text("CONSTRUCT { ?a rel:sailed ?b } WHERE { ?a rel:sailed ?b }", encoding="utf-8")
    built = kgllm("sparql", f"@{query_file}", "--graph", str(ttl)).stdout
    assert "ent:ines_varga rel:sailed ent:morning_gull" in built
    refused = kgllm("sparql", "INSERT DATA { ent:a rel:b ent:c }", "--graph", str(ttl), status=2)
    assert "SPARQL updates are refused" in refused.stderr
    bad = kgllm("sparql", "SELEKT ?x WHERE { ?x ?y ?z }", "--graph", str(graph_file), status=2)
    assert "malformed SPARQL query" in bad.stderr


def test_sparql_sees_provenance_graphs_and_statement_nodes():
    ds = store_dataset(small_graph())
    query = """SELECT ?doc ?sentence WHERE { GRAPH ?g { ?src a kg:Source ; rdf:subject ent:ines_varga ;
               rdf:predicate rel:sailed ; kg:document ?doc ; kg:sentence ?sentence } }"""
    rows = run_sparql(ds, query).rows
    assert rows == [{"doc": "https://kgllm.example/doc/notes%2Fharbour%20log.txt",
                     "sentence": 'Captain Ines Varga sailed the "Morning Gull".'}]
    confidence = run_sparql(ds, "SELECT ?c WHERE { ?f rdf:subject ent:ines_varga ; rdf:predicate rel:sailed ; "
                                "kg:confidence ?c }").rows
    assert confidence == [{"c": 0.7}]
    with pytest.raises(InputError, match="updates are refused"):
        run_sparql(ds, "CLEAR ALL")
