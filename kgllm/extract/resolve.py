"""Entity resolution: decide which raw entity ids denote the same thing.

:class:`EntityResolver` leaves facts and entities as the extractor made them
and adds :class:`~kgllm.types.Merge` records (``alias -> canonical``) that a
store applies (and can undo). Methods, tried in this order:

1. **normalisation** -- already done by :func:`~kgllm.types.entity_id`
   ("Marie  CURIE" and "marie curie" are one id);
2. **alias** (``method="alias"``) -- inside one document, a short name whose
   tokens are a subset of exactly one longer PERSON/ORG mention of that
   document ("Curie", "Marie" -> "Marie Curie"). A short name that points to
   different long names in different documents is left alone, and so is one
   a fact of the document relates to the long name, or that follows its "of"
   ("Bergen" is not "University of Bergen");
3. **fuzzy** (``method="fuzzy"``) -- rapidfuzz ``ratio`` of the ids with
   punctuation removed ("Kvarnvik BK" ~ "Kvarnvik B.K.") at or above
   :attr:`ResolverConfig.fuzzy_threshold`;
4. **embedding** (``method="embedding"``) -- cosine similarity of the names'
   sentence embeddings at or above :attr:`ResolverConfig.embedding_threshold`
   (never for PERSON names: embeddings of personal names say little about identity).

5. **person** (``method="person"``) -- two names of people (at least one typed
   PERSON) are one person when, titles ("Dr.", "Professor") and possessives
   ("Brandt's") aside, their surnames are equal and their given names agree word
   by word, an initial standing for a name ("I. Brandt", "Ilse Brandt"), and
   the shorter name fits no other person of that surname ("I. Brandt" beside
   "Ilse Brandt" and "Ingrid Brandt" stays apart).

Candidates for 3 to 5 are the delta's entities and the given store's. To stay
conservative a pair is merged only when the types are compatible (equal, one
unknown, or both person/organisation-like, or both place-like), the numbers in
the names are identical ("Kvarnvik 11" is not "Kvarnvik 12"), two multi-word
names that end alike begin alike ("Liv Xander" is not "Ivo Xander", "North
Stars FC" not "South Stars FC"), and a single short word is not a letter away
from another ("layer" is not "player"). Names of people are never merged by
spelling or embeddings, only by 2 and 5: different given names, or surnames a
letter apart, are different people unless the text says otherwise. The
canonical side is the more complete name (more words, then more characters; an
existing store entity wins ties); records are flattened so that every alias
points straight at a canonical entity that is no alias itself (acyclic).

Examples
--------
>>> from kgllm.extract.resolve import EntityResolver, ResolverConfig
>>> from kgllm.types import Entity, Fact, GraphDelta, Provenance
>>> p = Provenance("d1", 0)
>>> delta = GraphDelta(
...     entities=[Entity("marie curie", "Marie Curie", "PERSON"), Entity("curie", "Curie", "PERSON"),
...               Entity("warsaw", "Warsaw", "GPE")],
...     facts=[Fact("marie curie", "born_in", "warsaw", provenance=(p,)),
...            Fact("curie", "work_in", "warsaw", provenance=(p,))])
>>> out = EntityResolver(ResolverConfig(use_embeddings=False)).resolve(delta)
>>> [(m.alias, m.canonical, m.method) for m in out.merges]
[('curie', 'marie curie', 'alias')]
>>> [e.aliases for e in out.entities if e.id == "marie curie"]
[('Curie',)]
>>> same_person("Dr. Ilse Brandt", "I. Brandt"), same_person("Liv Xander", "Ivo Xander")
(True, False)
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from kgllm.errors import ConfigError
from kgllm.types import Entity, GraphDelta, Merge, entity_id

__all__ = ["ResolverConfig", "EntityResolver", "person_words", "same_person", "surname"]

_AGENTS = {"PERSON", "ORG", "NORP"}
_PLACES = {"GPE", "LOC", "FAC"}
_ALIAS_TYPES = {"PERSON", "ORG"}
_PUNCT = re.compile(r"[^\w\s]+")
_DIGITS = re.compile(r"\d+")
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "prof", "professor", "sir", "dame", "lord", "lady", "rev", "reverend",
           "capt", "captain", "col", "colonel", "gen", "general", "judge", "madam", "mme", "mlle", "herr", "frau",
           "fr", "father", "sister", "brother", "saint", "st"}
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}
_STOP = {"the", "of", "and", "a", "an", "de", "van", "von", "la", "le"} | _SUFFIXES | _TITLES
_POSSESSIVE = re.compile(r"['’]s\b")
_SHORT = 8  # a single word this short merges by spelling only when its key is the same


@dataclass(slots=True)
class ResolverConfig:
    """Thresholds of :class:`EntityResolver`.

    Parameters
    ----------
    fuzzy_threshold : float
        Minimum rapidfuzz ``ratio`` (0-100) for a fuzzy merge.
    embedding_threshold : float
        Minimum cosine similarity (0-1) of name embeddings for an embedding merge.
    use_embeddings : bool
        Whether to compare name embeddings at all (loads the embedder).

    Examples
    --------
    >>> ResolverConfig(fuzzy_threshold=95).fuzzy_threshold
    95
    >>> ResolverConfig(embedding_threshold=1.5)
    Traceback (most recent call last):
    ...
    kgllm.errors.ConfigError: embedding_threshold must be in (0, 1], got 1.5
    """

    fuzzy_threshold: float = 90.0
    embedding_threshold: float = 0.85
    use_embeddings: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.fuzzy_threshold, bool) or not isinstance(self.fuzzy_threshold, (int, float)) \
                or not 0 < self.fuzzy_threshold <= 100:
            raise ConfigError(f"fuzzy_threshold must be in (0, 100] (rapidfuzz scale), got {self.fuzzy_threshold!r}")
        if isinstance(self.embedding_threshold, bool) or not isinstance(self.embedding_threshold, (int, float)) \
                or not 0 < self.embedding_threshold <= 1:
            raise ConfigError(f"embedding_threshold must be in (0, 1], got {self.embedding_threshold!r}")
        if not isinstance(self.use_embeddings, bool):
            raise ConfigError(f"use_embeddings must be a bool, got {self.use_embeddings!r}")


@dataclass(slots=True)
class _Node:
    id: str
    name: str
    type: str
    in_store: bool
    docs: tuple[str, ...]


def _compatible(a: str, b: str) -> bool:
    if not a or not b or a == b:
        return True
    return (a in _AGENTS and b in _AGENTS) or (a in _PLACES and b in _PLACES)


def _key(name: str) -> str:
    return " ".join(_PUNCT.sub(" ", _POSSESSIVE.sub("", entity_id(name))).split())


_FOLD = str.maketrans({"ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})


def _ascii(word: str) -> str:
    """``word`` without diacritics (``skłodowska`` -> ``sklodowska``, ``søren`` -> ``soren``)."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", word.translate(_FOLD)) if not unicodedata.combining(ch))


