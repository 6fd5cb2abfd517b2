"""Ranked entity search over names and aliases, for the explorer's search box.

Ranking, best first: the whole query is a name or alias of the entity; a name or alias starts with the
query; then by the share of the query's words that begin a word of a name or alias (whole words count a
little more than prefixes, so typing finds entities as one types). Ties go to the entity with more facts,
then the shorter name. Names are compared as :func:`~kgllm.types.entity_id` normalises them (case,
accents kept, underscores and spacing folded).

Examples
--------
>>> from kgllm.types import Entity
>>> index = SearchIndex([Entity.from_name("Ada Lindqvist", "PERSON", ["Ada L."]),
...                      Entity.from_name("Adam Berg", "PERSON"), Entity.from_name("Lindqvist Bay", "LOC")],
...                     degrees={"ada lindqvist": 3, "adam berg": 1})
>>> [e.name for e, _ in index.search("ada")]
['Ada Lindqvist', 'Adam Berg']
>>> [e.name for e, _ in index.search("lindq")]       # a name that starts with the query comes first
['Lindqvist Bay', 'Ada Lindqvist']
>>> [e.name for e, _ in index.search("ada l.")][:1]
['Ada Lindqvist']
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from typing import Iterable, Mapping

from kgllm.stores.base import GraphStore
from kgllm.types import Entity, entity_id

CANDIDATES = 100
"""Entities a store-backed search ranks at most per pass (the best-connected of those that match)."""

__all__ = ["SearchIndex", "search_store"]

_MAX_PREFIX_TOKENS = 5000  # words a one-letter prefix may expand to (bounds the cost of a short query)


class SearchIndex:
    """Names, aliases and degrees of every entity of one graph revision, searchable by word prefixes."""

    def __init__(self, entities: Iterable[Entity], degrees: Mapping[str, int] | None = None) -> None:
        self.entities: dict[str, Entity] = {}
        self.degrees: Mapping[str, int] = degrees or {}
        self._exact: dict[str, set[str]] = defaultdict(set)
        self._names: dict[str, list[str]] = {}
        words: dict[str, set[str]] = defaultdict(set)
        for e in entities:
            self.entities[e.id] = e
            keys = list(dict.fromkeys(k for k in (e.id, entity_id(e.name), *map(entity_id, e.aliases)) if k))
            self._names[e.id] = keys
            for key in keys:
                self._exact[key].add(e.id)
                for word in key.split():
                    words[word].add(e.id)
        self._words = dict(words)
        self._sorted = sorted(self._words)

    @classmethod
    def of(cls, store: GraphStore) -> "SearchIndex":
        """Index every entity of ``store`` with its degree (one pass over entities and facts)."""
        degrees: Counter = Counter()
        for fact in store.facts():
            degrees[fact.subject] += 1
            degrees[fact.object] += 1
        return cls(store.entities(), degrees)

    def __len__(self) -> int:
        return len(self.entities)

    def degree(self, entity_id: str) -> int:
        """Facts touching ``entity_id`` (0 when unknown)."""
        return int(self.degrees.get(entity_id, 0))

    def _prefixed(self, prefix: str) -> Iterable[str]:
        start = bisect.bisect_left(self._sorted, prefix)
        for word in self._sorted[start:start + _MAX_PREFIX_TOKENS]:
            if not word.startswith(prefix):
                break
            yield word

    def search(self, text: str, limit: int = 20) -> list[tuple[Entity, float]]:
        """Entities matching ``text``, best first, with a score (3 exact, 2 name prefix, else up to 1)."""
        key = entity_id(text)
        query = key.split()
        if not query or limit < 1:
            return []
        score: Counter = Counter()
        for word in dict.fromkeys(query):
            hit: dict[str, float] = {}
            for token in self._prefixed(word):
                weight = 1.0 if token == word else 0.8
                for eid in self._words[token]:
                    if hit.get(eid, 0.0) < weight:
                        hit[eid] = weight
            for eid, weight in hit.items():
                score[eid] += weight / len(set(query))
        for eid in self._exact.get(key, ()):
            score[eid] = 3.0
        for eid, s in list(score.items()):
            if s < 3.0 and any(name.startswith(key) for name in self._names[eid]):
                score[eid] = 2.0 + s / 10
        ranked = sorted(score.items(), key=lambda kv: (-round(kv[1], 6), -self.degree(kv[0]),
                                                        len(self.entities[kv[0]].name), kv[0]))
        return [(self.entities[eid], round(s, 4)) for eid, s in ranked[:limit]]


def search_store(store: GraphStore, text: str, limit: int = 20) -> list[tuple[Entity, float, int]]:
    """:meth:`SearchIndex.search` over a store's name index: ``(entity, score, degree)``, best first.

    The candidates are the best-connected entities with a name word starting with every query word
    (the store's ``search_names``; then with any query word when that gives fewer than ``limit``), plus
    the entities the whole query names (``match_names``); they are ranked as :class:`SearchIndex` ranks.
    A few queries of at most :data:`CANDIDATES` rows, whatever the size of the graph.
    """
    from kgllm.stores.names import token_key

    words = entity_id(text).split()
    if not words or limit < 1:
        return []
    # a one-letter word start matches a large part of a big graph: leave it to the ranking when others narrow it
    words = [w for w in words if len(w) > 1] or words
    search = getattr(store, "search_names")
    found = dict(search(words, prefix=True, any_word=False, limit=CANDIDATES))
    if len(found) < limit and len(words) > 1:
        found.update(search(words, prefix=True, any_word=True, limit=CANDIDATES))
    named = [eid for eid in store.match_names([token_key(text)]).get(token_key(text), {})  # type: ignore[attr-defined]
             if eid not in {e.id for e in found}]
    if named:
        degrees = store.degrees(named)  # type: ignore[attr-defined]
        found.update((e, degrees.get(e.id, 0)) for e in store.get_entities(named).values())  # type: ignore
    index = SearchIndex(list(found), {e.id: d for e, d in found.items()})
    return [(e, score, index.degree(e.id)) for e, score in index.search(text, limit)]
