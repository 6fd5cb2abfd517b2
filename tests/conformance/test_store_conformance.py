"""One behaviour for every GraphStore: each test runs on the memory store and on a real Neo4j server.

Where the memory store defines an order (find_entities ranking, paths shortest first,
merges oldest first, ORDER BY) results are compared as they are; where its order is
only insertion order (entities(), facts(), neighbors(), rows without ORDER BY) they
are compared sorted.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from kgllm.errors import InputError, NotFoundError
from kgllm.stores.base import GraphStore, UpsertResult
from kgllm.stores.ledger import canonical_dump
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Merge, Provenance


# ------------------------------------------------------------------ stores
@pytest.fixture(params=["memory", "sqlite", "neo4j"])
def store(request, tmp_path):
    """A fresh, empty store of each kind; ``sqlite`` is the memory store durable on a SQLite file."""
    if request.param == "memory":
        return MemoryStore()
    if request.param == "sqlite":
        durable = MemoryStore.open(tmp_path / "g.sqlite", create=True)

        def reopened_equal() -> None:  # after every test: the file holds exactly what the live store holds
            if not (tmp_path / "g.sqlite").exists():  # made by the first write only
                assert durable.stats()["facts"] == durable.stats()["entities"] == 0
                return
            reopened = MemoryStore.open(tmp_path / "g.sqlite")
            assert snapshot(reopened) == snapshot(durable) and canonical_dump(reopened) == canonical_dump(durable)
            assert [m.alias for m in reopened.merges()] == [m.alias for m in durable.merges()]
            reopened.close()
            durable.close()

        request.addfinalizer(reopened_equal)
        return durable
    neo = request.getfixturevalue("neo4j_store")
    if not request.getfixturevalue("neo4j_server").running:
        request.getfixturevalue("neo4j_server").start()
    neo.clear()
    return neo


# ------------------------------------------------------------------ helpers
def prov(doc: str, chunk: int = 0, start: int = 0, end: int = 10, extractor: str = "rules",
         sentence: str = "") -> Provenance:
    return Provenance(doc, chunk, start, end, extractor, sentence or f"sentence of {doc}")


def fact(s: str, r: str, o: str, *provs: Provenance, confidence: float = 1.0) -> Fact:
    return Fact(s, r, o, confidence, tuple(provs))


def lines(facts) -> list[str]:
    return sorted(f.as_line() for f in facts)


def snapshot(store) -> str:
    """Order-independent JSON of a store's to_dict (provenance order kept: it is insertion order on both).

    The order of a merge's undo records follows the alias's adjacency order, unspecified on Neo4j: sorted too.
    """
    d = store.to_dict()
    return json.dumps({
        "format": d["format"], "version": d["version"],
        "entities": sorted(d["entities"], key=lambda e: e["id"]),
        "facts": sorted(d["facts"], key=lambda f: (f["s"], f["r"], f["o"])),
        "merges": [{**m, "facts": sorted(m["facts"], key=lambda f: (f["s"], f["r"], f["o"])),
                    "changes": m["changes"] and {**m["changes"], "facts": sorted(
                        m["changes"]["facts"], key=lambda f: (f["s"], f["r"], f["o"]))}} for m in d["merges"]],
    }, sort_keys=True, ensure_ascii=False)


def rows_sorted(rows):
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def same_on_memory(store, build, read):
    """``read(store)`` after ``build(store)`` equals the same on a fresh memory store."""
    reference = MemoryStore()
    build(reference)
    build(store)
    return read(store), read(reference)


CURIE = GraphDelta(
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
)

TWO_CURIES = GraphDelta(
    entities=[
        Entity("marie curie", "Marie Curie", "", ("Curie",)),
        Entity("m. curie", "M. Curie", "PERSON", ("Curie", "Madame Curie")),
        Entity("warsaw", "Warsaw", "GPE"),
    ],
    facts=[
        fact("marie curie", "born_in", "warsaw", prov("d1"), confidence=0.9),
        fact("m. curie", "born_in", "warsaw", prov("d2"), prov("d1"), confidence=0.5),
        fact("m. curie", "won", "nobel prize", prov("d2", 1)),
        fact("warsaw", "home_of", "m. curie", prov("d3")),
        fact("m. curie", "admired", "m. curie", prov("d4")),
    ],
)

EXTRA = GraphDelta(
    entities=[Entity("o'brien", "O'Brien", "PERSON"), Entity('the "best" café', 'The "Best" Café'),
              Entity("emoji 😀", "Emoji 😀"), Entity("create", "create"), Entity("cost $x", "Cost $x")],
    facts=[fact("o'brien", "born_in", "warsaw", prov("irish")),
           fact("x", "likes", "y", prov("par")), fact("x", "knows", "y", prov("par"), confidence=0.7)],  # parallel
)


def load(store, *deltas: GraphDelta):
    for d in deltas:
        store.upsert(d)
    return store


@pytest.fixture
def curie(store):
    return load(store, CURIE)


@pytest.fixture
def two_curies(store):
    return load(store, TWO_CURIES)


# ----------------------------------------------------------------- protocol
def test_is_a_graph_store(store):
    assert isinstance(store, GraphStore)
    assert store.stats() == {"entities": 0, "facts": 0, "relations": 0, "documents": 0, "provenances": 0,
                             "merges": 0}


# ------------------------------------------------------------------- upsert
def test_upsert_idempotent(store):
    f = fact("a", "r", "b", prov("d1"))
    assert store.upsert(GraphDelta(facts=[f])) == UpsertResult(2, 1, 1, 0)
    assert store.upsert(GraphDelta(facts=[f])) == UpsertResult()
    stored = store.get_fact(f.id)
    assert stored == f
    assert store.stats()["facts"] == 1 and store.stats()["provenances"] == 1


def test_upsert_provenance_merging(store):
    p1, p2 = prov("d1"), prov("d2", sentence="other words")
    store.upsert(GraphDelta(facts=[fact("a", "r", "b", p1)]))
    assert store.upsert(GraphDelta(facts=[fact("a", "r", "b", p2)])) == UpsertResult(0, 0, 1, 0)
    assert store.get_fact(fact("a", "r", "b").id).provenance == (p1, p2)
    assert store.stats() == {"entities": 2, "facts": 1, "relations": 1, "documents": 2, "provenances": 2, "merges": 0}
    # same key (sentence ignored) stored once; other span / extractor kept
    same = store.upsert(GraphDelta(facts=[fact("a", "r", "b", prov("d1", sentence="y"))]))
    span = store.upsert(GraphDelta(facts=[fact("a", "r", "b", prov("d1", 0, 6, 9))]))
    extractor = store.upsert(GraphDelta(facts=[fact("a", "r", "b", prov("d1", extractor="llm"))]))
    assert (same.provenance_added, span.provenance_added, extractor.provenance_added) == (0, 1, 1)


def test_upsert_duplicates_within_one_delta(store):
    p = prov("d1")
    r = store.upsert(GraphDelta(facts=[fact("a", "r", "b", p, p), fact("a", "r", "b", p),
                                       fact("a", "r", "b", prov("d2"), confidence=0.5)]))
    assert r == UpsertResult(2, 1, 2, 0)
    got = store.get_fact(fact("a", "r", "b").id)
    assert [q.doc_id for q in got.provenance] == ["d1", "d2"] and got.confidence == 1.0


def test_upsert_confidence_max_and_placeholders(store):
    for c, d in ((0.4, "d1"), (0.9, "d2"), (0.2, "d3")):
        store.upsert(GraphDelta(facts=[fact("a", "r", "b", prov(d), confidence=c)]))
    assert store.get_fact(fact("a", "r", "b").id).confidence == 0.9
    assert store.get_entity("a") == Entity("a", "a")
    assert store.get_entity("nope") is None and store.get_fact("f000") is None
    r = store.upsert(GraphDelta(facts=[fact("a", "near", "b", prov("d")), fact("b", "near", "a", prov("d"))]))
    assert r.facts_added == 2


def test_fact_without_provenance_and_odd_relation_names(store):
    odd = ["has `backtick`", "with space", "ünïcode", "a:b", "x-y"]
    store.upsert(GraphDelta(facts=[Fact("a", rel, "b") for rel in odd]))
    assert sorted(f.relation for f in store.facts()) == sorted(odd)
    assert store.get_fact(Fact("a", "has `backtick`", "b").id).provenance == ()
    with pytest.raises(NotFoundError):
        store.retract_document("anything")
    assert store.stats()["facts"] == 5


def test_entity_alias_merging_on_re_add(store):
    assert store.upsert(GraphDelta(entities=[Entity("marie curie", "Marie Curie", "", ("Curie",))])).entities_added == 1
    r = store.upsert(GraphDelta(entities=[Entity("marie curie", "MARIE CURIE", "PERSON",
                                                 ("Curie", "Mme Curie", "Mme Curie"))]))
    assert r.entities_added == 0
    assert store.get_entity("marie curie") == Entity("marie curie", "Marie Curie", "PERSON",
                                                     ("Curie", "MARIE CURIE", "Mme Curie"))
    store.upsert(GraphDelta(entities=[Entity("marie curie", "Marie Curie", "ORG")]))
    assert store.get_entity("marie curie").type == "PERSON"
    store.upsert(GraphDelta(entities=[Entity("oslo", "Oslo", "", ("Christiania", "Christiania", "Oslo"))]))
    assert store.get_entity("oslo").aliases == ("Christiania",)


@pytest.mark.parametrize("bad", [
    GraphDelta(facts=[Fact("a", "", "b")]),
    GraphDelta(facts=[Fact("a", "r", "b", confidence=1.5)]),
    GraphDelta(facts=[Fact("a", "r", "b", confidence=float("nan"))]),
    GraphDelta(facts=[Fact("a", "r", "b", provenance=("doc1",))]),  # type: ignore[arg-type]
    GraphDelta(entities=[Entity("x", "")]),
    GraphDelta(merges=[Merge("warsaw", "warsaw", "alias")]),
    GraphDelta(merges=[Merge("warsaw", "atlantis", "alias")]),
], ids=["empty-relation", "confidence>1", "nan", "str-provenance", "empty-name", "self-merge", "missing-target"])
def test_invalid_delta_changes_nothing(curie, bad):
    delta = GraphDelta(
        entities=[Entity("new one", "New One"), *bad.entities],
        facts=[fact("new one", "visits", "warsaw", prov("z")), *bad.facts],
        merges=[Merge("poland", "warsaw", "alias"), *bad.merges] if bad.merges else [],
    )
    before = snapshot(curie)
    with pytest.raises(InputError):
        curie.upsert(delta)
    assert snapshot(curie) == before


def test_merge_target_created_in_same_delta(curie):
    r = curie.upsert(GraphDelta(entities=[Entity("warszawa", "Warszawa")], merges=[Merge("warsaw", "warszawa", "alias")]))
    assert r.merges_applied == 1
    assert lines(curie.neighbors("warszawa")) == ["marie curie --born_in--> warszawa", "warszawa --capital_of--> poland"]


# ------------------------------------------------------------ find_entities
def test_find_entities(curie):
    assert curie.find_entities("  marie   CURIE ")[0].id == "marie curie"
    assert curie.find_entities("Maria Sklodowska")[0].id == "marie curie"
    assert {e.id for e in curie.find_entities("Curie")} == {"marie curie", "pierre curie"}
    assert [e.id for e in curie.find_entities("Curie")] == ["marie curie", "pierre curie"]
    assert curie.find_entities("Sklodowska")[0].id == "marie curie"
    assert curie.find_entities("Atlantis") == [] and curie.find_entities("") == [] and curie.find_entities("...") == []
    curie.upsert(GraphDelta(entities=[Entity("curie", "Curie"), Entity("harrow vale junction", "Harrow Vale Junction"),
                                      Entity("vale", "Vale"), Entity("at&t", "AT&T", "ORG", ("A & T",))]))
    assert [e.id for e in curie.find_entities("Curie")] == ["curie", "marie curie", "pierre curie"]
    assert [e.id for e in curie.find_entities("Curie", limit=1)] == ["curie"]
    assert [e.id for e in curie.find_entities("Vale crossing")] == ["vale", "harrow vale junction"]
    assert [e.id for e in curie.find_entities("a & t")] == ["at&t"]
    assert [e.id for e in curie.find_entities("&")] == ["at&t"]
    assert curie.find_entities("Warsaw")[0] == Entity("warsaw", "Warsaw", "GPE")


def test_find_entities_same_as_memory(store):
    names = ["Ada Lindqvist", "Ada", "Lindqvist Labs", "Anders Lindqvist", "Fjordcell AB", "Fjord", "Cell Biology",
             "Ada Lovelace", "Lovelace Prize", "the Ada Project"]
    delta = GraphDelta(entities=[Entity.from_name(n, "", [n.upper()] if i % 3 == 0 else []) for i, n in enumerate(names)])
    got, want = same_on_memory(store, lambda s: s.upsert(delta),
                               lambda s: [[e.id for e in s.find_entities(q, limit=k)]
                                          for q in ("Ada", "ada lindqvist", "Lindqvist", "ADA LOVELACE", "fjord cell",
                                                    "the", "Prize money", "nothing here") for k in (1, 3, 10)])
    assert got == want


# ---------------------------------------------------------------- neighbors
def test_neighbors(curie):
    assert lines(curie.neighbors("warsaw", "out")) == ["warsaw --capital_of--> poland"]
    assert lines(curie.neighbors("warsaw", "in")) == ["marie curie --born_in--> warsaw"]
    assert lines(curie.neighbors("warsaw")) == ["marie curie --born_in--> warsaw", "warsaw --capital_of--> poland"]
    assert curie.neighbors("poland", "out") == [] and curie.neighbors("atlantis") == []
    (f,) = curie.neighbors("poland", "in")
    assert f.provenance == (prov("geo", 0),)
    with pytest.raises(InputError):
        curie.neighbors("warsaw", "sideways")


def test_neighbors_self_loop_once(store):
    store.upsert(GraphDelta(facts=[fact("narcissus", "loves", "narcissus", prov("d")),
                                   fact("echo", "loves", "narcissus", prov("d"))]))
    assert lines(store.neighbors("narcissus")) == ["echo --loves--> narcissus", "narcissus --loves--> narcissus"]
    assert lines(store.neighbors("narcissus", "out")) == ["narcissus --loves--> narcissus"]
    assert lines(store.neighbors("narcissus", "in")) == ["echo --loves--> narcissus",
                                                         "narcissus --loves--> narcissus"]


# ----------------------------------------------------------------- subgraph
def test_subgraph(curie):
    zero = curie.subgraph(["warsaw"], hops=0)
    assert zero.seeds == ["warsaw"] and zero.facts == [] and set(zero.entities) == {"warsaw"}
    one = curie.subgraph(["warsaw"], hops=1)
    assert lines(one.facts) == ["marie curie --born_in--> warsaw", "warsaw --capital_of--> poland"]
    assert set(one.entities) == {"warsaw", "marie curie", "poland"}
    assert one.entities["marie curie"] == Entity("marie curie", "Marie Curie", "PERSON", ("Maria Sklodowska",))
    two = curie.subgraph(["warsaw"], hops=2)
    assert lines(two.facts) == ["marie curie --born_in--> warsaw", "marie curie --citizen_of--> france",
                                "marie curie --married_to--> pierre curie", "warsaw --capital_of--> poland"]
    three = curie.subgraph(["warsaw"], hops=3)
    assert lines(three.facts) == lines(curie.facts())
    assert sorted(three.entities) == ["france", "marie curie", "paris", "pierre curie", "poland", "warsaw"]
    sub = curie.subgraph(["warsaw"], hops=3, limit=2)
    assert lines(sub.facts) == ["marie curie --born_in--> warsaw", "warsaw --capital_of--> poland"]
    both = curie.subgraph(["poland", "paris", "poland", "atlantis"], hops=1)
    assert both.seeds == ["poland", "paris"]
    assert lines(both.facts) == ["paris --capital_of--> france", "pierre curie --born_in--> paris",
                                 "warsaw --capital_of--> poland"]
    assert curie.subgraph(["atlantis"]).facts == []


def test_subgraph_same_as_memory(store):
    delta = GraphDelta(facts=[fact(f"n{i}", f"r{i % 3}", f"n{(i * 7 + 3) % 40}", prov(f"d{i % 5}", i)) for i in range(80)])

    def read(s):
        out = []
        for hops in (1, 2, 3):
            sub = s.subgraph(["n0", "n5"], hops=hops, limit=1000)
            out.append((sub.seeds, lines(sub.facts), sorted(sub.entities), sorted(map(repr, sub.entities.values()))))
        return out

    got, want = same_on_memory(store, lambda s: s.upsert(delta), read)
    assert got == want


# -------------------------------------------------------------------- paths
def test_paths(curie):
    (p,) = curie.paths("warsaw", "france", max_hops=2)
    assert p.entities == ("warsaw", "marie curie", "france")
    assert p.relations == ("born_in", "citizen_of") and p.forward == (False, True)
    assert p.facts[0].provenance == (prov("bio", 0),)
    assert [q.entities for q in curie.paths("warsaw", "france", max_hops=3)] == [("warsaw", "marie curie", "france")]
    four = curie.paths("warsaw", "france", max_hops=4)
    assert [len(q.facts) for q in four] == [2, 4]
    assert four[1].entities == ("warsaw", "marie curie", "pierre curie", "paris", "france")
    assert four[1].forward == (False, True, True, True)


def test_paths_square_self_loop_parallel(store):
    store.upsert(GraphDelta(facts=[
        fact("a", "r1", "b", prov("d")), fact("b", "r2", "c", prov("d")), fact("c", "r3", "d", prov("d")),
        fact("d", "r4", "a", prov("d")), fact("b", "r5", "b", prov("d")),
        fact("x", "likes", "y", prov("d")), fact("x", "knows", "y", prov("d")),
    ]))
    assert sorted(p.entities for p in store.paths("a", "c", max_hops=3)) == [("a", "b", "c"), ("a", "d", "c")]
    ps = store.paths("a", "d", max_hops=3)
    assert [len(p.facts) for p in ps] == [1, 3]
    assert ps[0].forward == (False,) and ps[1].entities == ("a", "b", "c", "d")
    for p in store.paths("a", "c", max_hops=5):
        assert len(set(p.entities)) == len(p.entities) == len(p.facts) + 1
    assert [p.entities for p in store.paths("a", "c", max_hops=3, limit=1)] in ([("a", "b", "c")], [("a", "d", "c")])
    assert store.paths("a", "c", max_hops=1) == [] and store.paths("a", "zzz") == [] and store.paths("a", "a") == []
    assert sorted(p.relations for p in store.paths("x", "y")) == [("knows",), ("likes",)]


def test_paths_same_as_memory(store):
    delta = GraphDelta(facts=[fact(f"n{i % 12}", f"r{i % 4}", f"n{(i * 5 + 1) % 12}", prov("d", i)) for i in range(30)])

    def read(s):
        out = []
        for src, dst in (("n0", "n7"), ("n3", "n11"), ("n1", "n2")):
            ps = s.paths(src, dst, max_hops=3, limit=1000)
            out.append(sorted((p.entities, p.relations, p.forward) for p in ps))
            out.append([len(p.facts) for p in ps])  # shortest first
            out.append([len(p.facts) for p in s.paths(src, dst, max_hops=3, limit=4)])
        return out

    got, want = same_on_memory(store, lambda s: s.upsert(delta), read)
    assert got == want


# ------------------------------------------------------------------ retract
def test_retract_document(curie):
    curie.upsert(GraphDelta(facts=[fact("warsaw", "capital_of", "poland", prov("bio", 9))]))
    assert curie.retract_document("bio") == 4
    assert lines(curie.facts()) == ["paris --capital_of--> france", "warsaw --capital_of--> poland"]
    assert curie.get_fact(fact("warsaw", "capital_of", "poland").id).provenance == (prov("geo", 0),)
    assert curie.get_entity("marie curie") is None and curie.get_entity("pierre curie") is None
    assert curie.get_entity("warsaw") == Entity("warsaw", "Warsaw", "GPE")
    assert curie.find_entities("Maria Sklodowska") == []
    assert curie.stats()["documents"] == 1
    for gone in ("bio", "never-seen"):
        with pytest.raises(NotFoundError):
            curie.retract_document(gone)


def test_retract_keeps_entities_without_facts(store):
    store.upsert(GraphDelta(entities=[Entity("lonely", "Lonely")], facts=[fact("a", "r", "b", prov("d"))]))
    assert store.retract_document("d") == 1
    assert [e.id for e in store.entities()] == ["lonely"]


# ------------------------------------------------------------------- merges
def test_merge_rewrites_alias_facts(two_curies):
    r = two_curies.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias", 0.9, "d2")]))
    assert r.merges_applied == 1
    assert two_curies.get_entity("m. curie").id == "marie curie"
    assert "m. curie" not in {e.id for e in two_curies.entities()}
    assert lines(two_curies.facts()) == ["marie curie --admired--> marie curie", "marie curie --born_in--> warsaw",
                                         "marie curie --won--> nobel prize", "warsaw --home_of--> marie curie"]
    born = two_curies.get_fact(fact("marie curie", "born_in", "warsaw").id)
    assert [p.doc_id for p in born.provenance] == ["d1", "d2"] and born.confidence == 0.9
    assert two_curies.get_entity("marie curie") == Entity("marie curie", "Marie Curie", "PERSON",
                                                          ("Curie", "M. Curie", "Madame Curie"))
    assert two_curies.find_entities("Madame Curie")[0].id == "marie curie"
    assert two_curies.merges() == [Merge("m. curie", "marie curie", "alias", 0.9, "d2")]
    assert two_curies.stats()["merges"] == 1
    assert two_curies.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias")])).merges_applied == 0


def test_after_merge_alias_is_redirected(two_curies):
    two_curies.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias")]))
    r = two_curies.upsert(GraphDelta(entities=[Entity("m. curie", "M. Curie", "", ("Mme C.",))],
                                     facts=[fact("m. curie", "died_in", "sallanches", prov("d5"))]))
    assert r.entities_added == 1
    assert "marie curie --died_in--> sallanches" in lines(two_curies.neighbors("marie curie", "out"))
    assert "Mme C." in two_curies.get_entity("marie curie").aliases
    assert lines(two_curies.neighbors("m. curie")) == lines(two_curies.neighbors("marie curie"))
    assert [p.entities for p in two_curies.paths("m. curie", "sallanches")] == [("marie curie", "sallanches")]
    assert two_curies.subgraph(["m. curie"], hops=1).seeds == ["marie curie"]


def test_merge_chain(store):
    store.upsert(GraphDelta(facts=[fact("a", "r", "x", prov("d")), fact("b", "r", "y", prov("d")),
                                   fact("c", "r", "z", prov("d"))]))
    store.upsert(GraphDelta(merges=[Merge("a", "b", "alias"), Merge("b", "c", "alias")]))
    assert lines(store.facts()) == ["c --r--> x", "c --r--> y", "c --r--> z"]
    assert store.get_entity("a").id == "c"
    store.upsert(GraphDelta(facts=[fact("a", "s", "w", prov("e"))]))
    assert "c --s--> w" in lines(store.facts())
    assert [m.alias for m in store.merges()] == ["a", "b"]


def test_unmerge_restores_exactly(two_curies):
    before = snapshot(two_curies)
    two_curies.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias")]))
    assert snapshot(two_curies) != before
    assert two_curies.unmerge("m. curie") is True
    assert snapshot(two_curies) == before
    assert two_curies.merges() == [] and two_curies.unmerge("m. curie") is False
    assert two_curies.unmerge("never merged") is False
    assert two_curies.find_entities("Madame Curie")[0].id == "m. curie"


def test_unmerge_keeps_later_facts_and_after_retract(two_curies):
    two_curies.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias")]))
    two_curies.upsert(GraphDelta(facts=[fact("marie curie", "won", "nobel prize", prov("d9"))]))
    two_curies.retract_document("d3")
    assert two_curies.unmerge("m. curie")
    won = two_curies.get_fact(fact("marie curie", "won", "nobel prize").id)
    assert [p.doc_id for p in won.provenance] == ["d9"]
    assert two_curies.get_fact(fact("m. curie", "won", "nobel prize").id).provenance == (prov("d2", 1),)
    assert lines(two_curies.neighbors("m. curie")) == ["m. curie --admired--> m. curie",
                                                       "m. curie --born_in--> warsaw", "m. curie --won--> nobel prize"]


def test_merge_scenario_same_as_memory(store):
    """A longer mix of merges, unmerges, retractions and re-adds: state equals the memory store's after each step."""
    steps = [
        lambda s: s.upsert(TWO_CURIES),
        lambda s: s.upsert(CURIE),
        lambda s: s.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias", 0.8, "d2"),
                                              Merge("pierre curie", "marie curie", "fuzzy", 0.6)])),
        lambda s: s.upsert(GraphDelta(facts=[fact("m. curie", "taught_in", "paris", prov("d7"))])),
        lambda s: s.retract_document("d2"),
        lambda s: s.unmerge("pierre curie"),
        lambda s: s.upsert(GraphDelta(merges=[Merge("warsaw", "poland", "embedding", 0.5)])),
        lambda s: s.retract_document("geo"),
        lambda s: s.unmerge("m. curie"),
        lambda s: s.unmerge("warsaw"),
    ]
    reference = MemoryStore()
    for i, step in enumerate(steps):
        got, want = step(store), step(reference)
        assert got == want, f"step {i}"
        assert snapshot(store) == snapshot(reference), f"step {i}"
        assert store.stats() == reference.stats(), f"step {i}"
        assert store.merges() == reference.merges(), f"step {i}"


