"""Entity linking: find the graph entities a question talks about.

The linker matches n-grams of the question against entity names and aliases
(exact match on the normalised form first, longest mention preferred), then
falls back to fuzzy string matching (rapidfuzz) and finally to embedding
similarity. Exact matches are looked up in the store's name index
(``store.match_names``: one indexed query for all the question's n-grams, on a
SQLite graph file or Neo4j alike), so linking costs the question, not the graph.
Fuzzy and embedding matching compare the question with every name of a graph of
up to :data:`SMALL_GRAPH` entities (names read once per revision of the store), and
on a larger graph with the names of entities sharing a word start with the
question (the store's full-text index); names' vectors are kept on disk
(:class:`~kgllm.stores.vectors.VectorCache`). A store without ``match_names`` has
its names read into memory once per revision. Linking is thread-safe.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Entity, Fact, GraphDelta
>>> store = MemoryStore()
>>> _ = store.upsert(GraphDelta(
...     entities=[Entity("ada lovelace", "Ada_Lovelace", aliases=("Countess of Lovelace",))],
...     facts=[Fact("ada lovelace", "parents", "lord byron")]))
>>> linker = EntityLinker(store)
>>> [(e.entity_id, e.method) for e in linker.link("who is ada_lovelace 's father ?")]
[('ada lovelace', 'exact')]
>>> linker.link("where was the countess of lovelace born?")[0].method
'alias'
>>> linker.link("what is the weather like")
[]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from kgllm.errors import ConfigError
from kgllm.stores.names import tokenize
from kgllm.stores.vectors import VectorCache

__all__ = ["LinkedEntity", "EntityLinker", "tokenize", "store_revision", "STOPWORDS", "SMALL_GRAPH"]

SMALL_GRAPH = 50_000
"""Entities up to which fuzzy and embedding matching compare the question with every name of the graph."""

Index = dict[tuple[str, ...], dict[str, str]]  # name tokens -> {entity id: "exact" | "alias"}

#: Function words that never make a mention on their own (and never explain a relation).
STOPWORDS = frozenset(
    """a an the of 's in on at to for from by with about as into onto upon and or but nor not no
    is are was were be been being am do does did done doing have has had having will would shall should
    can could may might must what which who whom whose where when why how that this these those there
    here it its he him his she her hers they them their theirs we us our you your i me my mine
    name named called please tell give show list find some any as also just than then so very
    much many more most""".split()
)


def store_revision(store: Any) -> Any:
    """The store's content revision (changes with every write), or None when it keeps none.

    >>> store_revision(object()) is None
    True
    """
    revision = getattr(store, "revision", None)
    return revision() if callable(revision) else None


@dataclass(frozen=True, slots=True)
class LinkedEntity:
    """An entity found in a question.

    ``score`` is in ``(0, 1]``; ``method`` is ``exact``, ``alias``, ``fuzzy`` or
    ``embedding``; ``span`` is the ``(start, end)`` token range of the mention in
    :func:`tokenize` of the question (``(-1, -1)`` when unknown).
    """

    entity_id: str
    mention: str
    score: float
    method: str
    span: tuple[int, int] = (-1, -1)


class EntityLinker:
    """Link question mentions to entities of a graph store.

    Parameters
    ----------
    store : GraphStore
        The graph whose entities are linked (``match_names`` and ``name_candidates`` when it has them,
        else ``entities()``).
    embedder : Embedder, optional
        Sentence embedder for the last-resort embedding match; loaded lazily
        with :func:`kgllm.resources.get_embedder` when first needed.
    fuzzy_threshold : float, default 88
        Minimum rapidfuzz ``ratio`` (0-100) for a fuzzy match.
    embedding_threshold : float, default 0.8
        Minimum cosine similarity for an embedding match.
    max_ngram : int, default 12
        Longest mention considered, in tokens.
    """

    def __init__(self, store: Any, embedder: Any = None, fuzzy_threshold: float = 88.0,
                 embedding_threshold: float = 0.8, max_ngram: int = 12) -> None:
        if not 0 <= fuzzy_threshold <= 100:
            raise ConfigError(f"fuzzy_threshold must be in [0, 100], got {fuzzy_threshold}")
        if not -1 <= embedding_threshold <= 1:
            raise ConfigError(f"embedding_threshold must be in [-1, 1], got {embedding_threshold}")
        if max_ngram < 1:
            raise ConfigError(f"max_ngram must be >= 1, got {max_ngram}")
        self.store = store
        self._embedder = embedder
        self.fuzzy_threshold = float(fuzzy_threshold)
        self.embedding_threshold = float(embedding_threshold)
        self.max_ngram = int(max_ngram)
        self._lock = threading.Lock()
        self._index: Index | None = None  # every name of the graph, at revision self._revision (read lazily)
        self._revision: Any = None
        self._key_vecs: Any = None  # vectors of the index's keys, once the embedding match needs them

    # ---------------------------------------------------------------- index
    def _entry(self, index: Index, eid: str, name: str, method: str) -> None:
        toks = tuple(tokenize(name))
        if not toks or len(toks) > self.max_ngram or all(t in STOPWORDS for t in toks):
            return
        slot = index.setdefault(toks, {})
        if slot.get(eid) != "exact":
            slot[eid] = method

    def _whole_index(self, revision: Any) -> Index:
        """Every name of the graph (read once per revision)."""
        with self._lock:
            if self._index is None or self._revision != revision:
                index: Index = {}
                for ent in self.store.entities():
                    for name, method in [(ent.id, "exact"), (ent.name, "exact")] + [(a, "alias") for a in ent.aliases]:
                        self._entry(index, ent.id, name, method)
                self._index, self._revision, self._key_vecs = index, revision, None
            return self._index

    def _is_small(self, revision: Any) -> bool:
        if self._index is not None and self._revision == revision:
            return True
        stats = getattr(self.store, "stats", None)
        return not callable(getattr(self.store, "name_candidates", None)) or stats()["entities"] <= SMALL_GRAPH

    def _nearby_index(self, tokens: list[str]) -> Index:
        """Names of the entities that share a word start (3 letters) with the question's content words."""
        starts = {t[:3] for t in tokens if t not in STOPWORDS and t.isalnum() and len(t) >= 3}
        index: Index = {}
        for eid, keys in self.store.name_candidates(sorted(starts), prefix=True, limit=5000) if starts else []:
            for key in keys:
                self._entry(index, eid, key, "exact")
        return index

    def refresh(self) -> None:
        """Forget the names read into memory; read again on the next :meth:`link` that needs them.

        Needed only for a store without ``revision()``: otherwise they are read again whenever the revision changes.
        """
        with self._lock:
            self._index = None
            self._key_vecs = None

    # ---------------------------------------------------------------- linking
    def link(self, question: str, limit: int = 3) -> list[LinkedEntity]:
        """Return up to ``limit`` entities mentioned in ``question``, best first.

        Exact (name) and alias matches come first, longest mention first; fuzzy
        and embedding matches are tried only when nothing matched exactly.

        Parameters
        ----------
        question : str
            The question text.
        limit : int, default 3
            Maximum number of linked entities returned.

        Returns
        -------
        list of LinkedEntity
            Empty when nothing in the question names an entity.
        """
        if limit <= 0:
            return []
        tokens = tokenize(question)
        if not tokens:
            return []
        revision = store_revision(self.store)
        match = getattr(self.store, "match_names", None)
        if callable(match):
            lookup: Callable[[list[tuple[str, ...]]], Index] = lambda keys: {
                tuple(k.split(" ")): v for k, v in match([" ".join(k) for k in keys]).items()}
        else:
            index = self._whole_index(revision)
            lookup = lambda keys: {k: index[k] for k in keys if k in index}  # noqa: E731
        found = self._exact(tokens, lookup)
        if not found:
            index = self._whole_index(revision) if self._is_small(revision) else self._nearby_index(tokens)
            found = self._fuzzy(tokens, index) or self._embedding(tokens, index)
        found.sort(key=lambda x: (-x.score, x.span[0], x.entity_id))
        out: list[LinkedEntity] = []
        seen: set[str] = set()
        for le in found:
            if le.entity_id not in seen:
                seen.add(le.entity_id)
                out.append(le)
        return out[:limit]

    @staticmethod
    def _length_score(tokens: Sequence[str]) -> float:
        """Longer, more specific mentions score higher (in (0.5, 1])."""
        chars = sum(len(t) for t in tokens if t not in STOPWORDS)
        return 0.5 + 0.5 * min(1.0, chars / 12.0)

    def _exact(self, tokens: list[str], lookup: Callable[[list[tuple[str, ...]]], Index]) -> list[LinkedEntity]:
        n_max = min(self.max_ngram, len(tokens))
        grams = [tuple(tokens[i:i + n]) for n in range(n_max, 0, -1) for i in range(len(tokens) - n + 1)]
        hits = lookup([g for g in dict.fromkeys(grams) if not all(t in STOPWORDS for t in g)])
        if not hits:
            return []
        taken = [False] * len(tokens)
        found: list[LinkedEntity] = []
        for n in range(n_max, 0, -1):
            for i in range(0, len(tokens) - n + 1):
                if any(taken[i:i + n]):
                    continue
                key = tuple(tokens[i:i + n])
                hit = hits.get(key)
                if not hit:
                    continue
                for j in range(i, i + n):
                    taken[j] = True
                base = self._length_score(key)
                for eid, method in sorted(hit.items()):
                    score = base * (1.0 if method == "exact" else 0.95)
                    found.append(LinkedEntity(eid, " ".join(key), round(score, 4), method, (i, i + n)))
        return found

    def _candidate_ngrams(self, tokens: list[str], n_max: int = 6) -> list[tuple[int, int, str]]:
        grams = []
        for n in range(min(n_max, len(tokens)), 0, -1):
            for i in range(len(tokens) - n + 1):
                part = tokens[i:i + n]
                if part[0] in STOPWORDS or part[-1] in STOPWORDS or "'s" in part:
                    continue
                text = " ".join(part)
                if len(text) >= 4:
                    grams.append((i, i + n, text))
        return grams

    def _fuzzy(self, tokens: list[str], index: Index) -> list[LinkedEntity]:
        if not index:
            return []
        from rapidfuzz import fuzz, process

        key_ids = list(index)
        keys = [" ".join(k) for k in key_ids]
        found: list[LinkedEntity] = []
        for i, j, text in self._candidate_ngrams(tokens):
            hits = process.extract(text, keys, scorer=fuzz.ratio, score_cutoff=self.fuzzy_threshold, limit=3)
            for key, score, idx in hits:
                for eid in sorted(index[key_ids[idx]]):
                    s = 0.9 * (score / 100.0) * self._length_score(tokens[i:j])
                    found.append(LinkedEntity(eid, text, round(s, 4), "fuzzy", (i, j)))
        return self._non_overlapping(found)

    def _embedding(self, tokens: list[str], index: Index) -> list[LinkedEntity]:
        if not index:
            return []
        grams = self._candidate_ngrams(tokens, n_max=4)
        if not grams:
            return []
        if self._embedder is None:
            from kgllm.resources import get_embedder

            self._embedder = get_embedder()
        key_ids = list(index)
        keys = [" ".join(k) for k in key_ids]
        cache = VectorCache(self._embedder)
        vecs = self._key_vecs if index is self._index else None
        if vecs is None:
            vecs = cache.encode(keys)
            with self._lock:
                if index is self._index:
                    self._key_vecs = vecs
        sims = self._embedder.encode([g[2] for g in grams]) @ vecs.T
        found: list[LinkedEntity] = []
        for row, (i, j, text) in enumerate(grams):
            col = int(sims[row].argmax())
            score = float(sims[row, col])
            if score >= self.embedding_threshold:
                for eid in sorted(index[key_ids[col]]):
                    found.append(LinkedEntity(eid, text, round(0.8 * score, 4), "embedding", (i, j)))
        return self._non_overlapping(found)

    @staticmethod
    def _non_overlapping(found: list[LinkedEntity]) -> list[LinkedEntity]:
        found.sort(key=lambda x: (-x.score, -(x.span[1] - x.span[0]), x.span[0]))
        taken: set[int] = set()
        kept: list[LinkedEntity] = []
        for le in found:
            rng = set(range(*le.span))
            if rng & taken and not any(k.span == le.span for k in kept):
                continue
            taken |= rng
            kept.append(le)
        return kept
