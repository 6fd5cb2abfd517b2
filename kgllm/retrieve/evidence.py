"""Evidence retrieval from the graph and the text together (HippoRAG-style).

The question's entities are linked to *phrase* nodes (graph entities and passage
titles); phrases connect to the passages that mention them or that the graph's facts
were read from, and to each other through the graph's facts, each fact edge weighted
by how relevant its relation is to the question (cosine of the relation's words and
the question). A personalized PageRank seeded by the question's phrases, each seed
weighted by its specificity (one over the number of passages it occurs in), spreads
from the question's entities through their passages to the entities those mention
and on to *their* passages: the bridge of a multi-hop question. The PageRank ranking
of the passages is fused with the dense ranking (MiniLM similarity of question and
passage) by reciprocal-rank fusion, and facts are ranked by the PageRank of their
entities, their relation's relevance and the rank of the passage they came from.

Knobs (all fixed, none fitted to data): ``damping`` 0.5 (HippoRAG's value) and the
reciprocal-rank constant ``rrf_k`` 60 (the standard value from Cormack et al., 2009).

Examples
--------
>>> from kgllm.types import Document
>>> from kgllm.retrieve.passages import passages_from_documents
>>> docs = [Document("Velmora", "Velmora is a town on the Sava. Its mayor is Ines Kobal."),
...         Document("Ines Kobal", "Ines Kobal is a chemist. She was born in Drava in 1961."),
...         Document("Sava", "The Sava is a river."), Document("Tarn", "Tarn is a lake near Drava.")]
>>> ev = EvidenceRetriever(passages_from_documents(docs)).retrieve("When was the mayor of Velmora born?")
>>> [p.doc_id for p in ev.passages[:2]]
['Velmora', 'Ines Kobal']
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from kgllm.errors import ConfigError
from kgllm.retrieve.link import STOPWORDS, tokenize
from kgllm.retrieve.passages import Passage, dense_scores
from kgllm.retrieve.ppr import personalized_pagerank
from kgllm.types import Fact, entity_id

__all__ = ["Evidence", "EvidenceConfig", "EvidenceRetriever", "norm_tokens"]

_NUMERIC_LABELS = frozenset({"CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "MONEY"})


def norm_tokens(text: str) -> tuple[str, ...]:
    """Tokens for matching mentions: :func:`~kgllm.retrieve.link.tokenize`, accents and a plural ``s`` dropped.

    >>> norm_tokens("The Velmoran rivers' Dämme")
    ('the', 'velmoran', 'river', 'damme')
    """
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    out = []
    for tok in tokenize(text):
        tok = tok.strip("'")
        if not tok:
            continue
        if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
            tok = tok[:-1]
        out.append(tok)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class EvidenceConfig:
    """Settings of :class:`EvidenceRetriever` (see the module docstring for why these values)."""

    damping: float = 0.5
    rrf_k: float = 60.0
    max_phrase_tokens: int = 8

    def __post_init__(self) -> None:
        if not 0 <= self.damping < 1:
            raise ConfigError(f"EvidenceConfig.damping must be in [0, 1), got {self.damping}")
        if self.rrf_k <= 0:
            raise ConfigError(f"EvidenceConfig.rrf_k must be > 0, got {self.rrf_k}")


@dataclass(slots=True)
class Evidence:
    """What :meth:`EvidenceRetriever.retrieve` found: passages and facts, best first.

    ``passage_scores`` / ``fact_scores`` are parallel to ``passages`` / ``facts``;
    ``seeds`` are the question's phrases (entity ids and titles) with their seed weights;
    ``dense`` maps each passage id to its dense similarity.
    """

    question: str
    passages: list[Passage] = field(default_factory=list)
    passage_scores: list[float] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    fact_scores: list[float] = field(default_factory=list)
    seeds: dict[str, float] = field(default_factory=dict)
    dense: dict[str, float] = field(default_factory=dict)

    def ranked_sources(self) -> list[str]:
        """Document ids in rank order (what recall@k of the evidence is measured on)."""
        return [p.doc_id for p in self.passages]


class EvidenceRetriever:
    """Rank passages and facts for a question from passages and (optionally) a graph built from them.

    Parameters
    ----------
    passages : sequence of Passage
        The texts to rank (e.g. :func:`~kgllm.retrieve.passages.passages_from_documents`).
    store : GraphStore, optional
        The graph extracted from those passages (facts cite passages by ``doc_id``); without
        one, only passage titles are phrases and no fact is returned.
    embedder : Embedder, optional
        Sentence embedder (default: the bundled MiniLM).
    config : EvidenceConfig, optional
    """

    def __init__(self, passages: Sequence[Passage], store: Any = None, embedder: Any = None,
                 config: EvidenceConfig | None = None) -> None:
        self.passages = list(passages)
        self.store = store
        self.config = config or EvidenceConfig()
        self._embedder = embedder
        self._build()

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from kgllm.resources import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    # ------------------------------------------------------------------ graph
    def _build(self) -> None:
        """Phrase nodes, their passages (mentions and provenance) and the fact edges."""
        self.doc_index = {p.doc_id: i for i, p in enumerate(self.passages)}
        grams: list[set[tuple[str, ...]]] = []
        for p in self.passages:
            toks = norm_tokens(p.full_text)
            grams.append({toks[i:i + n] for n in range(1, self.config.max_phrase_tokens + 1)
                          for i in range(len(toks) - n + 1)})
        self.phrase_keys: dict[tuple[str, ...], str] = {}   # normalised tokens -> phrase id
        self.phrase_docs: dict[str, set[int]] = defaultdict(set)
        self.phrase_names: dict[str, str] = {}

        def add(pid: str, name: str) -> None:
            key = norm_tokens(name)
            if not key or len(key) > self.config.max_phrase_tokens or all(t in STOPWORDS for t in key):
                return
            if len(key) == 1 and (len(key[0]) < 3 or key[0].isdigit()):
                return
            self.phrase_keys.setdefault(key, pid)
            self.phrase_names.setdefault(pid, name)
            for j, g in enumerate(grams):
                if key in g:
                    self.phrase_docs[pid].add(j)

        for p in self.passages:
            add(entity_id(p.title), p.title)
            self.phrase_docs[entity_id(p.title)].add(self.doc_index[p.doc_id])
            short = _base_title(p.title)
            if short != p.title:   # "Sava (river)" / "Lund, Sweden" is also named "Sava" / "Lund"
                add(entity_id(p.title), short)
        self.facts: list[Fact] = []
        if self.store is not None:
            for ent in self.store.entities():
                if ent.type.upper() in _NUMERIC_LABELS:
                    continue
                for name in (ent.name, *ent.aliases):
                    add(ent.id, name)
            for fact in self.store.facts():
                docs = {self.doc_index[pr.doc_id] for pr in fact.provenance if pr.doc_id in self.doc_index}
                if not docs:
                    continue
                self.facts.append(fact)
                for eid in (fact.subject, fact.object):
                    if eid in self.phrase_names:
                        self.phrase_docs[eid] |= docs
        self.phrase_ids = sorted(self.phrase_docs)
        self.phrase_index = {pid: len(self.passages) + i for i, pid in enumerate(self.phrase_ids)}

    # ------------------------------------------------------------------ question side
    def link(self, question: str) -> dict[str, float]:
        """Names the question mentions (longest first, non-overlapping), with seed weights.

        A mention must hold a word written with a capital or a digit in the question (a
        name, not a common noun such as "profession"). A seed's weight is its specificity:
        one over the number of passages it occurs in.
        """
        toks = norm_tokens(question)
        named = _named_words(question)
        taken = [False] * len(toks)
        seeds: dict[str, float] = {}
        for n in range(min(self.config.max_phrase_tokens, len(toks)), 0, -1):
            for i in range(len(toks) - n + 1):
                if any(taken[i:i + n]):
                    continue
                pid = self.phrase_keys.get(toks[i:i + n])
                if pid is None or not self.phrase_docs.get(pid) or not named & set(toks[i:i + n]):
                    continue
                for j in range(i, i + n):
                    taken[j] = True
                seeds[pid] = max(seeds.get(pid, 0.0), 1.0 / len(self.phrase_docs[pid]))
        return seeds

    def relation_relevance(self, question: str, relations: Sequence[str]) -> dict[str, float]:
        """Cosine of each relation's words and the question, clipped at 0."""
        if not relations:
            return {}
        from kgllm.retrieve.question import relation_text

        vecs = self.embedder.encode([question] + [relation_text(r) for r in relations])
        sims = vecs[1:] @ vecs[0]
        return {r: max(0.0, float(s)) for r, s in zip(relations, sims)}

    # ------------------------------------------------------------------ retrieval
    def retrieve(self, question: str, dense: np.ndarray | None = None) -> Evidence:
        """Rank the passages and facts for ``question``.

        ``dense``: the passages' dense similarities when already computed (else computed here).
        """
        n_pass = len(self.passages)
        if dense is None:
            dense = dense_scores(question, self.passages, self.embedder)
        seeds = self.link(question)
        relevance = self.relation_relevance(question, sorted({f.relation for f in self.facts}))
        n = n_pass + len(self.phrase_ids)
        edges: list[tuple[int, int, float]] = []
        for pid, docs in self.phrase_docs.items():
            for j in docs:
                edges.append((self.phrase_index[pid], j, 1.0))
        for fact in self.facts:
            s, o = self.phrase_index.get(fact.subject), self.phrase_index.get(fact.object)
            if s is not None and o is not None and s != o:
                edges.append((s, o, relevance.get(fact.relation, 0.0)))
        ppr = personalized_pagerank(n, edges, {self.phrase_index[p]: w for p, w in seeds.items()},
                                    damping=self.config.damping) if seeds else np.zeros(n)
        graph_rank = _ranks(ppr[:n_pass]) if seeds else None
        dense_rank = _ranks(dense)
        k = self.config.rrf_k
        fused = [1.0 / (k + dense_rank[j]) + (1.0 / (k + graph_rank[j]) if graph_rank is not None else 1.0 / k)
                 for j in range(n_pass)]
        order = sorted(range(n_pass), key=lambda j: (-fused[j], -float(dense[j]), j))
        pos = {j: r for r, j in enumerate(order)}
        fact_scores = []
        for fact in self.facts:
            node_score = sum(float(ppr[self.phrase_index[e]]) for e in (fact.subject, fact.object)
                             if e in self.phrase_index)
            best = min(pos[self.doc_index[pr.doc_id]] for pr in fact.provenance if pr.doc_id in self.doc_index)
            fact_scores.append((node_score + 1.0 / (1 + best)) * (0.5 + relevance.get(fact.relation, 0.0)))
        fact_order = sorted(range(len(self.facts)), key=lambda i: (-fact_scores[i], self.facts[i].id))
        return Evidence(
            question=question,
            passages=[self.passages[j] for j in order],
            passage_scores=[fused[j] for j in order],
            facts=[self.facts[i] for i in fact_order],
            fact_scores=[fact_scores[i] for i in fact_order],
            seeds={self.phrase_names.get(p, p): w for p, w in seeds.items()},
            dense={p.doc_id: float(d) for p, d in zip(self.passages, dense)},
        )