# -------------------------------------------------------------------- stats
def test_stats(curie):
    assert curie.stats() == {"entities": 6, "facts": 6, "relations": 4, "documents": 2, "provenances": 6, "merges": 0}


# -------------------------------------------------------------------- query
@pytest.fixture
def cy(curie):
    return load(curie, EXTRA)


QUERIES = [  # (cypher, params, ordered): the project's read queries (README, CLI, tests)
    ('MATCH (a)-[r]->(b) WHERE a.name == "Marie Curie" RETURN b.name', None, False),
    ('MATCH (a)-[r]->(b) WHERE a.name == $n RETURN b.name', {"n": "Warsaw"}, False),
    ('MATCH (a)-[r]->(b) WHERE a.name = "Poland" RETURN b.name', None, False),
    ("MATCH (a)-[r:born_in]->(b) RETURN a.name, b.name", None, False),
    ('MATCH (a)-[r:born_in|married_to]->(b) WHERE a.id == "marie curie" RETURN b.id', None, False),
    ('MATCH (a)<-[r:capital_of]-(b) WHERE a.name == "France" RETURN b.name, r.relation', None, False),
    ("MATCH (a)-[r1:born_in]->(b)-[r2:capital_of]->(c) RETURN a.name, c.name", None, False),
    ("MATCH (a)-[r]->(b) RETURN COUNT(r)", None, False),
    ("MATCH (a)-[r:born_in]->(b) RETURN COUNT(a) AS n", None, False),
    ("MATCH (a)-[r:born_in]->(b) RETURN b.name, COUNT(a)", None, False),
    ('MATCH (a) WHERE a.id == "warsaw" RETURN a.type, a.name', None, False),
    ('MATCH (a) WHERE a.id == "marie curie" RETURN a', None, False),
    ('MATCH (a)-[r]->(b) WHERE a.id == "warsaw" RETURN r', None, False),
    ('MATCH (a {name: "Paris"})-[r]->(b) RETURN b.name', None, False),
    ("MATCH (a)-[r]->(b) WHERE r.confidence < 0.9 RETURN a.name, b.name", None, False),
    ('MATCH (a) WHERE a.type == "GPE" RETURN a.name ORDER BY a.name', None, True),
    ('MATCH (a) WHERE a.type == "GPE" RETURN a.name ORDER BY a.name DESC LIMIT 2', None, True),
    ('MATCH (a) WHERE a.name STARTS WITH "P" AND a.type == "GPE" RETURN a.name', None, False),
    ('MATCH (a) WHERE a.name CONTAINS "Curie" RETURN DISTINCT a.type', None, False),
    ('MATCH (a) WHERE a.id IN ["paris", "poland", "nowhere"] RETURN a.id', None, False),
    ("MATCH (a) WHERE a.name == 'Warsaw' RETURN a.id", None, False),
    ("MATCH (a) WHERE a.name == 'O\\'Brien' RETURN a.id", None, False),
    ("MATCH (a) WHERE a.name == 'The \"Best\" Café' RETURN a.id", None, False),
    ('MATCH (a) WHERE a.name == "The \\"Best\\" Café" RETURN a.id', None, False),
    ("MATCH (a) WHERE a.name == $name RETURN a.id", {"name": "Emoji 😀"}, False),
    ("MATCH (a) WHERE a.name == $name RETURN a.id", {"name": 'x" RETURN a.id //'}, False),
    ("MATCH (a)-[r]->(b) WHERE r.confidence < $c RETURN b.id", {"c": 0.9}, False),
    ('MATCH (a) WHERE a.name == "Cost $x" RETURN a.id', None, False),
    ('MATCH (a) WHERE a.name == $n OR a.name == "Cost $x" RETURN a.id', {"n": "Paris"}, False),
    ('MATCH (a) WHERE a.name == "create" RETURN a.id', None, False),
    ('MATCH (a) WHERE a.id == "warsaw" RETURN a.set', None, False),
    ("MATCH (a) WHERE a.type <> \"GPE\" AND NOT a.name CONTAINS \"Curie\" RETURN a.id", None, False),
    ("MATCH (a) RETURN COUNT(a) AS n", None, False),
    ('MATCH (a)-[r]->(b) WHERE a.id == "x" RETURN a.id, b.id, r.relation', None, False),
    ('MATCH (a)-[r]->(b) WHERE a.id == "x" RETURN r', None, False),
    ('MATCH (a)-[*1..2]->(b) WHERE a.id == "marie curie" RETURN b.id', None, False),
    ("MATCH (a)-[r]->(b) RETURN a.name, COUNT(b) AS n ORDER BY n DESC, a.name", None, True),
    ('MATCH (a)-[r]->(b) WHERE b.type == "GPE" RETURN DISTINCT a.name', None, False),
    ("MATCH (a)-[r:born_in]->(b) RETURN a.name AS who, b.name AS place", None, False),
    ('MATCH (a)-[r]->(b) WHERE r.relation == "born_in" RETURN a.id', None, False),
    ("MATCH (a)-[r]->(b) RETURN a.id, MAX(r.confidence) AS m", None, False),
    ("MATCH (a) RETURN a.aliases", None, False),
]


