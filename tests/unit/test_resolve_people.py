"""Name resolution never merges different people (issue 22, item 14): pairs written for this test, same person or
not, through the resolver and through ``kgllm build``, whose output lists each merge and how to undo it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.extract.resolve import EntityResolver, ResolverConfig
from kgllm.types import Entity, Fact, GraphDelta, Provenance, entity_id

runner = CliRunner()


def _delta(*docs: list[tuple[str, str]]) -> GraphDelta:
    """One document per list of (name, NER type); each name is the subject of one fact of its document."""
    delta = GraphDelta()
    for i, names in enumerate(docs):
        prov = (Provenance(f"doc{i}.txt", 0, extractor="test"),)
        for name, typ in names:
            if all(e.id != entity_id(name) for e in delta.entities):
                delta.entities.append(Entity.from_name(name, typ))
            delta.facts.append(Fact(entity_id(name), "lives_in", f"town {i}", provenance=prov))
        delta.entities.append(Entity(f"town {i}", f"Town {i}", "GPE"))
    return delta


def _one_entity(*docs: list[tuple[str, str]]) -> bool:
    """Whether the resolver makes the names of ``docs`` (all but the towns) one entity."""
    out = EntityResolver(ResolverConfig(use_embeddings=False)).resolve(_delta(*docs))
    names = {entity_id(n) for doc in docs for n, _ in doc}
    aliases = {m.alias: m.canonical for m in out.merges}
    return len({aliases.get(n, n) for n in names}) == 1


P = "PERSON"
SAME_PERSON = [   # written for this test: one person named two ways, in two documents
    ("Ilse Brandt", P, "I. Brandt", P),                        # an initial
    ("Ilse Marie Brandt", P, "I. M. Brandt", P),               # initials
    ("Ilse Brandt", P, "Dr. Ilse Brandt", P),                  # a title
    ("Ilse Brandt", P, "Ilse Brandt's", P),                    # a possessive
    ("Jean-Luc Moreau", P, "Jean Luc Moreau", P),              # punctuation
    ("Marie Skłodowska Curie", P, "Marie Sklodowska Curie", P),  # diacritics
    ("Ilse Brandt", "ORG", "Dr. Ilse Brandt", P),              # the NER called one mention an organisation
]
DIFFERENT_PEOPLE = [
    ("Liv Xander", P, "Ivo Xander", P),                        # shared surname, given names close in spelling
    ("Liv Xander", "", "Ivo Xander", ""),                      # ... also when the NER typed neither
    ("Ilse Brandt", P, "Tomas Brandt", P),                     # shared surname
    ("Jon Berg", P, "Jan Berg", P),                            # one letter in the given name
    ("Ilse Brandt", P, "Else Brandt", P),
    ("Ilse Brandt", P, "Ilse Brant", P),                       # one letter in the surname
    ("Anna Lind", P, "Anna Lindh", P),
]


@pytest.mark.parametrize("a, ta, b, tb", SAME_PERSON, ids=[f"{a} = {b}" for a, _, b, _ in SAME_PERSON])
def test_one_person_named_two_ways_is_one_entity(a, ta, b, tb):
    assert _one_entity([(a, ta)], [(b, tb)])


@pytest.mark.parametrize("a, ta, b, tb", DIFFERENT_PEOPLE, ids=[f"{a} != {b}" for a, _, b, _ in DIFFERENT_PEOPLE])
def test_different_people_stay_apart(a, ta, b, tb):
    assert not _one_entity([(a, ta)], [(b, tb)])
    assert not _one_entity([(a, ta), (b, tb)])                 # also within one document


@pytest.mark.parametrize("short", ["Brandt", "Professor Brandt", "Brandt's"])
def test_a_surname_after_the_full_name_in_one_document_is_that_person(short):
    assert _one_entity([("Ilse Brandt", P), (short, P)])
    assert not _one_entity([("Ilse Brandt", P)], [(short, P)])    # in another document: whose is it?
    assert not _one_entity([("Ilse Brandt", P), ("Tomas Brandt", P), (short, P)])   # two of that surname


def test_an_initial_that_fits_two_people_joins_neither():
    out = EntityResolver(ResolverConfig(use_embeddings=False)).resolve(
        _delta([("Ilse Brandt", P)], [("Ingrid Brandt", P)], [("I. Brandt", P)]))
    assert out.merges == []


def test_other_names_one_letter_apart_stay_apart():
    assert not _one_entity([("Layer", "")], [("Player", "")])
    assert not _one_entity([("North Stars FC", "ORG")], [("South Stars FC", "ORG")])
    assert _one_entity([("Kvarnvik BK", "ORG")], [("Kvarnvik B.K.", "ORG")])   # spelling still joins the rest


TEXTS = {
    "a.txt": "Ilse Brandt founded Kestrel Analytics in Hamburg. Brandt later moved to Bremen.\n",
    "b.txt": "Dr. Ilse Brandt spoke at a conference in Oslo. Tomas Brandt works in Kiel.\n",
    "c.txt": "Liv Xander was born in Tromsø. Ivo Xander was born in Bergen.\n",
}


def test_build_lists_its_merges_and_one_can_be_undone(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in TEXTS.items():
        (docs / name).write_text(text, encoding="utf-8")
    graph = str(tmp_path / "g.sqlite")
    built = runner.invoke(app, ["build", str(docs), "--graph", graph])
    assert built.exit_code == 0, built.output
    assert 'merged: "Dr. Ilse Brandt" into "Ilse Brandt" (person, b.txt)' in built.stderr, built.stderr
    assert f"undo a merge: kgllm merges undo ALIAS --graph {graph}" in built.stderr
    listed = json.loads(runner.invoke(app, ["merges", "list", "--graph", graph, "--json"]).stdout)["merges"]
    pairs = {(m["alias"], m["canonical"]) for m in listed}
    assert ("dr. ilse brandt", "ilse brandt") in pairs
    assert not any("xander" in a for a, _ in pairs) and not any("tomas" in a or "tomas" in c for a, c in pairs)
    undone = runner.invoke(app, ["merges", "undo", "dr. ilse brandt", "--graph", graph])
    assert undone.exit_code == 0, undone.output
    after = json.loads(runner.invoke(app, ["merges", "list", "--graph", graph, "--json"]).stdout)["merges"]
    assert ("dr. ilse brandt", "ilse brandt") not in {(m["alias"], m["canonical"]) for m in after}
    rows = runner.invoke(app, ["query", 'MATCH (a)-[r]->(b) WHERE a.id == "dr. ilse brandt" RETURN b.name',
                               "--graph", graph, "--json"])
    assert json.loads(rows.stdout)["rows"], rows.output            # its facts are its own again
    unknown = runner.invoke(app, ["merges", "undo", "nobody", "--graph", graph])
    assert unknown.exit_code == 2 and "no merge of 'nobody'" in unknown.stderr


def test_a_place_named_inside_an_organisations_name_stays_a_place():
    prov = (Provenance("places.txt", 0, extractor="test"),)
    delta = GraphDelta(entities=[Entity("university of bergen", "University of Bergen", "ORG"),
                                 Entity("bergen", "Bergen", ""), Entity("norway", "Norway", "GPE")],
                       facts=[Fact("university of bergen", "located_in", "bergen", provenance=prov),
                              Fact("bergen", "port_city_of", "norway", provenance=prov)])
    assert EntityResolver(ResolverConfig(use_embeddings=False)).resolve(delta).merges == []
