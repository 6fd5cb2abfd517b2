"""EntityResolver: alias, fuzzy and embedding merges, and their safety rules."""

from __future__ import annotations

import numpy as np
import pytest

from kgllm.errors import ConfigError
from kgllm.extract.resolve import EntityResolver, ResolverConfig
from kgllm.extract.rules import RuleExtractor
from kgllm.stores.memory import MemoryStore
from kgllm.types import Document, Entity, Fact, GraphDelta, Provenance, entity_id

NO_EMB = ResolverConfig(use_embeddings=False)


def delta_of(*docs: tuple[str, list[tuple[str, str]]]) -> GraphDelta:
    """A delta with one fact ``name --near--> anchor`` per (name, type) of each document."""
    delta = GraphDelta()
    seen: set[str] = set()
    for doc_id, names in docs:
        p = Provenance(doc_id, 0, extractor="test")
        anchor = f"Anchor {doc_id}"
        for name, typ in names:
            if entity_id(name) not in seen:
                delta.entities.append(Entity.from_name(name, typ))
                seen.add(entity_id(name))
            delta.facts.append(Fact(entity_id(name), "near", entity_id(anchor), provenance=(p,)))
        if entity_id(anchor) not in seen:
            delta.entities.append(Entity.from_name(anchor, "FAC"))
            seen.add(entity_id(anchor))
    return delta


def merges(out: GraphDelta) -> set[tuple[str, str, str]]:
    return {(m.alias, m.canonical, m.method) for m in out.merges}


def check_well_formed(out: GraphDelta, store=None) -> None:
    aliases = {m.alias for m in out.merges}
    known = {e.id for e in out.entities} | ({e.id for e in store.entities()} if store else set())
    for m in out.merges:
        assert m.canonical not in aliases  # acyclic, flat
        assert m.canonical in known and m.alias != m.canonical