@pytest.mark.parametrize("cypher, params, ordered", QUERIES, ids=[f"q{i}" for i in range(len(QUERIES))])
def test_query_same_as_memory(cy, cypher, params, ordered):
    reference = load(MemoryStore(), CURIE, EXTRA)
    got, want = cy.query(cypher, params), reference.query(cypher, params)
    if not ordered:
        got, want = rows_sorted(got), rows_sorted(want)
    assert got == want


def test_query_limit_and_errors(cy):
    rows = cy.query("MATCH (a) RETURN a.id ORDER BY a.id", limit=3)
    assert rows == [{"a.id": "cost $x"}, {"a.id": "create"}, {"a.id": "emoji 😀"}]
    with pytest.raises(InputError, match=r"\$missing"):
        cy.query("MATCH (a) WHERE a.name == $missing RETURN a.id", {})
    with pytest.raises(InputError, match="string, number or bool"):
        cy.query("MATCH (a) WHERE a.name == $n RETURN a.id", {"n": ["list"]})
    for bad in ("MATC (a) RETURN a", "MATCH (a RETURN a", ""):
        with pytest.raises(InputError):
            cy.query(bad)


# Attempts to write through query(): each is refused before it runs, naming the clause.
BYPASS = [
    ('CREATE (a {name: "x"})', "CREATE"),
    ('cReAtE (a {name: "x"})', "CREATE"),
    ('CRE/**/ATE (a {name: "x"})', "comment inside a word"),
    ('MATCH (a) WHERE a.name == "Warsaw" SET a.name = "Warszawa"', "SET"),
    ('MATCH (a)   sEt\t a.name = "x"', "SET"),
    ('MERGE (a {name: "x"}) RETURN a', "MERGE"),
    ("MATCH (a) DETACH DELETE a", "DETACH DELETE"),
    ("MATCH (a) DETACH /* keep going */ DELETE a", "DETACH DELETE"),
    ("MATCH (a)\n// one more line\n  detach\n\tdelete a", "DETACH DELETE"),
    ("MATCH (a) WITH a DELETE a", "DELETE"),
    ("match (a) remove a.name", "REMOVE"),
    ('LOAD CSV FROM "file:///etc/hostname" AS line RETURN line', "LOAD CSV"),
    ('load\n  csv WITH HEADERS from "file:///tmp/x.csv" AS row RETURN row', "LOAD CSV"),
    ('MATCH (a) FOREACH (x IN [1] | SET a.name = "x")', "FOREACH"),
    ('CALL db.createLabel("Spy")', "CALL db.createLabel"),
    ('CALL apoc.create.node(["Entity"], {id: "x"}) YIELD node RETURN node', "CALL apoc.create.node"),
    ('call `apoc.create.node`(["Entity"], {id: "x"}) YIELD node RETURN node', "CALL apoc.create.node"),
    ('MATCH (a) RETURN apoc.cypher.runFirstColumnSingle("CREATE (x) RETURN x", {})', "apoc.cypher"),
    ('MATCH (a) CALL { WITH a CREATE (b {id: "copy"}) } RETURN a', "CREATE"),
    ("MATCH (a) CALL { WITH a MATCH (a)-[r]->(b) RETURN b } IN TRANSACTIONS RETURN b", "IN TRANSACTIONS"),
    ("USE neo4j MATCH (a) RETURN a", "USE"),
    ("DROP CONSTRAINT kgllm_entity_id", "DROP"),
    ("MATCH (a) RETURN a.id; MATCH (b) DETACH DELETE b", "second statement"),
    ('MATCH (a) WHERE a.name = "x RETURN a', "unclosed string"),
]


