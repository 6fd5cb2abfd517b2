"""The explorer's HTTP API on a real Neo4j server: the same answers as on the memory store, read live."""

from __future__ import annotations

import pytest

from kgllm.explorer import ExplorerConfig
from kgllm.types import Fact, GraphDelta
from tests.unit.test_explorer_api import FACT_BORN, SENTENCES, Server, sample_delta, sample_store

pytestmark = pytest.mark.slow  # a JVM per session

READS = [("/api/search", {"q": "ada lindqvist"}), ("/api/entity", {"id": "ada lindqvist"}),
         ("/api/neighbours", {"id": "norway"}), ("/api/neighbours", {"id": "ada lindqvist", "limit": 2}),
         ("/api/paths", {"source": "jonas berg", "target": "tromsø"}), (f"/api/facts/{FACT_BORN}", {})]


def _plain(body: dict) -> dict:
    """Drop what only the memory store knows without a query (degrees, scores)."""
    if isinstance(body, dict):
        return {k: _plain(v) for k, v in body.items() if k not in ("degree", "score")}
    if isinstance(body, list):
        return [_plain(v) for v in body]
    return body


def test_explorer_on_neo4j_matches_memory(neo4j_store):
    neo4j_store.clear()
    neo4j_store.upsert(sample_delta())
    config = ExplorerConfig(request_timeout=120, ask_timeout=300, warm_reasoner=False)
    with Server(sample_store(), config=config) as mem, Server(neo4j_store, config=config) as neo:
        for path, params in READS:
            a, b = mem.get(path, params=params), neo.get(path, params=params)
            assert a.status_code == b.status_code == 200, (path, b.text)
            if path == "/api/search":
                assert b.json()["results"][0]["id"] == a.json()["results"][0]["id"]
            else:
                assert _plain(b.json()) == _plain(a.json()), path
        stats = neo.get("/api/stats").json()
        assert stats["counts"]["facts"] == 8 and stats["relations"][0] == {"relation": "located_in", "facts": 3}
        assert stats["top_entities"][0]["id"] == "ada lindqvist"
        assert neo.get("/api/entity", params={"id": "nobody"}).status_code == 404

        q = {"cypher": "MATCH (a)-[r]->(b) WHERE a.name = $n RETURN b.name", "params": {"n": "Jonas Berg"}}
        rows = neo.post("/api/query", json=q).json()["rows"]
        assert sorted(r["b.name"] for r in rows) == ["Ada Lindqvist", "Uppsala"]
        cut = neo.post("/api/query", json={"cypher": "MATCH (a)-[r]->(b) RETURN a.id", "limit": 3}).json()
        assert len(cut["rows"]) == 3 and cut["truncated"]
        for cypher in ("CREATE (a:Entity {id: 'x'})", "MATCH (a) DETACH DELETE a", "MATCH (a) SET a.name = 'y'",
                       "CALL apoc.create.node(['X'], {})"):
            refused = neo.post("/api/query", json={"cypher": cypher})
            assert refused.status_code == 400 and "read-only" in refused.json()["error"]["message"]
        bad = neo.post("/api/query", json={"cypher": "MATCH (a RETURN a"})
        assert bad.status_code == 400
        assert neo4j_store.stats()["facts"] == 8

        answer = neo.post("/api/ask", json={"question": "Where was Ada Lindqvist born?"}).json()
        assert answer["answer"] == "Tromsø" and [f["id"] for f in answer["facts"]] == [FACT_BORN]
        assert answer["facts"][0]["provenance"][0]["sentence"] == SENTENCES[0][5]

        neo4j_store.upsert(GraphDelta(facts=[Fact("kari holm", "born_in", "bergen")]))  # live: no reload needed
        assert neo.get("/api/search", params={"q": "kari holm"}).json()["results"][0]["id"] == "kari holm"
        live_stats = neo.get("/api/stats").json()
        assert live_stats["counts"]["facts"] == 9
        assert {"relation": "born_in", "facts": 3} in live_stats["relations"]
    neo4j_store.clear()
