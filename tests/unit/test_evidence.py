"""Evidence retrieval from graph and text: personalized PageRank, passages, linking, fusion with dense ranking."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from kgllm.errors import ConfigError, InputError
from kgllm.retrieve.evidence import EvidenceConfig, EvidenceRetriever, norm_tokens
from kgllm.retrieve.passages import dense_scores, passages_from_documents, passages_from_store, split_sentences
from kgllm.retrieve.ppr import personalized_pagerank
from kgllm.stores.memory import MemoryStore
from kgllm.types import Document, Entity, Fact, GraphDelta, Provenance


class BagEmbedder:
    """Bag-of-words vectors (hashed): similarity is word overlap, so tests control the dense ranking."""

    dim = 256

    def encode(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in norm_tokens(text):
                out[i, int(hashlib.md5(tok.encode()).hexdigest(), 16) % self.dim] += 1.0
            n = np.linalg.norm(out[i])
            if n:
                out[i] /= n
        return out


DOCS = [
    Document("Ines Kobal", "Ines Kobal is a chemist. She was born in Velmora in 1961."),
    Document("Velmora", "Velmora is a small settlement in the hills. The Sava runs beside its old mill."),
    Document("River towns", "A river flows through many a town. Which river flows through which town is a "
                            "question every birthplace guide answers."),
    Document("Chemists", "A chemist studies matter. Famous chemists were born in many towns."),
    Document("Mills", "Old mills stand by rivers in small towns."),
    Document("Sava", "The Sava is a long river with many bridges."),
]


def _store(docs):
    """A graph of the documents' obvious facts, written by hand (no extractor needed)."""
    prov = {d.id: Provenance(d.id, 0, 0, len(d.text), "test", d.text) for d in docs}
    ents = [Entity.from_name(n, t) for n, t in [("Ines Kobal", "PERSON"), ("Velmora", "GPE"), ("Sava", "LOC"),
                                                ("1961", "DATE")]]
    facts = [Fact("ines kobal", "born_in", "velmora", provenance=(prov["Ines Kobal"],)),
             Fact("ines kobal", "born_in_year", "1961", provenance=(prov["Ines Kobal"],)),
             Fact("sava", "runs_beside", "velmora", provenance=(prov["Velmora"],))]
    store = MemoryStore()
    store.upsert(GraphDelta(entities=ents, facts=facts))
    return store


def test_ppr_spreads_from_the_seed_and_sums_to_one():
    ranks = personalized_pagerank(4, [(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0)], {0: 1.0}, damping=0.5)
    assert ranks[0] > ranks[1] > ranks[2] > ranks[3] > 0
    assert abs(ranks.sum() - 1) < 1e-9
    heavy = personalized_pagerank(3, [(0, 1, 1.0), (0, 2, 9.0)], {0: 1.0})
    assert heavy[2] > 5 * heavy[1]


def test_ppr_dangling_and_unseeded_and_bad_input():
    alone = personalized_pagerank(3, [], {1: 2.0})
    assert alone.tolist() == [0.0, 1.0, 0.0]
    assert np.allclose(personalized_pagerank(2, [(0, 1, 1.0)], {}), [0.5, 0.5])
    with pytest.raises(ConfigError):
        personalized_pagerank(2, [], {0: 1.0}, damping=1.0)
    with pytest.raises(ConfigError):
        personalized_pagerank(2, [(0, 5, 1.0)], {0: 1.0})


def test_split_sentences_keeps_abbreviations_and_initials():
    assert split_sentences("J. R. Tolk wrote it in 1937. Mr. Ruiz read it. It sold well!") == [
        "J. R. Tolk wrote it in 1937.", "Mr. Ruiz read it.", "It sold well!"]
    assert split_sentences("one line without a stop") == ["one line without a stop"]


def test_passages_reject_duplicate_ids_and_empty_text():
    with pytest.raises(InputError, match="two documents"):
        passages_from_documents([Document("A", "x."), Document("A", "y.")])
    with pytest.raises(InputError, match="empty"):
        passages_from_documents([Document("A", "  ")])


def test_passages_from_store_orders_sentences_by_offset():
    store = MemoryStore()
    p1, p2 = Provenance("d", 1, 20, 40, "t", "Second one here."), Provenance("d", 0, 0, 19, "t", "First one here.")
    store.upsert(GraphDelta(facts=[Fact("a", "r", "b", provenance=(p1,)), Fact("b", "r", "c", provenance=(p2,))]))
    [passage] = passages_from_store(store)
    assert passage.sentences == ("First one here.", "Second one here.")


def test_link_takes_names_not_common_nouns_weighted_by_specificity():
    retriever = EvidenceRetriever(passages_from_documents(DOCS), _store(DOCS), BagEmbedder())
    seeds = retriever.link("Which river flows past the birthplace of Ines Kobal?")
    assert set(seeds) == {"ines kobal"}              # "river", "birthplace" are no names
    both = retriever.link("Is Velmora older than Ines Kobal?")
    assert both == {"velmora": 0.5, "ines kobal": 1.0}   # Velmora occurs in two passages: less specific


def test_graph_finds_the_bridge_passage_dense_misses():
    passages = passages_from_documents(DOCS)
    question = "Which river flows past the town where Ines Kobal was born?"
    embedder = BagEmbedder()
    dense = dense_scores(question, passages, embedder)
    dense_order = [passages[j].doc_id for j in np.argsort(-dense, kind="stable")]
    assert dense_order.index("Velmora") >= 2         # the bridge passage shares few words with the question
    evidence = EvidenceRetriever(passages, _store(DOCS), embedder).retrieve(question, dense)
    ranked = evidence.ranked_sources()
    assert ranked.index("Velmora") < dense_order.index("Velmora")
    assert ranked[0] == "Ines Kobal"
    assert evidence.facts[0].provenance[0].doc_id in {"Ines Kobal", "Velmora"}
    assert len(evidence.passage_scores) == len(passages)
    assert evidence.passage_scores == sorted(evidence.passage_scores, reverse=True)


def test_without_names_the_ranking_is_the_dense_one():
    passages = passages_from_documents(DOCS)
    embedder = BagEmbedder()
    question = "which river flows through a town"
    dense = dense_scores(question, passages, embedder)
    evidence = EvidenceRetriever(passages, None, embedder).retrieve(question, dense)
    assert evidence.seeds == {}
    assert evidence.ranked_sources() == [passages[j].doc_id for j in sorted(range(len(passages)),
                                                                           key=lambda j: (-dense[j], j))]


def test_config_is_checked():
    with pytest.raises(ConfigError):
        EvidenceConfig(damping=-0.1)
    with pytest.raises(ConfigError):
        EvidenceConfig(rrf_k=0)