def _words(name: str) -> list[str]:
    return _key(name).split()


def _named(name: str) -> set[str]:
    """The words of a name that name something (``"Professor Brandt"`` -> ``{"brandt"}``)."""
    return set(_words(name)) - _STOP


def _after_of(words: set[str], name: str) -> bool:
    """Whether ``words`` all come after an "of" in ``name``: "Bergen" in "University of Bergen" is the place.

    >>> _after_of({"bergen"}, "University of Bergen"), _after_of({"fjordcell"}, "Fjordcell AS")
    (True, False)
    """
    long = _words(name)
    return "of" in long and words <= set(long[long.index("of") + 1:])


def person_words(name: str) -> list[str]:
    """The words of a person's name that identify them: titles, suffixes and a possessive left out.

    >>> person_words("Dr. Ilse M. Brandt's"), person_words("Professor Brandt"), person_words("Sir")
    (['ilse', 'm', 'brandt'], ['brandt'], ['sir'])
    """
    words = [_ascii(w) for w in _words(name)]
    while len(words) > 1 and words[0] in _TITLES:
        words = words[1:]
    while len(words) > 1 and words[-1] in _SUFFIXES:
        words = words[:-1]
    return words


def surname(name: str) -> str:
    """The last identifying word of a name (``""`` for a name without words): people who may be one share it.

    >>> surname("Ilse Brandt's"), surname("I. Brandt Jr.")
    ('brandt', 'brandt')
    """
    words = person_words(name)
    return words[-1] if words else ""