@pytest.mark.parametrize("cypher, clause", BYPASS, ids=[f"w{i}" for i in range(len(BYPASS))])
def test_query_write_refused_and_graph_unchanged(cy, cypher, clause):
    before = (snapshot(cy), cy.stats(), cy.revision())
    with pytest.raises(InputError) as err:
        cy.query(cypher)
    assert clause in str(err.value)
    assert (snapshot(cy), cy.stats(), cy.revision()) == before


LEGIT = GraphDelta(
    entities=[Entity.from_name(n) for n in ("Set Delete", "Load CSV", "Create /* x */ Merge", "Call // Foreach")],
    facts=[fact("set delete", "remove", "load csv", prov("words"))],
)

# Reads whose strings, comments, properties or relation names hold the refused words: all run.
READS = [
    ('MATCH (a) WHERE a.name = "Set Delete" RETURN a.id', None, [{"a.id": "set delete"}]),
    ("MATCH (a) WHERE a.name = 'Load CSV' RETURN a.id", None, [{"a.id": "load csv"}]),
    ('MATCH (a) WHERE a.name = "Create /* x */ Merge" RETURN a.id', None, [{"a.id": "create /* x */ merge"}]),
    ('MATCH (a) WHERE a.name = "Call // Foreach" RETURN a.id', None, [{"a.id": "call // foreach"}]),
    ('MATCH (a) // which one is Load CSV\nWHERE a.id = "load csv" RETURN a.name', None, [{"a.name": "Load CSV"}]),
    ('MATCH (a) /* CREATE (b) */ WHERE a.id = "set delete" RETURN a.name', None, [{"a.name": "Set Delete"}]),
    ('MATCH (a) WHERE a.id == "set delete" RETURN a.set', None, [{"a.set": None}]),
    ("MATCH (a)-[r:remove]->(b) RETURN a.id, b.id", None, [{"a.id": "set delete", "b.id": "load csv"}]),
    ("MATCH (a) WHERE a.name == $n RETURN a.id", {"n": "DETACH DELETE everything"}, []),
]


