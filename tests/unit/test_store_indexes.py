"""Answers from indexes, not from the whole graph: linking, relation names, name vectors, scoped Cypher."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from kgllm.retrieve import link as linking
from kgllm.retrieve.link import EntityLinker, LinkedEntity
from kgllm.retrieve.question import RelationIndex
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta


def people(store: MemoryStore) -> MemoryStore:
    """A few people and places (names made up here)."""
    store.upsert(GraphDelta(
        entities=[Entity("alice moreau", "Alice_Moreau", "PERSON", ("Ally Moreau",)),
                  Entity("claire dubois", "Claire Dubois", "PERSON")],
        facts=[Fact("alice moreau", "born_in", "vexford"), Fact("vexford", "located_in", "lumeria"),
               Fact("claire dubois", "nationality", "lumeria"), Fact("claire", "is_a", "name")]))
    return store


def no_whole_reads(store: MemoryStore, monkeypatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("read the whole graph")

    monkeypatch.setattr(store, "entities", refuse)
    monkeypatch.setattr(store, "facts", refuse)


@pytest.fixture
def graph_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KGLLM_CACHE_DIR", str(tmp_path / "cache"))
    return people(MemoryStore.open(tmp_path / "g.sqlite", create=True))


def test_exact_and_alias_links_are_looked_up_not_read(graph_file, monkeypatch):
    no_whole_reads(graph_file, monkeypatch)
    linker = EntityLinker(graph_file)
    found = linker.link("where was alice_moreau 's father born ?")
    assert found[0] == LinkedEntity("alice moreau", "alice moreau", found[0].score, "exact", (2, 4))
    assert linker.link("who is ally moreau married to")[0].method == "alias"
    assert linker.link("what is claire_dubois 's nationality ?")[0].entity_id == "claire dubois"
    assert linker._index is None                                      # nothing read into memory


def test_links_are_the_same_in_memory_and_on_a_file(graph_file):
    memory = people(MemoryStore())
    for q in ["where was alice_moreau born", "who is ally moreau married to", "who is alise moreau ?",
              "claire dubois and vexford", "what is the meaning of life"]:
        assert EntityLinker(graph_file).link(q) == EntityLinker(memory).link(q)


def test_fuzzy_links_on_a_large_graph_compare_only_names_sharing_a_word_start(graph_file, monkeypatch):
    monkeypatch.setattr(linking, "SMALL_GRAPH", 0)                    # as if the graph were large
    no_whole_reads(graph_file, monkeypatch)
    asked: list[list[str]] = []
    real = graph_file.name_candidates
    monkeypatch.setattr(graph_file, "name_candidates", lambda words, **kw: asked.append(list(words)) or real(words, **kw))
    found = EntityLinker(graph_file).link("who is alise moreau ?")
    assert [(x.entity_id, x.method) for x in found] == [("alice moreau", "fuzzy")]
    assert asked == [["ali", "mor"]]


def test_relation_names_come_from_the_store_and_their_vectors_from_disk(graph_file, monkeypatch):
    from kgllm.resources import Embedder

    no_whole_reads(graph_file, monkeypatch)
    first = RelationIndex(graph_file, Embedder())
    first.ensure()
    assert first.relations == ["born_in", "is_a", "located_in", "nationality"]
    again = RelationIndex(graph_file, Embedder())                     # another process, the same names
    again.ensure()
    assert again._embedder._model is None                             # every vector came from the cache
    assert np.allclose(again._vecs[0], first._vecs[0], atol=1e-6)
    graph_file.upsert(GraphDelta(facts=[Fact("alice moreau", "works_at", "lumeria")]))
    again.reset()
    again.ensure()
    assert again.relations == ["born_in", "is_a", "located_in", "nationality", "works_at"]   # appended, kept in place
    assert again.position["born_in"] == 0 and again._vecs[0].shape[0] == 5


def test_the_relation_index_grows_once_when_threads_ask_together(graph_file):
    calls: list[int] = []

    class Counting:
        def encode(self, texts):
            calls.append(len(texts))
            return np.ones((len(texts), 4), dtype=np.float32)

    index = RelationIndex(graph_file, Counting())
    threads = [threading.Thread(target=index.ensure) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [8] and len(index.relations) == 4                 # four names, bare and framed, encoded once


def test_a_cypher_query_pinned_to_a_name_reads_only_its_neighbourhood(graph_file, monkeypatch):
    from kgllm.stores.memory import query

    memory = people(MemoryStore())
    pinned = 'MATCH (a)-[r]->(b)-[s]->(c) WHERE a.name = "Alice_Moreau" RETURN b.name, c.name'
    monkeypatch.setattr(query, "_full_lock", None)                    # the whole-graph view is never built
    assert graph_file.query(pinned) == memory.query(pinned) == [{"b.name": "vexford", "c.name": "lumeria"}]
    inline = 'MATCH (a {id: "claire dubois"})-[r]->(b) RETURN r.relation, b.name'
    assert graph_file.query(inline) == memory.query(inline)
    monkeypatch.undo()
    every = "MATCH (a)-[r]->(b) RETURN a.name, b.name"
    assert sorted(map(str, graph_file.query(every))) == sorted(map(str, memory.query(every)))


def test_the_explorer_search_on_a_file_ranks_as_the_in_memory_index(graph_file, monkeypatch):
    from kgllm.explorer.search import SearchIndex, search_store

    no_whole_reads(graph_file, monkeypatch)
    memory = people(MemoryStore())
    index = SearchIndex.of(memory)
    for q in ["alice", "ally m", "claire dubois", "lum", "vex", "a", "zzz"]:
        assert [(e.id, s) for e, s, _ in search_store(graph_file, q, 5)] == [(e.id, s) for e, s in index.search(q, 5)]
