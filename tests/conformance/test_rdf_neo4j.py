"""RDF round trips through a real Neo4j server: memory -> RDF -> Neo4j -> RDF -> memory gives the same graph.

Graphs: the demo graph (built from graphs/demo with KnowledgeGraph), a part of the PQ-3H knowledge base (read
from the shared data) and a small graph with every kind of content (tests/unit/test_rdf.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.errors import InputError
from kgllm.loaders import read_kb_tsv
from kgllm.rdf import export_rdf, import_rdf
from kgllm.stores.memory import MemoryStore
from kgllm.types import GraphDelta
from tests.unit.test_rdf import canonical, small_graph

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def demo_graph() -> MemoryStore:
    import kgllm

    kg = kgllm.KnowledgeGraph()
    kg.ingest_files([str(ROOT / "graphs" / "demo")])
    kg.ingest(["Dr. Jonas Berg joined the company in 2016."])  # a titled name the resolver merges: RDF carries merges
    assert kg.store.stats()["facts"] > 10 and kg.store.merges()
    return kg.store


def _through_neo4j(source, neo4j_store, tmp_path, to_neo: str, back: str, batch_size: int = 10_000) -> MemoryStore:
    neo4j_store.clear()
    there = tmp_path / f"there.{to_neo}"
    export_rdf(source, there)
    import_rdf(neo4j_store, there, batch_size=batch_size)
    assert canonical(neo4j_store) == canonical(source)
    again = tmp_path / f"back.{back}"
    export_rdf(neo4j_store, again)
    copy = MemoryStore()
    import_rdf(copy, again)
    return copy


def test_demo_graph_round_trips_on_both_stores(demo_graph, neo4j_store, tmp_path):
    for fmt in ("ttl", "nt", "jsonld", "trig", "nq"):
        path = tmp_path / f"demo.{fmt}"
        export_rdf(demo_graph, path)
        copy = MemoryStore()
        report = import_rdf(copy, path)
        assert canonical(copy) == canonical(demo_graph), fmt
        assert report.merges_not_applied == len(demo_graph.merges())
    assert canonical(_through_neo4j(demo_graph, neo4j_store, tmp_path, "nq", "trig", batch_size=5)) == \
        canonical(demo_graph)


def test_kgqa_knowledge_base_round_trips_through_neo4j(neo4j_store, tmp_path, shared_data):
    """The first 1,000 facts of PQ-3H (the whole KB round-trips on the memory store in tests/unit/test_rdf.py)."""
    delta = read_kb_tsv(shared_data / "kgqa" / "PQ-3H-kb.tsv")
    kb = MemoryStore()
    facts = delta.facts[:1000]
    used = {f.subject for f in facts} | {f.object for f in facts}
    kb.upsert(GraphDelta(entities=[e for e in delta.entities if e.id in used], facts=facts))
    assert canonical(_through_neo4j(kb, neo4j_store, tmp_path, "nt", "nq")) == canonical(kb)


def test_small_graph_round_trips_and_malformed_rdf_leaves_neo4j_unchanged(neo4j_store, tmp_path):
    graph = small_graph()
    assert canonical(_through_neo4j(graph, neo4j_store, tmp_path, "trig", "jsonld")) == canonical(graph)
    before = canonical(neo4j_store)
    bad = tmp_path / "bad.nq"
    lines = ["<http://x.org/new> <http://x.org/r> <http://x.org/thing> .",
             "<http://x.org/new> <http://x.org/r> <http://x.org/other> <http://x.org/g> <http://x.org/extra> ."]
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"{bad}:2: malformed"):
        import_rdf(neo4j_store, bad)
    assert canonical(neo4j_store) == before


def test_cli_exports_and_imports_rdf_on_neo4j(neo4j_store, neo4j_server, tmp_path):
    neo4j_store.clear()
    graph = tmp_path / "g.json"
    small_graph().save(graph)
    conn = ["--uri", neo4j_server.uri]
    if neo4j_server.auth:
        conn += ["--user", neo4j_server.auth[0], "--password", neo4j_server.auth[1]]
    rdf = tmp_path / "g.nq"
    assert runner.invoke(app, ["export", "--graph", str(graph), "--to", str(rdf)]).exit_code == 0
    result = runner.invoke(app, ["import", str(rdf), *conn])  # no --graph: the Neo4j server
    assert result.exit_code == 0, result.output
    assert canonical(neo4j_store) == canonical(MemoryStore.load(graph))
    out = tmp_path / "from-neo.ttl"
    result = runner.invoke(app, ["export", "--to", str(out), "--store", "neo4j", *conn])
    assert result.exit_code == 0, result.output
    rows = runner.invoke(app, ["sparql", 'SELECT ?b WHERE { ?a rdfs:label "Ines Varga" ; rel:sailed ?b }',
                               "--store", "neo4j", "--json", *conn])
    assert rows.exit_code == 0 and "morning_gull" in rows.stdout