@pytest.mark.parametrize("cypher, params, rows", READS, ids=[f"r{i}" for i in range(len(READS))])
def test_query_write_words_in_strings_and_names_are_reads(store, cypher, params, rows):
    store.upsert(LEGIT)
    revision = store.revision()
    assert store.query(cypher, params) == rows
    assert store.revision() == revision


def test_query_does_not_see_merge_records(two_curies):
    two_curies.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias")]))
    assert two_curies.query("MATCH (a) RETURN COUNT(a) AS n") == [{"n": 3}]


# ------------------------------------------------------------------ to_dict
def test_to_dict_same_as_memory(store):
    def build(s):
        load(s, TWO_CURIES, CURIE, EXTRA)
        s.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias", 0.7, "d2")]))

    got, want = same_on_memory(store, build, snapshot)
    assert got == want


# ----------------------------------------------------------------- revision
def test_revision_changes_on_every_write_and_only_then(store):
    seen = [store.revision()]

    def changed(write) -> None:
        write()
        assert store.revision() not in seen
        seen.append(store.revision())

    def same(action) -> None:
        action()
        assert store.revision() == seen[-1]

    delta = GraphDelta(entities=[Entity("ada l.", "Ada L.", "PERSON")],
                       facts=[fact("ada lindqvist", "born_in", "tromso", prov("d1")),
                              fact("ada l.", "founded", "fjordcell", prov("d2"), confidence=0.5)])
    changed(lambda: store.upsert(delta))
    same(lambda: store.upsert(delta))  # re-applied: nothing changes
    same(lambda: store.upsert(GraphDelta(entities=[Entity("ada l.", "Ada L.")])))
    for read in (store.stats, lambda: list(store.facts()), lambda: list(store.entities()),
                 lambda: store.find_entities("Ada"), lambda: store.neighbors("ada l."), lambda: store.merges(),
                 lambda: store.subgraph(["tromso"]), lambda: store.paths("tromso", "ada lindqvist"),
                 lambda: store.query("MATCH (a) RETURN a.id"), store.to_dict):
        same(read)
    same(lambda: pytest.raises(InputError, store.query, "MATCH (a) DETACH DELETE a"))
    changed(lambda: store.upsert(GraphDelta(facts=[fact("ada l.", "founded", "fjordcell", prov("d2"))])))  # 0.5 -> 1
    changed(lambda: store.upsert(GraphDelta(entities=[Entity("ada l.", "Ada L.", "", ("A. L.",))])))  # new alias
    changed(lambda: store.upsert(GraphDelta(merges=[Merge("ada l.", "ada lindqvist", "alias")])))
    same(lambda: store.upsert(GraphDelta(merges=[Merge("ada l.", "ada lindqvist", "alias")])))
    changed(lambda: store.unmerge("ada l."))
    same(lambda: store.unmerge("ada l."))
    changed(lambda: store.retract_document("d1"))
    same(lambda: pytest.raises(NotFoundError, store.retract_document, "d1"))