def _base_title(title: str) -> str:
    """A title without its parenthetical or comma qualifier.

    >>> _base_title("Sava (river)"), _base_title("Lund, Sweden"), _base_title("Lund")
    ('Sava', 'Lund', 'Lund')
    """
    return re.sub(r"\s*\([^)]*\)\s*$", "", title).split(",")[0].strip() or title


def _named_words(text: str) -> set[str]:
    """Normalised words written with a capital or a digit (the first word only when no function word).

    >>> sorted(_named_words("Where was the mayor of Velmora born in 1961?"))
    ['1961', 'velmora']
    """
    words = re.findall(r"[^\W_]+(?:['\-.][^\W_]+)*", text)
    out: set[str] = set()
    for i, word in enumerate(words):
        if word[0].isupper() or word[0].isdigit():
            if i == 0 and word.casefold() in STOPWORDS:
                continue
            out.update(t for t in norm_tokens(word) if t not in STOPWORDS)
    return out


def _ranks(scores: np.ndarray) -> list[int]:
    """1-based rank of each score, highest first (ties: earlier first)."""
    order = sorted(range(len(scores)), key=lambda j: (-float(scores[j]), j))
    ranks = [0] * len(scores)
    for r, j in enumerate(order, 1):
        ranks[j] = r
    return ranks