class FakeEmbedder:
    """Vectors chosen by hand: names in the same group are identical."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), 8), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, self.groups.get(t, 7 - i % 4)] = 1.0
        return out


@pytest.mark.parametrize("kwargs", [{"fuzzy_threshold": 0}, {"fuzzy_threshold": 101},
                                    {"embedding_threshold": 0}, {"embedding_threshold": 1.2},
                                    {"use_embeddings": "yes"}, {"fuzzy_threshold": "high"}])
def test_config_is_validated(kwargs) -> None:
    with pytest.raises(ConfigError):
        ResolverConfig(**kwargs)


def test_config_defaults() -> None:
    c = ResolverConfig()
    assert (c.fuzzy_threshold, c.embedding_threshold, c.use_embeddings) == (90.0, 0.85, True)
    with pytest.raises(ConfigError):
        EntityResolver(config={"fuzzy_threshold": 90})


def test_in_document_short_name_alias() -> None:
    delta = delta_of(("d1", [("Marie Curie", "PERSON"), ("Curie", "PERSON")]),
                     ("d2", [("Ada Lindqvist", "PERSON"), ("Ada", "")]))
    out = EntityResolver(NO_EMB).resolve(delta)
    assert merges(out) == {("curie", "marie curie", "alias"), ("ada", "ada lindqvist", "alias")}
    assert {m.alias: m.doc_id for m in out.merges} == {"curie": "d1", "ada": "d2"}
    canonical = next(e for e in out.entities if e.id == "marie curie")
    assert canonical.aliases == ("Curie",)
    assert out.facts == delta.facts
    check_well_formed(out)


def test_first_and_last_name_alone_both_alias_the_full_name() -> None:
    # No special case for a full name whose every word is also mentioned alone: both short names alias it.
    delta = delta_of(("d1", [("Ada Lindqvist", "PERSON"), ("Ada", "PERSON"), ("Lindqvist", "PERSON")]))
    out = EntityResolver(NO_EMB).resolve(delta)
    assert merges(out) == {("ada", "ada lindqvist", "alias"), ("lindqvist", "ada lindqvist", "alias")}
    check_well_formed(out)


def test_ambiguous_short_name_is_left_alone() -> None:
    delta = delta_of(("d1", [("Marie Curie", "PERSON"), ("Pierre Curie", "PERSON"), ("Curie", "PERSON")]))
    assert EntityResolver(NO_EMB).resolve(delta).merges == []


def test_short_name_pointing_to_different_people_in_different_documents() -> None:
    delta = delta_of(("d1", [("Marie Curie", "PERSON"), ("Curie", "PERSON")]),
                     ("d2", [("Pierre Curie", "PERSON"), ("Curie", "PERSON")]))
    out = EntityResolver(NO_EMB).resolve(delta)
    assert out.merges == []  # neither "curie" nor the two full names are merged


def test_alias_on_real_extractor_output() -> None:
    # Within one document the extractor itself reads "Curie" as Marie Curie; across documents an initial
    # joins the names (a bare surname never does: whose it is, only its document can say).
    delta = RuleExtractor().extract([Document("d", "Marie Curie was born in Warsaw."),
                                     Document("e", "M. Curie studied at the Sorbonne.")])
    out = EntityResolver(NO_EMB).resolve(delta)
    assert ("m. curie", "marie curie", "person") in merges(out)
    store = MemoryStore()
    store.upsert(out)
    assert {f.as_line() for f in store.neighbors("marie curie")} == {"marie curie --born_in--> warsaw",
                                                                     "marie curie --study_at--> sorbonne"}


def test_fuzzy_merge_prefers_the_more_complete_name() -> None:
    delta = delta_of(("d1", [("Kvarnvik B.K.", "ORG")]), ("d2", [("Kvarnvik BK", "ORG")]))
    out = EntityResolver(NO_EMB).resolve(delta)
    (m,) = out.merges
    assert (m.alias, m.canonical, m.method) == ("kvarnvik bk", "kvarnvik b.k", "fuzzy")
    assert m.score == pytest.approx(95.6522)  # rapidfuzz ratio of "kvarnvik b k" and "kvarnvik bk"
    check_well_formed(out)


def test_fuzzy_is_conservative() -> None:
    delta = delta_of(("d1", [("Kvarnvik 11", "PRODUCT"), ("Jon Smedvik", "PERSON")]),
                     ("d2", [("Kvarnvik 12", "PRODUCT"), ("Jon Smedvig", "PERSON"), ("Jon Brekke", "PERSON")]),
                     ("d3", [("Parisa", "GPE"), ("Paris", "PERSON")]))
    assert EntityResolver(NO_EMB).resolve(delta).merges == []


def test_fuzzy_against_store_entities() -> None:
    right, typo = "Kvarnvik Institute of Marine Research", "Kvarnvik Institute of Marine Reserch"
    store = MemoryStore()
    store.upsert(GraphDelta(entities=[Entity.from_name(right, "ORG")]))
    delta = delta_of(("d1", [(typo, "ORG")]))
    out = EntityResolver(NO_EMB).resolve(delta, store)
    assert merges(out) == {(entity_id(typo), entity_id(right), "fuzzy")}
    check_well_formed(out, store)
    # the store canonical comes back as an entity carrying the new alias
    canonical = next(e for e in out.entities if e.id == entity_id(right))
    assert canonical.aliases == (typo,)
    store.upsert(out)
    assert store.get_entity(entity_id(typo)).id == entity_id(right)
    assert [f.as_line() for f in store.neighbors(entity_id(right))] == [f"{entity_id(right)} --near--> anchor d1"]


def test_embedding_merge_with_injected_embedder() -> None:
    emb = FakeEmbedder({"PHB": 0, "Port Halden Bay": 0, "Nadia Cole": 1, "Nadia Coleman": 1})
    delta = delta_of(("d1", [("PHB", "GPE"), ("Nadia Cole", "PERSON")]),
                     ("d2", [("Port Halden Bay", "GPE"), ("Nadia Coleman", "PERSON")]))
    out = EntityResolver(ResolverConfig(embedding_threshold=0.9), embedder=emb).resolve(delta)
    assert merges(out) == {("phb", "port halden bay", "embedding")}  # never for person names
    assert emb.calls == 1
    check_well_formed(out)


def test_no_embedder_call_when_disabled() -> None:
    emb = FakeEmbedder({})
    EntityResolver(NO_EMB, embedder=emb).resolve(delta_of(("d1", [("PHB", "GPE"), ("Oslo", "GPE")])))
    assert emb.calls == 0


def test_merges_are_flat_and_acyclic_in_chains() -> None:
    delta = delta_of(("d1", [("Marie Skłodowska Curie", "PERSON"), ("Curie", "PERSON")]),
                     ("d2", [("Marie Sklodowska Curie", "PERSON")]))
    out = EntityResolver(NO_EMB).resolve(delta)
    check_well_formed(out)
    assert merges(out) == {("curie", "marie skłodowska curie", "alias"),
                           ("marie sklodowska curie", "marie skłodowska curie", "person")}


def test_existing_merges_are_kept() -> None:
    delta = delta_of(("d1", [("Oslo", "GPE"), ("Christiania", "GPE")]))
    from kgllm.types import Merge

    delta.merges.append(Merge("christiania", "oslo", "manual"))
    out = EntityResolver(NO_EMB).resolve(delta)
    assert out.merges[0] == delta.merges[0]


def test_empty_delta() -> None:
    out = EntityResolver(NO_EMB).resolve(GraphDelta())
    assert out == GraphDelta()


@pytest.mark.slow
def test_real_embedder_links_spelling_variants() -> None:
    delta = delta_of(("d1", [("University of Geneva", "ORG")]), ("d2", [("Univ. of Geneva", "ORG")]),
                     ("d3", [("Oslo", "GPE"), ("Bergen", "GPE")]))
    out = EntityResolver().resolve(delta)
    # cosine 0.89 with the bundled embedder (fuzzy ratio too low); Oslo and Bergen stay apart (0.59)
    assert merges(out) == {("univ. of geneva", "university of geneva", "embedding")}
    check_well_formed(out)
