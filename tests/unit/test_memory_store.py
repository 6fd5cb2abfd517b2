"""Tests of the in-memory reference graph store (hand-made data only)."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from kgllm.errors import InputError, KgllmError, NotFoundError
from kgllm.stores.base import GraphStore, UpsertResult
from kgllm.stores.memory import FORMAT_NAME, FORMAT_VERSION, MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Merge, Provenance


def prov(doc: str, chunk: int = 0, start: int = 0, end: int = 10, extractor: str = "rules", sentence: str = "") -> Provenance:
    return Provenance(doc, chunk, start, end, extractor, sentence or f"sentence of {doc}")


def fact(s: str, r: str, o: str, *provs: Provenance, confidence: float = 1.0) -> Fact:
    return Fact(s, r, o, confidence, tuple(provs))


def lines(facts) -> list[str]:
    return sorted(f.as_line() for f in facts)


def canonical_state(store: MemoryStore) -> str:
    """Order-independent snapshot of entities and facts (merges excluded)."""
    d = store.to_dict()
    ents = sorted(d["entities"], key=lambda e: e["id"])
    facts = sorted(d["facts"], key=lambda f: (f["s"], f["r"], f["o"]))
    return json.dumps({"entities": ents, "facts": facts}, sort_keys=True)


@pytest.fixture
def curie() -> MemoryStore:
    """A small biography graph.

    marie curie --born_in--> warsaw --capital_of--> poland
    marie curie --citizen_of--> france ; marie curie --married_to--> pierre curie
    pierre curie --born_in--> paris --capital_of--> france
    """
    store = MemoryStore()
    store.upsert(GraphDelta(
        entities=[
            Entity("marie curie", "Marie Curie", "PERSON", ("Maria Sklodowska",)),
            Entity("pierre curie", "Pierre Curie", "PERSON"),
            Entity("warsaw", "Warsaw", "GPE"),
            Entity("poland", "Poland", "GPE"),
            Entity("paris", "Paris", "GPE"),
            Entity("france", "France", "GPE"),
        ],
        facts=[
            fact("marie curie", "born_in", "warsaw", prov("bio", 0)),
            fact("warsaw", "capital_of", "poland", prov("geo", 0)),
            fact("marie curie", "citizen_of", "france", prov("bio", 1), confidence=0.8),
            fact("marie curie", "married_to", "pierre curie", prov("bio", 2)),
            fact("pierre curie", "born_in", "paris", prov("bio", 3)),
            fact("paris", "capital_of", "france", prov("geo", 1)),
        ],
    ))
    return store


# ----------------------------------------------------------------- protocol
def test_memory_store_is_a_graph_store():
    assert isinstance(MemoryStore(), GraphStore)


# ------------------------------------------------------------------ upsert
def test_upsert_same_fact_same_source_stored_once():
    store = MemoryStore()
    f = fact("a", "r", "b", prov("d1"))
    first = store.upsert(GraphDelta(facts=[f]))
    assert first == UpsertResult(entities_added=2, facts_added=1, provenance_added=1, merges_applied=0)
    again = store.upsert(GraphDelta(facts=[f]))
    assert again == UpsertResult()  # idempotent: zeros
    assert store.get_fact(f.id) == f
    assert store.stats()["facts"] == 1 and store.stats()["provenances"] == 1


def test_upsert_same_fact_two_sources_keeps_both_provenances():
    store = MemoryStore()
    p1, p2 = prov("d1"), prov("d2", sentence="other words")
    store.upsert(GraphDelta(facts=[fact("a", "r", "b", p1)]))
    result = store.upsert(GraphDelta(facts=[fact("a", "r", "b", p2)]))
    assert result == UpsertResult(0, 0, 1, 0)
    stored = store.get_fact(fact("a", "r", "b").id)
    assert stored.provenance == (p1, p2)
    assert store.stats() == {"entities": 2, "facts": 1, "relations": 1, "documents": 2, "provenances": 2, "merges": 0}


def test_upsert_duplicate_provenance_within_one_fact_and_delta():
    store = MemoryStore()
    p = prov("d1")
    result = store.upsert(GraphDelta(facts=[fact("a", "r", "b", p, p), fact("a", "r", "b", p)]))
    assert result == UpsertResult(2, 1, 1, 0)
    assert store.get_fact(fact("a", "r", "b").id).provenance == (p,)


def test_provenance_identity_ignores_sentence_but_not_span():
    store = MemoryStore()
    store.upsert(GraphDelta(facts=[fact("a", "r", "b", prov("d", 0, 0, 5, sentence="x"))]))
    same_key = store.upsert(GraphDelta(facts=[fact("a", "r", "b", prov("d", 0, 0, 5, sentence="y"))]))
    other_span = store.upsert(GraphDelta(facts=[fact("a", "r", "b", prov("d", 0, 6, 9))]))
    other_extractor = store.upsert(GraphDelta(facts=[fact("a", "r", "b", prov("d", 0, 0, 5, extractor="llm"))]))
    assert (same_key.provenance_added, other_span.provenance_added, other_extractor.provenance_added) == (0, 1, 1)


def test_upsert_keeps_highest_confidence():
    store = MemoryStore()
    store.upsert(GraphDelta(facts=[fact("a", "r", "b", prov("d1"), confidence=0.4)]))
    store.upsert(GraphDelta(facts=[fact("a", "r", "b", prov("d2"), confidence=0.9)]))
    store.upsert(GraphDelta(facts=[fact("a", "r", "b", prov("d3"), confidence=0.2)]))
    assert store.get_fact(fact("a", "r", "b").id).confidence == 0.9


def test_facts_create_placeholder_entities():
    store = MemoryStore()
    store.upsert(GraphDelta(facts=[fact("x", "r", "y", prov("d"))]))
    assert store.get_entity("x") == Entity("x", "x")
    assert store.get_entity("nope") is None


def test_same_relation_reversed_is_a_different_fact():
    store = MemoryStore()
    r = store.upsert(GraphDelta(facts=[fact("a", "near", "b", prov("d")), fact("b", "near", "a", prov("d"))]))
    assert r.facts_added == 2 and store.stats()["facts"] == 2


def test_entity_alias_merging_on_re_add():
    store = MemoryStore()
    assert store.upsert(GraphDelta(entities=[Entity("marie curie", "Marie Curie", "", ("Curie",))])).entities_added == 1
    r = store.upsert(GraphDelta(entities=[Entity("marie curie", "MARIE CURIE", "PERSON", ("Curie", "Mme Curie", "Mme Curie"))]))
    assert r.entities_added == 0
    e = store.get_entity("marie curie")
    assert e.name == "Marie Curie"  # first name stays preferred
    assert e.aliases == ("Curie", "MARIE CURIE", "Mme Curie")  # new forms appended once
    assert e.type == "PERSON"  # empty type filled in
    # A later, different type does not overwrite the first one.
    store.upsert(GraphDelta(entities=[Entity("marie curie", "Marie Curie", "ORG")]))
    assert store.get_entity("marie curie").type == "PERSON"
    assert store.get_entity("marie curie").aliases == ("Curie", "MARIE CURIE", "Mme Curie")


def test_new_entity_aliases_deduplicated():
    store = MemoryStore()
    store.upsert(GraphDelta(entities=[Entity("oslo", "Oslo", "", ("Christiania", "Christiania", "Oslo"))]))
    assert store.get_entity("oslo").aliases == ("Christiania",)


# ------------------------------------------------------------ find_entities
def test_find_entities_by_name_alias_and_words(curie):
    assert [e.id for e in curie.find_entities("Marie Curie")][0] == "marie curie"
    assert [e.id for e in curie.find_entities("  marie   CURIE ")][0] == "marie curie"
    assert curie.find_entities("Maria Sklodowska")[0].id == "marie curie"  # alias, exact
    assert [e.id for e in curie.find_entities("Curie")] == ["marie curie", "pierre curie"]  # by words
    assert curie.find_entities("Pierre")[0].id == "pierre curie"
    assert curie.find_entities("Sklodowska")[0].id == "marie curie"  # word of an alias
    assert curie.find_entities("Atlantis") == []
    assert curie.find_entities("") == [] and curie.find_entities("...") == []


def test_find_entities_exact_match_first_and_limit(curie):
    curie.upsert(GraphDelta(entities=[Entity("curie", "Curie")]))
    assert [e.id for e in curie.find_entities("Curie")] == ["curie", "marie curie", "pierre curie"]
    assert [e.id for e in curie.find_entities("Curie", limit=2)] == ["curie", "marie curie"]
    assert [e.id for e in curie.find_entities("Curie", limit=1)] == ["curie"]


def test_find_entities_better_word_overlap_first():
    store = MemoryStore()
    store.upsert(GraphDelta(entities=[Entity("harrow vale junction", "Harrow Vale Junction"), Entity("vale", "Vale")]))
    assert [e.id for e in store.find_entities("Vale crossing")] == ["vale", "harrow vale junction"]


# ---------------------------------------------------------------- neighbors
def test_neighbors_directions(curie):
    assert lines(curie.neighbors("warsaw", "out")) == ["warsaw --capital_of--> poland"]
    assert lines(curie.neighbors("warsaw", "in")) == ["marie curie --born_in--> warsaw"]
    assert lines(curie.neighbors("warsaw")) == ["marie curie --born_in--> warsaw", "warsaw --capital_of--> poland"]
    assert curie.neighbors("poland", "out") == []
    assert curie.neighbors("atlantis") == []
    with pytest.raises(InputError):
        curie.neighbors("warsaw", "sideways")


def test_neighbors_self_loop_counted_once():
    store = MemoryStore()
    store.upsert(GraphDelta(facts=[fact("narcissus", "loves", "narcissus", prov("d")), fact("echo", "loves", "narcissus", prov("d"))]))
    assert lines(store.neighbors("narcissus", "both")) == ["echo --loves--> narcissus", "narcissus --loves--> narcissus"]
    assert lines(store.neighbors("narcissus", "out")) == ["narcissus --loves--> narcissus"]
    assert lines(store.neighbors("narcissus", "in")) == ["echo --loves--> narcissus", "narcissus --loves--> narcissus"]


def test_neighbors_return_provenance(curie):
    (f,) = curie.neighbors("poland", "in")
    assert f.provenance == (prov("geo", 0),)


# ---------------------------------------------------------------- subgraph
def test_subgraph_k_hops(curie):
    zero = curie.subgraph(["warsaw"], hops=0)
    assert zero.seeds == ["warsaw"] and zero.facts == [] and set(zero.entities) == {"warsaw"}
    one = curie.subgraph(["warsaw"], hops=1)
    assert lines(one.facts) == ["marie curie --born_in--> warsaw", "warsaw --capital_of--> poland"]
    assert set(one.entities) == {"warsaw", "marie curie", "poland"}
    two = curie.subgraph(["warsaw"], hops=2)
    assert lines(two.facts) == [
        "marie curie --born_in--> warsaw",
        "marie curie --citizen_of--> france",
        "marie curie --married_to--> pierre curie",
        "warsaw --capital_of--> poland",
    ]
    three = curie.subgraph(["warsaw"], hops=3)
    assert lines(three.facts) == lines(curie.facts())
    assert three.entities == {e.id: e for e in curie.entities()}


def test_subgraph_limit_and_seeds(curie):
    sub = curie.subgraph(["warsaw"], hops=3, limit=2)
    assert lines(sub.facts) == ["marie curie --born_in--> warsaw", "warsaw --capital_of--> poland"]
    assert sub.fact_ids() == {f.id for f in sub.facts}
    both = curie.subgraph(["poland", "paris", "poland", "atlantis"], hops=1)
    assert both.seeds == ["poland", "paris"]
    assert lines(both.facts) == [
        "paris --capital_of--> france",
        "pierre curie --born_in--> paris",
        "warsaw --capital_of--> poland",
    ]
    assert curie.subgraph(["atlantis"]).facts == []


# ------------------------------------------------------------------- paths
def test_paths_two_and_three_hops_both_directions(curie):
    (p,) = curie.paths("warsaw", "france", max_hops=2)
    assert p.entities == ("warsaw", "marie curie", "france")
    assert p.relations == ("born_in", "citizen_of")
    assert p.forward == (False, True)  # born_in walked against its direction
    assert p.end == "france"
    three = curie.paths("warsaw", "france", max_hops=3)
    assert [q.entities for q in three] == [("warsaw", "marie curie", "france")]  # 3-hop route needs 4
    four = curie.paths("warsaw", "france", max_hops=4)
    assert [len(q.facts) for q in four] == [2, 4]
    assert four[1].entities == ("warsaw", "marie curie", "pierre curie", "paris", "france")
    assert four[1].forward == (False, True, True, True)


def test_paths_three_hops_shortest_first_and_simple():
    store = MemoryStore()
    store.upsert(GraphDelta(facts=[
        fact("a", "r1", "b", prov("d")),
        fact("b", "r2", "c", prov("d")),
        fact("c", "r3", "d", prov("d")),
        fact("d", "r4", "a", prov("d")),  # a square: a-b-c-d-a
        fact("b", "r5", "b", prov("d")),  # self-loop must not make a path non-simple
    ]))
    assert [p.entities for p in store.paths("a", "c", max_hops=3)] == [("a", "b", "c"), ("a", "d", "c")]
    ps = store.paths("a", "d", max_hops=3)
    assert [len(p.facts) for p in ps] == [1, 3]
    assert ps[0].forward == (False,) and ps[1].entities == ("a", "b", "c", "d")
    for p in store.paths("a", "c", max_hops=5):
        assert len(set(p.entities)) == len(p.entities)  # simple
        assert len(p.entities) == len(p.facts) + 1
    assert [p.entities for p in store.paths("b", "d", max_hops=5)] == [("b", "c", "d"), ("b", "a", "d")]
    assert [p.entities for p in store.paths("a", "c", max_hops=3, limit=1)] == [("a", "b", "c")]
    assert store.paths("a", "c", max_hops=1) == []
    assert store.paths("a", "zzz") == [] and store.paths("zzz", "a") == []


def test_paths_parallel_edges_are_distinct_paths():
    store = MemoryStore()
    store.upsert(GraphDelta(facts=[fact("a", "likes", "b", prov("d")), fact("a", "knows", "b", prov("d"))]))
    assert sorted(p.relations for p in store.paths("a", "b")) == [("knows",), ("likes",)]


# ---------------------------------------------------------------- retract
def test_retract_document(curie):
    curie.upsert(GraphDelta(facts=[fact("warsaw", "capital_of", "poland", prov("bio", 9))]))
    removed = curie.retract_document("bio")
    assert removed == 4  # born_in, citizen_of, married_to, pierre born_in
    assert lines(curie.facts()) == ["paris --capital_of--> france", "warsaw --capital_of--> poland"]
    kept = curie.get_fact(fact("warsaw", "capital_of", "poland").id)
    assert kept.provenance == (prov("geo", 0),)  # only its other provenance
    # Orphans (entities whose facts all went) are removed, the rest stay.
    assert curie.get_entity("marie curie") is None and curie.get_entity("pierre curie") is None
    assert curie.get_entity("warsaw") == Entity("warsaw", "Warsaw", "GPE")
    assert curie.get_entity("paris") == Entity("paris", "Paris", "GPE")
    assert curie.find_entities("Maria Sklodowska") == []  # alias index cleaned too
    assert curie.stats()["documents"] == 1
    for gone in ("bio", "never-seen"):  # retracted already, never ingested: an error, not a silent 0
        with pytest.raises(NotFoundError, match=repr(gone)):
            curie.retract_document(gone)


def test_retract_keeps_entities_without_facts():
    store = MemoryStore()
    store.upsert(GraphDelta(entities=[Entity("lonely", "Lonely")], facts=[fact("a", "r", "b", prov("d"))]))
    assert store.retract_document("d") == 1
    assert [e.id for e in store.entities()] == ["lonely"]


# ------------------------------------------------------------------ merges
@pytest.fixture
def two_curies() -> MemoryStore:
    store = MemoryStore()
    store.upsert(GraphDelta(
        entities=[
            Entity("marie curie", "Marie Curie", "", ("Curie",)),
            Entity("m. curie", "M. Curie", "PERSON", ("Curie", "Madame Curie")),
            Entity("warsaw", "Warsaw", "GPE"),
        ],
        facts=[
            fact("marie curie", "born_in", "warsaw", prov("d1"), confidence=0.9),
            # same triple once rewritten; one provenance key shared with the canonical's fact
            fact("m. curie", "born_in", "warsaw", prov("d2"), prov("d1"), confidence=0.5),
            fact("m. curie", "won", "nobel prize", prov("d2", 1)),
            fact("warsaw", "home_of", "m. curie", prov("d3")),
            fact("m. curie", "admired", "m. curie", prov("d4")),
        ],
    ))
    return store


def test_merge_rewrites_alias_facts_onto_canonical(two_curies):
    r = two_curies.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias", 0.9, "d2")]))
    assert r.merges_applied == 1
    assert two_curies.get_entity("m. curie").id == "marie curie"  # resolved through the merge
    assert "m. curie" not in {e.id for e in two_curies.entities()}
    assert lines(two_curies.facts()) == [
        "marie curie --admired--> marie curie",
        "marie curie --born_in--> warsaw",
        "marie curie --won--> nobel prize",
        "warsaw --home_of--> marie curie",
    ]
    born = two_curies.get_fact(fact("marie curie", "born_in", "warsaw").id)
    assert [p.doc_id for p in born.provenance] == ["d1", "d2"]
    e = two_curies.get_entity("marie curie")
    assert e.aliases == ("Curie", "M. Curie", "Madame Curie") and e.type == "PERSON"
    assert two_curies.find_entities("Madame Curie")[0].id == "marie curie"
    assert two_curies.merges() == [Merge("m. curie", "marie curie", "alias", 0.9, "d2")]
    assert two_curies.stats()["merges"] == 1
    # re-applying is a no-op
    assert two_curies.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias")])).merges_applied == 0


def test_facts_after_merge_mentioning_alias_are_redirected(two_curies):
    two_curies.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias")]))
    r = two_curies.upsert(GraphDelta(
        entities=[Entity("m. curie", "M. Curie", "", ("Mme C.",))],
        facts=[fact("m. curie", "died_in", "sallanches", prov("d5"))],
    ))
    assert r.entities_added == 1  # only sallanches
    assert "marie curie --died_in--> sallanches" in lines(two_curies.neighbors("marie curie", "out"))
    assert two_curies.get_entity("m. curie") == two_curies.get_entity("marie curie")
    assert "Mme C." in two_curies.get_entity("marie curie").aliases
    assert two_curies.neighbors("m. curie") == two_curies.neighbors("marie curie")


def test_merge_chain_resolves_to_final_canonical():
    store = MemoryStore()
    store.upsert(GraphDelta(facts=[fact("a", "r", "x", prov("d")), fact("b", "r", "y", prov("d")), fact("c", "r", "z", prov("d"))]))
    store.upsert(GraphDelta(merges=[Merge("a", "b", "alias"), Merge("b", "c", "alias")]))
    assert lines(store.facts()) == ["c --r--> x", "c --r--> y", "c --r--> z"]
    assert store.get_entity("a").id == "c"
    store.upsert(GraphDelta(facts=[fact("a", "s", "w", prov("e"))]))
    assert "c --s--> w" in lines(store.facts())


def test_unmerge_restores_original_node_and_facts_exactly(two_curies):
    before = canonical_state(two_curies)
    two_curies.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias")]))
    assert canonical_state(two_curies) != before
    assert two_curies.unmerge("m. curie") is True
    assert canonical_state(two_curies) == before
    assert two_curies.merges() == []
    assert two_curies.unmerge("m. curie") is False
    assert two_curies.unmerge("never merged") is False
    assert two_curies.find_entities("Madame Curie")[0].id == "m. curie"
    assert [e.id for e in two_curies.find_entities("Curie")] == ["m. curie", "marie curie"]


def test_unmerge_keeps_facts_added_after_merge(two_curies):
    two_curies.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias")]))
    two_curies.upsert(GraphDelta(facts=[fact("marie curie", "won", "nobel prize", prov("d9"))]))
    two_curies.unmerge("m. curie")
    won = two_curies.get_fact(fact("marie curie", "won", "nobel prize").id)
    assert [p.doc_id for p in won.provenance] == ["d9"]
    assert two_curies.get_fact(fact("m. curie", "won", "nobel prize").id).provenance == (prov("d2", 1),)


def test_unmerge_after_retract(two_curies):
    two_curies.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias")]))
    two_curies.retract_document("d2")
    two_curies.unmerge("m. curie")
    assert lines(two_curies.neighbors("m. curie")) == [
        "m. curie --admired--> m. curie",
        "m. curie --born_in--> warsaw",
        "warsaw --home_of--> m. curie",
    ]
    assert two_curies.get_fact(fact("m. curie", "born_in", "warsaw").id).provenance == (prov("d1"),)
    assert two_curies.get_fact(fact("m. curie", "won", "nobel prize").id) is None


def test_merge_of_unknown_alias_is_ignored(two_curies):
    before = canonical_state(two_curies)
    assert two_curies.upsert(GraphDelta(merges=[Merge("ghost", "marie curie", "alias")])).merges_applied == 0
    assert canonical_state(two_curies) == before and two_curies.merges() == []


# ------------------------------------------------------------ invalid input
@pytest.mark.parametrize("bad", [
    GraphDelta(facts=[Fact("a", "", "b")]),
    GraphDelta(facts=[Fact("", "r", "b")]),
    GraphDelta(facts=[Fact("a", "r", "b", confidence=1.5)]),
    GraphDelta(facts=[Fact("a", "r", "b", confidence=-0.1)]),
    GraphDelta(facts=[Fact("a", "r", "b", confidence=float("nan"))]),
    GraphDelta(facts=[Fact("a", "r", "b", confidence="high")]),  # type: ignore[arg-type]
    GraphDelta(facts=[Fact("a", "r", "b", provenance=("doc1",))]),  # type: ignore[arg-type]
    GraphDelta(entities=[Entity("", "Nameless")]),
    GraphDelta(entities=[Entity("x", "")]),
    GraphDelta(merges=[Merge("warsaw", "warsaw", "alias")]),
    GraphDelta(merges=[Merge("", "warsaw", "alias")]),
    GraphDelta(merges=[Merge("warsaw", "atlantis", "alias")]),  # target does not exist
], ids=["empty-relation", "empty-subject", "confidence>1", "confidence<0", "nan", "str-confidence",
        "str-provenance", "empty-id", "empty-name", "self-merge", "empty-merge", "missing-target"])
def test_invalid_delta_raises_and_changes_nothing(curie, bad):
    # Every bad delta also carries valid items before the bad one: none may land.
    delta = GraphDelta(
        entities=[Entity("new one", "New One"), *bad.entities],
        facts=[fact("new one", "visits", "warsaw", prov("z")), fact("marie curie", "born_in", "warsaw", prov("z")), *bad.facts],
        merges=[Merge("poland", "warsaw", "alias"), *bad.merges] if bad.merges else [],
    )
    before = curie.to_dict()
    with pytest.raises(InputError):
        curie.upsert(delta)
    assert curie.to_dict() == before


def test_merge_target_created_in_same_delta_is_valid(curie):
    r = curie.upsert(GraphDelta(entities=[Entity("warszawa", "Warszawa")], merges=[Merge("warsaw", "warszawa", "alias")]))
    assert r.merges_applied == 1
    assert lines(curie.neighbors("warszawa")) == ["marie curie --born_in--> warszawa", "warszawa --capital_of--> poland"]


# ------------------------------------------------------------------- stats
def test_stats(curie):
    assert curie.stats() == {"entities": 6, "facts": 6, "relations": 4, "documents": 2, "provenances": 6, "merges": 0}
    assert MemoryStore().stats() == {"entities": 0, "facts": 0, "relations": 0, "documents": 0, "provenances": 0, "merges": 0}


# ------------------------------------------------------------- persistence
@pytest.mark.parametrize("name", ["graph.json", "graph.json.gz"])
def test_save_load_roundtrip(tmp_path, two_curies, name):
    two_curies.upsert(GraphDelta(
        entities=[Entity("zürich", "Zürich", "GPE", ("Zurich",))],
        facts=[fact("m. curie", "visited", "zürich", prov("d7", 3, 4, 20, "llm", 'She said "ja" — 😀'))],
        merges=[Merge("m. curie", "marie curie", "fuzzy", 0.87, "d7")],
    ))
    path = tmp_path / "sub" / name
    two_curies.save(path)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")
    loaded = MemoryStore.load(path)
    assert loaded.to_dict() == two_curies.to_dict()
    assert loaded.merges() == [Merge("m. curie", "marie curie", "fuzzy", 0.87, "d7")]
    assert loaded.get_entity("zürich").aliases == ("Zurich",)
    assert loaded.find_entities("Zurich")[0].id == "zürich"
    assert loaded.find_entities("Madame Curie")[0].id == "marie curie"
    visited = loaded.get_fact(fact("marie curie", "visited", "zürich").id)
    assert visited.provenance == (prov("d7", 3, 4, 20, "llm", 'She said "ja" — 😀'),)
    assert loaded.stats() == two_curies.stats()
    # unmerge works after load, identically to the original store
    assert loaded.unmerge("m. curie") and two_curies.unmerge("m. curie")
    assert canonical_state(loaded) == canonical_state(two_curies)
    visited = fact("m. curie", "visited", "zürich")
    assert loaded.get_fact(visited.id) == two_curies.get_fact(visited.id) == visited.with_provenance(
        [prov("d7", 3, 4, 20, "llm", 'She said "ja" — 😀')])


def test_save_is_deterministic_and_overwrites(tmp_path, curie):
    path = tmp_path / "g.json.gz"
    curie.save(path)
    first = path.read_bytes()
    curie.save(path)
    assert path.read_bytes() == first  # gzip mtime pinned
    curie.upsert(GraphDelta(facts=[fact("x", "r", "y", prov("d"))]))
    curie.save(path)
    assert MemoryStore.load(path).stats()["facts"] == 7


def test_atomic_save_failure_leaves_old_file(tmp_path, curie, monkeypatch):
    path = tmp_path / "graph.json"
    curie.save(path)
    old = path.read_bytes()
    curie.upsert(GraphDelta(facts=[fact("x", "r", "y", prov("d"))]))

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        curie.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.json"]  # no temp file left
    assert MemoryStore.load(path).stats()["facts"] == 6


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_file_mode_follows_umask(tmp_path, curie, umask, mode):
    old = os.umask(umask)
    try:
        curie.save(tmp_path / "g.json.gz")
    finally:
        os.umask(old)
    assert (tmp_path / "g.json.gz").stat().st_mode & 0o777 == mode


def test_save_over_existing_file_keeps_its_mode(tmp_path, curie):
    path = tmp_path / "g.json"
    curie.save(path)
    path.chmod(0o640)
    curie.save(path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_revision_counts_loads(tmp_path, curie):
    assert MemoryStore().revision() == 0
    MemoryStore().save(tmp_path / "empty.json")
    assert MemoryStore.load(tmp_path / "empty.json").revision() != 0  # a load is a write, even of nothing
    curie.save(tmp_path / "g.json")
    loaded = MemoryStore.load(tmp_path / "g.json")
    revision = loaded.revision()
    assert loaded.stats() == curie.stats() and loaded.revision() == revision


def test_load_missing_file(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(InputError, match="nope.json") as info:
        MemoryStore.load(path)
    assert isinstance(info.value, NotFoundError)


@pytest.mark.parametrize("content, needle", [
    (b"this is not json", "JSON"),
    (b"\xff\xfe\x00garbage", "JSON"),
    (gzip.compress(b"{not json"), "JSON"),
    (gzip.compress(b'{"format": "kgllm-graph"}')[:-6], "JSON"),  # truncated gzip
    (json.dumps({"format": "other-graph", "version": 1}).encode(), "format"),
    (json.dumps([1, 2, 3]).encode(), "format"),
    (json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION + 1, "entities": []}).encode(), "version"),
], ids=["text", "binary", "gzip-text", "truncated-gzip", "wrong-format", "json-list", "wrong-version"])
def test_load_errors_name_the_file(tmp_path, content, needle):
    path = tmp_path / "broken-graph.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        MemoryStore.load(path)
    assert "broken-graph.json" in str(info.value) and needle in str(info.value)


def test_load_directory_is_input_error(tmp_path):
    with pytest.raises(InputError, match=str(tmp_path.name)):
        MemoryStore.load(tmp_path)


def test_load_corrupt_content_is_kgllm_error(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION, "entities": [{"id": "x"}]}))
    with pytest.raises(KgllmError, match="g.json"):
        MemoryStore.load(path)


# ------------------------------------------------------------------ cypher
@pytest.fixture
def cy(curie) -> MemoryStore:
    curie.upsert(GraphDelta(
        entities=[Entity("o'brien", "O'Brien", "PERSON"), Entity('the "best" café', 'The "Best" Café'),
                  Entity("emoji 😀", "Emoji 😀"), Entity("create", "create"), Entity("cost $x", "Cost $x")],
        facts=[fact("o'brien", "born_in", "warsaw", prov("irish"))],
    ))
    return curie


def rows_sorted(rows):
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def test_query_where_on_name(cy):
    rows = cy.query('MATCH (a)-[r]->(b) WHERE a.name == "Marie Curie" RETURN b.name')
    assert sorted(r["b.name"] for r in rows) == ["France", "Pierre Curie", "Warsaw"]
    assert cy.query('MATCH (a)-[r]->(b) WHERE a.name = "Poland" RETURN b.name') == []


def test_query_relationship_type(cy):
    rows = cy.query("MATCH (a)-[r:born_in]->(b) RETURN a.name, b.name")
    assert rows_sorted(rows) == rows_sorted([
        {"a.name": "Marie Curie", "b.name": "Warsaw"},
        {"a.name": "O'Brien", "b.name": "Warsaw"},
        {"a.name": "Pierre Curie", "b.name": "Paris"},
    ])
    rows = cy.query("MATCH (a)-[r:born_in|married_to]->(b) WHERE a.id == \"marie curie\" RETURN b.id")
    assert sorted(r["b.id"] for r in rows) == ["pierre curie", "warsaw"]
    rows = cy.query('MATCH (a)<-[r:capital_of]-(b) WHERE a.name == "France" RETURN b.name, r.relation')
    assert rows == [{"b.name": "Paris", "r.relation": "capital_of"}]


def test_query_two_hop_pattern(cy):
    rows = cy.query("MATCH (a)-[r1:born_in]->(b)-[r2:capital_of]->(c) RETURN a.name, c.name")
    assert rows_sorted(rows) == rows_sorted([
        {"a.name": "Marie Curie", "c.name": "Poland"},
        {"a.name": "O'Brien", "c.name": "Poland"},
        {"a.name": "Pierre Curie", "c.name": "France"},
    ])


def test_query_count_and_aggregates(cy):
    assert cy.query("MATCH (a)-[r]->(b) RETURN COUNT(r)") == [{"COUNT(r)": 7}]
    assert cy.query("MATCH (a)-[r:born_in]->(b) RETURN COUNT(a) AS n") == [{"n": 3}]
    rows = cy.query("MATCH (a)-[r:born_in]->(b) RETURN b.name, COUNT(a)")
    assert rows_sorted(rows) == rows_sorted([{"b.name": "Warsaw", "COUNT(a)": 2}, {"b.name": "Paris", "COUNT(a)": 1}])


def test_query_node_properties_and_whole_nodes_and_edges(cy):
    assert cy.query('MATCH (a) WHERE a.id == "warsaw" RETURN a.type, a.name') == [{"a.type": "GPE", "a.name": "Warsaw"}]
    assert cy.query('MATCH (a) WHERE a.id == "marie curie" RETURN a') == [
        {"a": {"id": "marie curie", "name": "Marie Curie", "type": "PERSON", "aliases": ["Maria Sklodowska"]}}
    ]
    (row,) = cy.query('MATCH (a)-[r]->(b) WHERE a.id == "warsaw" RETURN r')
    assert row["r"] == {"id": fact("warsaw", "capital_of", "poland").id, "relation": "capital_of", "confidence": 1.0}
    rows = cy.query('MATCH (a {name: "Paris"})-[r]->(b) RETURN b.name')
    assert rows == [{"b.name": "France"}]
    rows = cy.query("MATCH (a)-[r]->(b) WHERE r.confidence < 0.9 RETURN a.name, b.name")
    assert rows == [{"a.name": "Marie Curie", "b.name": "France"}]


def test_query_other_supported_clauses(cy):
    rows = cy.query('MATCH (a) WHERE a.type == "GPE" RETURN a.name ORDER BY a.name')
    assert [r["a.name"] for r in rows] == ["France", "Paris", "Poland", "Warsaw"]
    rows = cy.query('MATCH (a) WHERE a.type == "GPE" RETURN a.name ORDER BY a.name DESC LIMIT 2')
    assert [r["a.name"] for r in rows] == ["Warsaw", "Poland"]
    rows = cy.query('MATCH (a) WHERE a.name STARTS WITH "P" AND a.type == "GPE" RETURN a.name')
    assert sorted(r["a.name"] for r in rows) == ["Paris", "Poland"]
    rows = cy.query('MATCH (a) WHERE a.name CONTAINS "Curie" RETURN DISTINCT a.type')
    assert rows == [{"a.type": "PERSON"}]
    rows = cy.query('MATCH (a) WHERE a.id IN ["paris", "poland", "nowhere"] RETURN a.id')
    assert sorted(r["a.id"] for r in rows) == ["paris", "poland"]
    assert cy.query("MATCH (a) RETURN a.id", limit=3) == [{"a.id": "marie curie"}, {"a.id": "pierre curie"},
                                                         {"a.id": "warsaw"}]


def test_query_single_quoted_strings(cy):
    assert cy.query("MATCH (a) WHERE a.name == 'Warsaw' RETURN a.id") == [{"a.id": "warsaw"}]
    assert cy.query("MATCH (a) WHERE a.name == 'O\\'Brien' RETURN a.id") == [{"a.id": "o'brien"}]
    assert cy.query("MATCH (a) WHERE a.name == 'The \"Best\" Café' RETURN a.id") == [{"a.id": 'the "best" café'}]


def test_query_double_quoted_with_escapes(cy):
    assert cy.query('MATCH (a) WHERE a.name == "O\'Brien" RETURN a.id') == [{"a.id": "o'brien"}]
    assert cy.query('MATCH (a) WHERE a.name == "The \\"Best\\" Café" RETURN a.id') == [{"a.id": 'the "best" café'}]


@pytest.mark.parametrize("name, expected", [
    ("O'Brien", "o'brien"),
    ('The "Best" Café', 'the "best" café'),
    ("Emoji 😀", "emoji 😀"),
    ("Cost $x", "cost $x"),
    ('x" RETURN a.id //', None),  # injection attempt stays one string
])
def test_query_param_binding(cy, name, expected):
    rows = cy.query("MATCH (a) WHERE a.name == $name RETURN a.id", {"name": name})
    assert rows == ([{"a.id": expected}] if expected else [])


def test_query_param_numbers_bools_and_errors(cy):
    rows = cy.query("MATCH (a)-[r]->(b) WHERE r.confidence < $c RETURN b.id", {"c": 0.9})
    assert rows == [{"b.id": "france"}]
    with pytest.raises(InputError, match=r"\$missing"):
        cy.query("MATCH (a) WHERE a.name == $missing RETURN a.id", {})
    with pytest.raises(InputError, match="string, number or bool"):
        cy.query("MATCH (a) WHERE a.name == $n RETURN a.id", {"n": ["list"]})


def test_query_dollar_inside_string_literal_is_text(cy):
    assert cy.query('MATCH (a) WHERE a.name == "Cost $x" RETURN a.id') == [{"a.id": "cost $x"}]
    rows = cy.query('MATCH (a) WHERE a.name == $n OR a.name == "Cost $x" RETURN a.id', {"n": "Paris"})
    assert rows_sorted(rows) == [{"a.id": "cost $x"}, {"a.id": "paris"}]


@pytest.mark.parametrize("cypher", [
    'CREATE (a {name: "x"})',
    'MATCH (a) WHERE a.name == "Warsaw" SET a.name = "Warszawa"',
    'MERGE (a {name: "x"}) RETURN a',
    "MATCH (a) DELETE a",
    "MATCH (a) DETACH DELETE a",
    "match (a) remove a.name",
    'CALL db.createLabel("Spy")',
    'LOAD CSV FROM "file:///etc/passwd" AS line RETURN line',
])
def test_query_write_clauses_rejected(cy, cypher):
    before = cy.to_dict()
    with pytest.raises(InputError, match="read-only"):
        cy.query(cypher)
    assert cy.to_dict() == before


def test_query_write_word_inside_string_or_property_is_allowed(cy):
    assert cy.query('MATCH (a) WHERE a.name == "create" RETURN a.id') == [{"a.id": "create"}]
    assert cy.query("MATCH (a) WHERE a.name == 'create' RETURN a.id") == [{"a.id": "create"}]
    assert cy.query("MATCH (a) WHERE a.name == $n RETURN a.id", {"n": "DELETE everything"}) == []
    rows = cy.query('MATCH (a) WHERE a.id == "warsaw" RETURN a.set')
    assert rows == [{"a.set": None}]


@pytest.mark.parametrize("cypher", [
    "MATC (a) RETURN a",
    "MATCH (a RETURN a",
    "MATCH (a)-[r]->(b) WHERE RETURN a",
    "",
])
def test_query_syntax_error_is_input_error(cy, cypher):
    with pytest.raises(InputError):
        cy.query(cypher)


def test_query_documented_extras():
    store = MemoryStore()
    store.upsert(GraphDelta(facts=[fact("a", "r", "b", prov("d")), fact("b", "r", "c", prov("d")), fact("c", "q", "d", prov("d"))]))
    assert store.query("MATCH (x) RETURN x.id ORDER BY x.id SKIP 1 LIMIT 2") == [{"x.id": "b"}, {"x.id": "c"}]
    assert sorted(r["x.id"] for r in store.query('MATCH (x) WHERE NOT x.id == "a" RETURN x.id')) == ["b", "c", "d"]
    rows = store.query('MATCH (x)-[*1..2]->(y) WHERE x.id == "a" RETURN y.id')
    assert sorted(r["y.id"] for r in rows) == ["b", "c"]
    rows = store.query('MATCH (x)-[r]->(y) WHERE x.id == "b" RETURN x.id, COLLECT(y.id)')
    assert rows == [{"x.id": "b", "COLLECT(y.id)": ["c"]}]
    assert store.query("MATCH (x:PERSON) RETURN x.id") == []  # labels are not entity types