def _initial_fits(a: str, b: str) -> bool:
    return a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))


def same_person(a: str, b: str) -> bool:
    """Whether two names can only be one person's: equal surnames, given names that agree word by word (an
    initial fits a name that starts with it; one name may have more given names than the other).

    A bare surname ("Brandt") is never enough: whose it is, only its document can say.

    >>> same_person("I. M. Brandt", "Ilse Marie Brandt"), same_person("Ilse Brandt", "Ilse Marie Brandt")
    (True, True)
    >>> same_person("Ilse Brandt", "Tomas Brandt"), same_person("Ilse Brandt", "Ilse Brant")
    (False, False)
    >>> same_person("Brandt", "Ilse Brandt")
    False
    """
    wa, wb = person_words(a), person_words(b)
    if len(wa) < 2 or len(wb) < 2 or wa[-1] != wb[-1]:
        return False
    return all(_initial_fits(x, y) for x, y in zip(wa[:-1], wb[:-1]))


class EntityResolver:
    """Propose merges between entity ids of a delta (and of a store).

    Parameters
    ----------
    config : ResolverConfig, optional
        Thresholds; defaults to ``ResolverConfig()``.
    embedder : kgllm.resources.Embedder, optional
        Sentence embedder for the embedding method; default the shared one,
        loaded only when embeddings are used and there is something to compare.
    """

    def __init__(self, config: ResolverConfig | None = None, embedder: Any = None) -> None:
        if config is not None and not isinstance(config, ResolverConfig):
            raise ConfigError(f"config must be a ResolverConfig, got {type(config).__name__}")
        self.config = config or ResolverConfig()
        self._embedder = embedder

    @property
    def embedder(self):
        """The sentence embedder (loaded lazily)."""
        if self._embedder is None:
            from kgllm.resources import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    def resolve(self, delta: GraphDelta, store: Any = None) -> GraphDelta:
        """Return ``delta`` plus merge records and the aliases they imply.

        Parameters
        ----------
        delta : GraphDelta
            Raw extractor output (facts carry provenance with document ids).
        store : GraphStore, optional
            Existing graph whose entities are candidate canonicals (anything with
            ``entities()`` and ``get_entity(id)``).

        Returns
        -------
        GraphDelta
            The same facts, the entities with alias surface forms added to each
            canonical (store canonicals are added as entities carrying the new
            aliases), and the input merges followed by the new ones.
        """
        nodes = self._nodes(delta, store)
        taken = {m.alias for m in delta.merges}
        parent: dict[str, tuple[str, str, float, str]] = {}  # alias -> (canonical, method, score, doc)

        def root(eid: str) -> str:
            seen = set()
            while eid in parent and eid not in seen:
                seen.add(eid)
                eid = parent[eid][0]
            return eid

        def join(a: str, b: str, method: str, score: float, doc: str) -> None:
            ra, rb = root(a), root(b)
            if ra == rb or ra in taken or rb in taken:
                return
            canonical, alias = sorted((ra, rb), key=lambda e: self._rank(nodes[e]), reverse=True)
            parent[alias] = (canonical, method, score, doc)

        for alias, canonical, doc in self._aliases(delta, nodes):
            join(alias, canonical, "alias", 1.0, doc)
        for a, b, method, score in self._people(nodes) + self._similar(nodes):
            join(a, b, method, score, nodes[a].docs[0] if nodes[a].docs else nodes[b].docs[0] if nodes[b].docs else "")

        merges = list(delta.merges)
        new_aliases: dict[str, list[str]] = defaultdict(list)
        for alias, (_, method, score, doc) in parent.items():
            canonical = root(alias)
            merges.append(Merge(alias, canonical, method, round(float(score), 4), doc))
            new_aliases[canonical].append(nodes[alias].name)
        entities = []
        for e in delta.entities:
            extra = [a for a in new_aliases.pop(e.id, []) if a != e.name and a not in e.aliases]
            entities.append(Entity(e.id, e.name, e.type, (*e.aliases, *extra)) if extra else e)
        for canonical, names in new_aliases.items():  # canonicals that live only in the store
            node = nodes[canonical]
            entities.append(Entity(canonical, node.name, node.type, tuple(dict.fromkeys(names))))
        return GraphDelta(entities=entities, facts=list(delta.facts), merges=merges)

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _rank(node: _Node) -> tuple[int, int, int, bool, str]:
        words = [w for w in _words(node.name) if w not in _TITLES] or _words(node.name)  # "Dr." adds nothing
        return (len(words), len(" ".join(words)), -len(node.name), node.in_store, node.id)

    @staticmethod
    def _nodes(delta: GraphDelta, store: Any) -> dict[str, _Node]:
        docs: dict[str, dict[str, None]] = defaultdict(dict)
        for f in delta.facts:
            for p in f.provenance:
                docs[f.subject][p.doc_id] = None
                docs[f.object][p.doc_id] = None
        nodes: dict[str, _Node] = {}
        if store is not None:
            for e in store.entities():
                nodes[e.id] = _Node(e.id, e.name, e.type, True, ())
        for e in delta.entities:
            old = nodes.get(e.id)
            if old is not None:
                old.docs = tuple(docs.get(e.id, ()))
                old.type = old.type or e.type
                continue
            nodes[e.id] = _Node(e.id, e.name, e.type, False, tuple(docs.get(e.id, ())))
        for f in delta.facts:  # ids used by facts without an entity record
            for eid in (f.subject, f.object):
                if eid not in nodes:
                    nodes[eid] = _Node(eid, eid, "", False, tuple(docs.get(eid, ())))
        return nodes

    @staticmethod
    def _aliases(delta: GraphDelta, nodes: dict[str, _Node]) -> list[tuple[str, str, str]]:
        """In-document short names that are a token subset of exactly one longer PERSON/ORG name."""
        by_doc: dict[str, set[str]] = defaultdict(set)
        related = {frozenset((f.subject, f.object)) for f in delta.facts}  # a fact between two names: two things
        for f in delta.facts:
            for p in f.provenance:
                by_doc[p.doc_id].update((f.subject, f.object))
        choice: dict[str, set[str]] = defaultdict(set)
        first_doc: dict[str, str] = {}
        for doc, ids in by_doc.items():
            longs = [nodes[i] for i in ids if nodes[i].type in _ALIAS_TYPES and len(_named(nodes[i].name)) > 1]
            for eid in ids:
                short = nodes[eid]
                words = set(_words(short.name)) - _STOP
                if not words or not any(ch.isupper() for ch in short.name) or any(w.isdigit() for w in words):
                    continue
                hits = [n for n in longs if n.id != eid and _compatible(short.type, n.type)
                        and len(_named(n.name)) > len(words) and words <= set(_words(n.name))
                        and frozenset((eid, n.id)) not in related and not _after_of(words, n.name)]
                if not hits:
                    continue
                best = max(hits, key=lambda n: len(_words(n.name)))
                if all(set(_words(h.name)) <= set(_words(best.name)) for h in hits):
                    choice[eid].add(best.id)
                else:
                    choice[eid].add("")  # ambiguous in this document
                first_doc.setdefault(eid, doc)
        return [(eid, next(iter(c)), first_doc[eid]) for eid, c in sorted(choice.items())
                if len(c) == 1 and "" not in c]

    @staticmethod
    def _people(nodes: dict[str, _Node]) -> list[tuple[str, str, str, float]]:
        """Pairs of names that can only be one person's (:func:`same_person`), where neither name fits a second,
        different person of the same surname; at least one side new."""
        by_surname: dict[str, list[_Node]] = defaultdict(list)
        for n in nodes.values():
            if (n.type in _AGENTS or not n.type) and len(person_words(n.name)) > 1:  # NER often calls people ORG
                by_surname[surname(n.name)].append(n)
        pairs = []
        for group in by_surname.values():
            if len(group) < 2 or not any(n.type == "PERSON" for n in group):
                continue
            fits = {n.id: [m for m in group if m.id != n.id and same_person(n.name, m.name)] for n in group}
            clear = {n.id for n in group if all(same_person(x.name, y.name) for x, y in combinations(fits[n.id], 2))}
            for n in group:
                for m in fits[n.id]:
                    new = (not n.in_store or bool(n.docs)) or (not m.in_store or bool(m.docs))
                    if n.id < m.id and n.id in clear and m.id in clear and new and "PERSON" in (n.type, m.type):
                        pairs.append((n.id, m.id, "person", 100.0))
        return sorted(pairs)

    def _similar(self, nodes: dict[str, _Node]) -> list[tuple[str, str, str, float]]:
        """Fuzzy and embedding pairs (at least one side new), best first."""
        from rapidfuzz import fuzz, process

        ids = sorted(nodes)
        new = [i for i in ids if not nodes[i].in_store or nodes[i].docs]
        if not new or len(ids) < 2:
            return []
        keys = [_key(nodes[i].name) for i in ids]
        index = {eid: k for k, eid in enumerate(ids)}
        pairs: dict[tuple[str, str], tuple[str, float]] = {}
        new_keys = [keys[index[i]] for i in new]
        scores = process.cdist(new_keys, keys, scorer=fuzz.ratio, score_cutoff=self.config.fuzzy_threshold,
                               dtype=np.float32, workers=1)
        rows, cols = np.nonzero(scores)
        for r, c in zip(rows.tolist(), cols.tolist()):
            a, b = new[r], ids[c]
            if a != b and self._allowed(nodes[a], nodes[b], fuzzy=True):
                pairs.setdefault(tuple(sorted((a, b))), ("fuzzy", float(scores[r, c])))
        if self.config.use_embeddings:
            cand = [i for i in ids if nodes[i].type != "PERSON" and not _DIGITS.fullmatch(keys[index[i]] or "0")]
            cand_new = [i for i in new if i in set(cand)]
            if cand_new and len(cand) > 1:
                vec = self.embedder.encode([nodes[i].name for i in cand])
                pos = {eid: k for k, eid in enumerate(cand)}
                sims = vec[[pos[i] for i in cand_new]] @ vec.T
                rows, cols = np.nonzero(sims >= self.config.embedding_threshold)
                for r, c in zip(rows.tolist(), cols.tolist()):
                    a, b = cand_new[r], cand[c]
                    key = tuple(sorted((a, b)))
                    if a != b and key not in pairs and self._allowed(nodes[a], nodes[b], fuzzy=False):
                        pairs[key] = ("embedding", float(sims[r, c]))
        # fuzzy pairs first, then embedding pairs, each best first
        ordered = sorted(pairs.items(), key=lambda kv: (kv[1][0] != "fuzzy", -kv[1][1], kv[0]))
        return [(a, b, method, score) for (a, b), (method, score) in ordered]

    @staticmethod
    def _allowed(a: _Node, b: _Node, fuzzy: bool) -> bool:
        if a.in_store and b.in_store and not (a.docs or b.docs):
            return False  # both already in the store: not this delta's business
        if not _compatible(a.type, b.type):
            return False
        if _DIGITS.findall(a.name) != _DIGITS.findall(b.name):
            return False
        wa, wb = _words(a.name), _words(b.name)
        if not wa or not wb:
            return False
        if "PERSON" in (a.type, b.type):
            return False  # people: by alias in a document or by the person rule only, never by spelling
        abbreviates = wa[0].startswith(wb[0]) or wb[0].startswith(wa[0])   # "Univ." / "University"
        if len(wa) > 1 and len(wb) > 1 and wa[-1] == wb[-1] and not abbreviates:
            return False  # "Liv Xander" / "Ivo Xander", "North Stars FC" / "South Stars FC"
        if fuzzy and len(wa) == 1 and len(wb) == 1 and min(len(wa[0]), len(wb[0])) < _SHORT and wa != wb:
            return False  # "layer" / "player": one letter is a different word
        return True