# ------------------------------------------------------------------- ledger
def doc_delta(doc: str, *triples: tuple[str, str, str], merges=()) -> GraphDelta:
    return GraphDelta(facts=[fact(s, r, o, prov(doc, i)) for i, (s, r, o) in enumerate(triples)], merges=list(merges))


def test_ledger_ingest_replaces_a_changed_document(store):
    from kgllm.stores.ledger import DocumentRecord

    store.upsert(doc_delta("other", ("ada", "born_in", "oslo")))
    r = store.ingest_document(DocumentRecord("d1", "notes/a.txt", "sha256:1"),
                              doc_delta("d1", ("ada", "born_in", "oslo"), ("ada", "works_at", "fjordcell")))
    assert (r.facts_added, r.provenance_added) == (1, 2)
    row = store.document("d1")
    assert (row.doc_id, row.source, row.content_hash, row.facts) == ("d1", "notes/a.txt", "sha256:1", 2)
    assert row.ingested_at.endswith("Z")
    # The edited document: its old facts go (a fact another document also states keeps that provenance only).
    store.ingest_document(DocumentRecord("d1", "notes/a.txt", "sha256:2"),
                          doc_delta("d1", ("ada", "lives_in", "bergen")))
    assert lines(store.facts()) == ["ada --born_in--> oslo", "ada --lives_in--> bergen"]
    assert [p.doc_id for p in store.get_fact(fact("ada", "born_in", "oslo").id).provenance] == ["other"]
    assert store.get_entity("fjordcell") is None
    assert [(d.doc_id, d.content_hash, d.facts) for d in store.documents()] == [("d1", "sha256:2", 1)]
    store.ingest_document(DocumentRecord("a0", "b.txt", "sha256:3"), doc_delta("a0", ("x", "r", "y")))
    assert [d.doc_id for d in store.documents()] == ["a0", "d1"]  # sorted by id
    assert store.retract_document("d1") == 1
    assert store.document("d1") is None and [d.doc_id for d in store.documents()] == ["a0"]
    with pytest.raises(NotFoundError, match="d1"):
        store.retract_document("d1")
    assert store.retract_document("other") == 1  # a document written without a ledger row still retracts


