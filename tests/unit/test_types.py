"""Tests of the typed objects passed between stages."""

from __future__ import annotations

import dataclasses

import pytest

from kgllm.types import (
    Answer,
    Entity,
    Fact,
    GraphDelta,
    Merge,
    Path,
    Provenance,
    Subgraph,
    entity_id,
    fact_id,
    unique_sources,
)


@pytest.mark.parametrize("name, expected", [
    ("Marie Curie", "marie curie"),
    ("  Marie   CURIE ", "marie curie"),
    ("Marie\tCurie\n", "marie curie"),
    ("Haile_Selassie_I_of_Ethiopia", "haile selassie i of ethiopia"),
    ('"Warsaw".', "warsaw"),
    ("(Warsaw)", "warsaw"),
    ("'Oslo'", "oslo"),
    ("O'Brien", "o'brien"),  # inner apostrophe kept
    ("Straße", "strasse"),  # casefold, not lower
    ("ＷＡＲＳＡＷ", "warsaw"),  # NFKC full-width
    ("ﬁnland", "finland"),  # NFKC ligature
    ("Zürich", "zürich"),
    ("Zu\u0308rich", "zürich"),  # combining diaeresis composed
    ("São\u00a0Paulo", "são paulo"),  # no-break space collapsed
    ("__x__", "x"),
    ("...", ""),
    ("", ""),
])
def test_entity_id(name, expected):
    assert entity_id(name) == expected


def test_entity_id_is_idempotent():
    for name in ["  Marie   CURIE ", '"Warsaw".', "Haile_Selassie", "ＷＡＲＳＡＷ", "(São Paulo)"]:
        assert entity_id(entity_id(name)) == entity_id(name)


def test_fact_id_stable_and_distinct():
    # Pinned values: ids are stored in saved graphs, so they must not change between versions.
    assert fact_id("a", "r", "b") == "ff4b81e9a008d967"
    assert fact_id("marie curie", "born_in", "warsaw") == "fad3484164c0409e"
    assert Fact("marie curie", "born_in", "warsaw", 0.3, (Provenance("d"),)).id == "fad3484164c0409e"
    assert fact_id("a", "r", "b") != fact_id("b", "r", "a")
    assert fact_id("a b", "r", "c") != fact_id("a", "b r", "c")  # separator prevents collisions
    assert len(fact_id("x", "y", "z")) == 16 and fact_id("x", "y", "z").startswith("f")


def test_fact_is_frozen_and_provenance_replaced():
    f = Fact("a", "r", "b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.subject = "c"  # type: ignore[misc]
    p = Provenance("d1", 0, 0, 5, "rules", "A r B.")
    g = f.with_provenance([p])
    assert g.provenance == (p,) and f.provenance == () and g.id == f.id
    assert g.as_line() == "a --r--> b"


def test_entity_from_name():
    e = Entity.from_name("  Marie Curie ", "PERSON", ["Curie", "", "Curie", "Mme Curie"])
    assert e == Entity("marie curie", "Marie Curie", "PERSON", ("Curie", "Mme Curie"))


def test_provenance_key_and_dict_roundtrip():
    p = Provenance("d1", 2, 10, 40, "llm", "Some sentence.")
    assert p.key() == ("d1", 2, 10, 40, "llm")
    assert Provenance.from_dict(p.to_dict()) == p
    assert Provenance.from_dict({"doc_id": "d", "unknown": 1}) == Provenance("d")


def test_graph_delta_extend_and_len():
    a = GraphDelta(entities=[Entity("x", "X")], facts=[Fact("x", "r", "y")])
    b = GraphDelta(facts=[Fact("y", "r", "z")], merges=[Merge("y", "x", "alias")])
    a.extend(b)
    assert len(a) == 2 and len(a.entities) == 1 and len(a.merges) == 1


def test_path_properties():
    f1, f2 = Fact("a", "r1", "b"), Fact("c", "r2", "b")
    p = Path(("a", "b", "c"), (f1, f2), (True, False), 0.5)
    assert p.end == "c" and p.relations == ("r1", "r2")


def test_subgraph_add_fact_deduplicates():
    s = Subgraph()
    s.add_fact(Fact("a", "r", "b", 0.5))
    s.add_fact(Fact("a", "r", "b", 0.9))
    s.add_fact(Fact("a", "r", "c"))
    assert len(s) == 2 and s.fact_ids() == {fact_id("a", "r", "b"), fact_id("a", "r", "c")}


def test_answer_cite_lists_facts_and_sources():
    p1 = Provenance("bio.txt", 0, 0, 31, "rules", "Marie Curie was born in Warsaw.")
    p2 = Provenance("kb:kb.tsv", 3, extractor="tsv")  # no span, no sentence
    f1 = Fact("marie curie", "born_in", "warsaw", provenance=(p1,))
    f2 = Fact("warsaw", "capital_of", "poland", provenance=(p2, p1))
    answer = Answer("Where was Marie Curie born?", "Warsaw, the capital of Poland.", facts=[f1, f2], sources=[p1, p2])
    assert answer.cite().splitlines() == [
        "Warsaw, the capital of Poland.",
        "  [1] marie curie --born_in--> warsaw",
        '      source bio.txt:0-31 "Marie Curie was born in Warsaw."',
        "  [2] warsaw --capital_of--> poland",
        "      source kb:kb.tsv",
        '      source bio.txt:0-31 "Marie Curie was born in Warsaw."',
    ]


def test_answer_cite_unsupported_has_only_text():
    a = Answer("Who is X?", "The graph holds nothing about X.", supported=False)
    assert a.cite() == "The graph holds nothing about X."
    assert a.entities == [] and a.subgraph is None


def test_answer_cite_shows_entity_names_as_written():
    p = Provenance("bio.txt", 0, 0, 33, "rules", "Ada Lindqvist was born in Tromsø.")
    f = Fact("ada lindqvist", "born_in", "tromsø", provenance=(p,))
    names = {"ada lindqvist": Entity.from_name("Ada Lindqvist"), "tromsø": Entity.from_name("Tromsø")}
    sub = Subgraph(seeds=["ada lindqvist"], facts=[f], entities=names)
    answer = Answer("Where was Ada Lindqvist born?", "Tromsø", [f], [p], subgraph=sub)
    assert answer.cite().splitlines() == [
        "Tromsø",
        "  [1] Ada Lindqvist --born_in--> Tromsø",
        '      source bio.txt:0-33 "Ada Lindqvist was born in Tromsø."',
    ]
    assert sub.name("tromsø") == "Tromsø" and sub.name("unknown id") == "unknown id"
    assert f.as_line({"tromsø": "Tromsø"}) == "ada lindqvist --born_in--> Tromsø"


def test_unsupported_answer_and_unique_sources():
    a = Answer.unsupported("Who?", "nothing links them")
    assert (a.text, a.supported, a.facts, a.generated) == (
        "The graph does not support an answer: nothing links them.", False, [], None)
    p, q = Provenance("d", 0, 0, 4, "rules", "A r B."), Provenance("e")
    assert unique_sources([Fact("a", "r", "b", provenance=(p, q)), Fact("b", "r", "c", provenance=(q,))]) == [p, q]