def test_ledger_same_as_memory(store):
    """A sequence of document ingests, re-ingests with merges and retractions: same dump as the memory store."""
    from kgllm.stores.ledger import DocumentRecord, canonical_dump

    def build(s) -> None:
        s.ingest_document(DocumentRecord("d1", "a", "h1"), doc_delta("d1", ("marie curie", "born_in", "warsaw"),
                                                                     ("warsaw", "capital_of", "poland")))
        s.ingest_document(DocumentRecord("d2", "b", "h1"), doc_delta(
            "d2", ("m. curie", "won", "nobel prize"), merges=[Merge("m. curie", "marie curie", "alias", 0.9, "d2")]))
        # d1 changes: marie curie's only facts there go, so the merge of a re-ingested d2 into it is left out.
        s.ingest_document(DocumentRecord("d1", "a", "h2"), doc_delta("d1", ("warsaw", "capital_of", "poland")))
        s.ingest_document(DocumentRecord("d3", "c", "h1"), doc_delta(
            "d3", ("m. c.", "born_in", "warsaw"), merges=[Merge("m. c.", "ghost", "alias")]))
        s.ingest_documents([DocumentRecord("d4", "d", "h1"), DocumentRecord("d5", "e", "h1")],
                           GraphDelta(facts=[fact("p", "r", "q", prov("d4")), fact("p", "r", "q", prov("d5")),
                                             fact("q", "s", "t", prov("d5"))]))
        s.retract_document("d4")

    got, want = same_on_memory(store, build, canonical_dump)
    assert got == want
    assert [(d.doc_id, d.facts) for d in store.documents()] == [("d1", 1), ("d2", 1), ("d3", 1), ("d5", 2)]
    assert "m. c. --born_in--> warsaw" in lines(store.facts())  # the merge into a missing entity was left out


def test_ledger_rejects_bad_input_and_changes_nothing(store):
    from kgllm.stores.ledger import DocumentRecord, canonical_dump

    store.ingest_document(DocumentRecord("d1", "a", "h"), doc_delta("d1", ("a", "r", "b")))
    before = canonical_dump(store)
    with pytest.raises(InputError, match="twice"):
        store.ingest_documents([DocumentRecord("d2", "a", "h"), DocumentRecord("d2", "a", "h")], GraphDelta())
    with pytest.raises(InputError):
        store.ingest_document(DocumentRecord("d1", "a", "h2"), GraphDelta(facts=[Fact("a", "", "b")]))
    assert canonical_dump(store) == before


def test_runs_and_locks(store):
    from kgllm.errors import StoreError

    first = store.begin_run("nightly")
    assert first.status == "running" and first.ended_at is None
    other = store.begin_run("hourly")
    second = store.begin_run("nightly")
    store.end_run(replace(first, status="ok", counts={"documents": 3}, errors=({"doc_id": "d", "error": "bad"},)))
    assert [r.run_id for r in store.runs("nightly")] == [second.run_id, first.run_id]  # newest first
    done = store.runs("nightly")[1]
    assert done.status == "ok" and done.ended_at and done.counts == {"documents": 3}
    assert done.errors == ({"doc_id": "d", "error": "bad"},)
    assert len(store.runs(limit=2)) == 2 and {r.job for r in store.runs()} == {"nightly", "hourly"}
    assert other in store.runs("hourly")
    with pytest.raises(InputError):
        store.end_run(replace(first, status="weird"))
    with store.lock("build", timeout=0):
        with pytest.raises(StoreError, match="being written by another process"):
            with store.lock("build", timeout=0.2):
                pass
        with store.lock("other-name", timeout=0):
            pass
    with store.lock("build", timeout=0):  # released
        pass


def test_ledger_travels_with_the_graph_dict(store):
    """to_dict/from_dict (graph files, export/import, migration) carry the ledger and the runs."""
    from kgllm.stores.ledger import DocumentRecord, canonical_dump

    source = MemoryStore()
    source.ingest_document(DocumentRecord("d1", "a.txt", "h1"), doc_delta("d1", ("ada", "born_in", "oslo")))
    source.end_run(replace(source.begin_run("nightly"), status="ok"))
    store.from_dict(source.to_dict())
    assert canonical_dump(store) == canonical_dump(source) and store.documents() == source.documents()
    assert [(r.job, r.status) for r in store.runs()] == [("nightly", "ok")]
    back = MemoryStore()
    back.from_dict(store.to_dict())
    assert canonical_dump(back) == canonical_dump(source) and back.runs() == source.runs()


def test_is_a_ledger_store(store):
    from kgllm.stores.base import LedgerStore

    assert isinstance(store, LedgerStore)


# ------------------------------------------------------------------ index reads (issue 18)
def test_index_reads_agree_with_the_graph(two_curies):
    store = two_curies
    facts = list(store.facts())
    degree: dict[str, int] = {}
    for f in facts:
        degree[f.subject] = degree.get(f.subject, 0) + 1
        degree[f.object] = degree.get(f.object, 0) + 1
    relations: dict[str, int] = {}
    for f in facts:
        relations[f.relation] = relations.get(f.relation, 0) + 1
    assert store.relations() == dict(sorted(relations.items()))
    assert {e.id: store.degree(e.id) for e in store.entities()} == {e.id: degree.get(e.id, 0) for e in store.entities()}
    assert store.degree("no such entity") == 0 and store.degrees(["warsaw", "nobody"]) == {"warsaw": degree["warsaw"]}
    top = store.top_degrees(2)
    assert [(e.id, d) for e, d in top] == sorted(degree.items(), key=lambda x: (-x[1], x[0]))[:2]
    counts: dict[int, int] = {}
    for e in store.entities():
        counts[degree.get(e.id, 0)] = counts.get(degree.get(e.id, 0), 0) + 1
    assert store.degree_counts() == counts
    between = store.facts_between(["m. curie", "warsaw", "nobel prize"])
    assert sorted(f.as_line() for f in between) == sorted(
        f.as_line() for f in facts if {f.subject, f.object} <= {"m. curie", "warsaw", "nobel prize"})
    assert sorted(store.get_entities(["warsaw", "m. curie", "nobody"])) == ["m. curie", "warsaw"]
    assert sorted(f.as_line() for f in store.document_facts("d2")) == sorted(
        (f.as_line() for f in facts if any(p.doc_id == "d2" for p in f.provenance)))


def test_names_are_matched_by_their_tokens(curie):
    found = curie.match_names(["marie curie", "curie", "maria sklodowska", "warsaw", "nobody here", ""])
    assert found["marie curie"] == {"marie curie": "exact"} and found["warsaw"] == {"warsaw": "exact"}
    assert found["maria sklodowska"] == {"marie curie": "alias"}
    assert "nobody here" not in found and "" not in found
    names = {eid for eid, _ in curie.name_candidates(["cur"], prefix=True)}
    assert {"marie curie", "pierre curie"} <= names
    both = {eid for eid, _ in curie.name_candidates(["marie", "cur"], prefix=True, any_word=False)}
    assert "marie curie" in both and "pierre curie" not in both


def test_a_large_load_into_an_empty_store_equals_fact_by_fact(store):
    """Neo4j loads a large delta into an empty database with CREATE (no lookups): the same graph as merging."""
    entities = [Entity(f"p{i}", f"P{i}", "PERSON", (f"Pe {i}",)) for i in range(600)]
    entities += [Entity("p1", "P One", "", ("P-1",)), Entity("p2", "P2", "ORG")]      # folded into the first
    facts = [fact(f"p{i}", "knows", f"p{(i * 7) % 600}", prov("d", i)) for i in range(1200)]
    facts += [fact("p1", "knows", "p7", prov("d", 1), prov("e", 0), confidence=0.4),    # the same fact again
              fact("p3", "lives_in", "nowhere town", prov("e", 1))]                    # a new end: a bare entity
    delta = GraphDelta(entities=entities, facts=facts)
    reference = MemoryStore()
    assert store.upsert(delta) == reference.upsert(delta)                  # the same counts ...
    assert canonical_dump(store) == canonical_dump(reference) and store.stats() == reference.stats()   # ... graph
    again = store.upsert(delta)
    assert (again.entities_added, again.facts_added, again.provenance_added) == (0, 0, 0)
