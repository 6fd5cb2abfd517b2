"""Question analysis for retrieval: phrases, their relational weight, and question frames.

A question is read around the mention of the entity the search starts from. Its
*phrases* are runs of content words (``A of B`` kept whole when it fits some relation
better than ``A`` and ``B`` do: "place of birth"); each phrase is scored against every
relation of the graph by embedding similarity (:class:`RelationIndex`), centred so that
what counts is how much better a relation fits than relations in general. Phrases are
ordered by how closely they attach to the mention (``X 's A 's B`` and ``B of A of X``
both read ``A`` then ``B``). The *frame* of a question is the question with its mention
and explained phrases collapsed to ``x`` ("where does x come from"): the last hop may be
asked by the frame rather than by a noun.

Glued words that are not words ("cousinwed") are split into two known words ("cousin
wed"), known meaning in the embedder's word-piece vocabulary or among the words of the
graph's relation names; ``grand<kin>`` reads ``<kin> 's <kin>`` (two generations).

Examples
--------
>>> split_glued("cousinwed", {"cousin", "wed"})
['cousin', 'wed']
>>> split_glued("grandmother", set())
['mother', "'s", 'mother']
>>> relation_text("birthPlace")
'birth place'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Iterable

import numpy as np

from kgllm.retrieve.link import STOPWORDS

__all__ = ["Phrase", "Question", "RelationIndex", "analyse", "frame", "frame_text", "relation_text",
           "split_glued"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_JOINERS = frozenset({"of"})
_CONNECTORS = frozenset({"'s", "of"})
#: Question words that ask for a kind of relation on their own ("where": a place).
_WH_CUES = frozenset({"where", "when", "how", "why"})
#: Forms of "do" that, ending a question, are its main verb: it asks what someone does ("what did x do").
_STRANDED_VERBS = frozenset("do does did done doing".split())
# "grand" + a kinship word is two generations (grandfather = father 's father).
_KIN = frozenset("""father mother parent parents child children son sons daughter daughters kid kids mom dad
ma pa mum offspring heir heirs""".split())


def relation_text(relation: str) -> str:
    """Readable words of a relation name: last path segment, camelCase and ``_`` split.

    Parameters
    ----------
    relation : str
        A relation name such as ``place_of_birth``, ``birthPlace`` or
        ``people.person.nationality``.

    Returns
    -------
    str
        Lower-case words separated by single spaces.

    Examples
    --------
    >>> relation_text("place_of_birth")
    'place of birth'
    >>> relation_text("/people/person/nationality")
    'nationality'
    >>> relation_text("__people__person__place_of_birth")
    'place of birth'
    """
    parts = [p for p in re.split(r"[/.#:]|__", relation) if p.strip("_ ")]
    last = parts[-1] if parts else relation
    words = _CAMEL.sub(" ", last).replace("_", " ").replace("-", " ")
    return " ".join(words.lower().split()) or relation.lower()


def _content_words(text: str) -> frozenset[str]:
    """Content words of a text, plural ``s`` dropped ("tracks" meets "track")."""
    out = set()
    for w in text.lower().replace("_", " ").split():
        if w in STOPWORDS or not w.isalnum():
            continue
        out.add(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return frozenset(out)


class RelationIndex:
    """The relations of a graph, embedded once, and the centred similarity of texts to them.

    Parameters
    ----------
    store : GraphStore
        Graph whose relations are indexed (read on first use).
    embedder : Embedder, optional
        Sentence embedder (default: the shared bundled MiniLM, loaded lazily).
    """

    def __init__(self, store: Any, embedder: Any = None, lexical_weight: float = 0.0) -> None:
        import threading

        self.store = store
        self._embedder = embedder
        self.relations: list[str] = []
        self.position: dict[str, int] = {}
        self._vecs: tuple[np.ndarray, np.ndarray] | None = None
        self._loaded = False
        self._words: set[str] | None = None
        self._rel_words: list[frozenset[str]] | None = None
        #: Weight of the word overlap added to the embedding similarity (see :meth:`lexical`). Off by default:
        #: 0.3 cost 4 points of Hits@1 on PathQuestion 3-hop and gained nothing on PathQuestion-Large.
        self.lexical_weight = lexical_weight
        self._lock = threading.RLock()  # one thread grows the index at a time; readers never see it shrink

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from kgllm.resources import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    def reset(self) -> None:
        """The store changed: its relation names are read again on next use.

        Relations already indexed keep their places (a relation no longer in the graph stays, unused), so
        questions other threads are analysing stay valid; only relations new to the index are embedded.
        """
        with self._lock:
            self._loaded = False

    def ensure(self, extra: Iterable[str] = ()) -> None:
        """Index the store's relations (first call, and after :meth:`reset`) and any of ``extra`` not yet indexed.

        The names come from ``store.relations()`` (a small table of a SQLite graph file, one query on Neo4j),
        else from a pass over ``store.facts()``. Thread-safe.
        """
        with self._lock:
            if not self._loaded:
                listed = getattr(self.store, "relations", None)
                names = set(listed()) if callable(listed) else {f.relation for f in self.store.facts()}
                new = sorted(names - self.position.keys())
                if new:
                    self._add(new)
                self._loaded = True
            missing = sorted({r for r in extra if r not in self.position})
            if missing:
                self._add(missing)

    def _add(self, rels: list[str]) -> None:
        """Append ``rels`` (embedded once: vectors of names seen before come from the on-disk cache)."""
        from kgllm.stores.vectors import VectorCache

        relations = self.relations + list(rels)
        texts = [relation_text(r) for r in relations]
        cache = VectorCache(self.embedder)
        asked = texts + [f"x 's {t}" for t in texts]
        cache.prime(asked)
        vecs = self._encode(texts) if texts else None
        cache.remember(asked)
        self._vecs = vecs
        self.relations = relations
        self.position = {**self.position, **{r: i for i, r in enumerate(relations) if r not in self.position}}
        self._words = None
        self._rel_words = None

    def _encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        # Each text is compared bare and in a possessive frame ("x 's parents" vs "x 's dad").
        vecs = self.embedder.encode(list(texts) + [f"x 's {t}" for t in texts])
        return vecs[: len(texts)], vecs[len(texts):]

    def lexical(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), n_relations)`` word overlap: shared content words over the larger word count.

        A question that names a relation almost literally ("people born here") meets it exactly (1.0),
        which embeddings alone may rank below a paraphrase of another relation.
        """
        if self._rel_words is None:
            self._rel_words = [_content_words(relation_text(r)) for r in self.relations]
        out = np.zeros((len(texts), len(self.relations)), np.float32)
        for i, t in enumerate(texts):
            words = _content_words(t)
            if not words:
                continue
            for j, rw in enumerate(self._rel_words):
                common = len(words & rw)
                if common:
                    out[i, j] = common / max(len(words), len(rw))
        return out

    def sims(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), n_relations)`` similarities, centred per text over the relations."""
        if self._vecs is None or not texts:
            return np.zeros((len(texts), len(self.relations)), np.float32)
        bare, framed = self._encode(texts)
        raw = 0.5 * (bare @ self._vecs[0].T + framed @ self._vecs[1].T) + self.lexical_weight * self.lexical(texts)
        # What counts is how much better a relation fits than relations in general.
        return raw - raw.mean(axis=1, keepdims=True) if raw.shape[1] > 1 else raw

    def words(self) -> set[str]:
        """Known words for splitting glued tokens: the embedder's whole-word vocabulary and relation words."""
        if self._words is None:
            words = {w for r in self.relations for w in relation_text(r).split() if w.isalpha() and len(w) >= 3}
            load = getattr(self.embedder, "_load", None)
            try:
                vocab = load().tokenizer.get_vocab() if load is not None else {}
            except (AttributeError, OSError, TypeError):  # no word-piece vocabulary: relation words only
                vocab = {}
            words.update(w for w in vocab if w.isalpha() and len(w) >= 3)
            self._words = words
        return self._words


def split_glued(tok: str, vocab: set[str] | frozenset[str]) -> list[str]:
    """Split a token that is not a known word into known words; ``grand<kin>`` into ``<kin> 's <kin>``.

    The split keeping the shorter part longest wins; the left part is split again when it can be.
    Tokens shorter than 6 characters, or already known, are kept.

    Examples
    --------
    >>> split_glued("nieceborn", {"niece", "born", "nie", "ceborn"})
    ['niece', 'born']
    >>> split_glued("river", {"riv", "er"})
    ['river']
    """
    if tok.startswith("grand") and tok[5:] in _KIN:
        return [tok[5:], "'s", tok[5:]]
    if not vocab or tok in vocab or len(tok) < 6:
        return [tok]
    best: tuple[int, int] | None = None
    for k in range(3, len(tok) - 2):
        a, b = tok[:k], tok[k:]
        if a in vocab and b in vocab:
            cand = (min(len(a), len(b)), k)
            best = max(best, cand) if best else cand
    if best is None:
        return [tok]
    return split_glued(tok[: best[1]], vocab) + [tok[best[1]:]]


@dataclass(slots=True)
class Phrase:
    """A run of question words one relation may explain."""

    start: int
    end: int
    text: str
    mask: int  # bit i set: content token i is inside
    rank: int  # attachment order: lower binds closer to the entity


@dataclass(slots=True)
class Question:
    """A question analysed around one entity mention (token span ``mention``)."""

    tokens: list[str]
    phrases: list[Phrase]
    sims: np.ndarray  # (n_phrases, n_relations)
    weight: list[float] = field(default_factory=list)  # relational strength of each phrase
    mention: tuple[int, int] = (-1, -1)
    content: list[bool] = field(default_factory=list)
    frames: dict[int, tuple[np.ndarray, float] | None] = field(default_factory=dict)


def _prepare(tokens: list[str], mention: tuple[int, int],
             vocab: set[str]) -> tuple[list[str], tuple[int, int], set[int]]:
    """Split the glued words outside the mention; the mention's span moves with the split.

    Also returns the token indices that start a new phrase: each part of a glued word
    is a phrase of its own (two words run together, as "cousinwed" is "cousin" then "wed").
    """
    s, e = mention
    out: list[str] = []
    breaks: set[int] = set()
    new_s = new_e = -1
    for i, tok in enumerate(tokens):
        if i == s:
            new_s = len(out)
        if s <= i < e or tok in STOPWORDS or not tok.isalpha():
            out.append(tok)
        else:
            parts = split_glued(tok, vocab)
            if len(parts) > 1:
                breaks.update(range(len(out), len(out) + len(parts) + 1))
            out.extend(parts)
        if i == e - 1:
            new_e = len(out)
    return out, ((new_s, new_e) if s >= 0 else (-1, -1)), breaks


def _runs(is_content: list[bool], breaks: set[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    i, n = 0, len(is_content)
    while i < n:
        if is_content[i]:
            j = i + 1
            while j < n and is_content[j] and j not in breaks:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def analyse(tokens: list[str], mention: tuple[int, int], index: RelationIndex, max_hops: int) -> Question:
    """Phrases of ``tokens`` around ``mention`` with their similarity to every relation of ``index``.

    ``max_hops`` bounds the sets of phrases whose frames are precomputed.
    """
    tokens, (s, e), breaks = _prepare(tokens, mention, index.words() if index.relations else set())
    n = len(tokens)
    blocked = set(range(s, e)) if s >= 0 else set()
    is_content = [i not in blocked and t not in STOPWORDS for i, t in enumerate(tokens)]
    n_rel = len(index.relations)

    def rank(i: int) -> int:
        if s < 0:
            return i
        return i - e if i >= e else (n - e) + (s - i)

    empty = Question(tokens, [], np.zeros((0, n_rel), np.float32), [], (s, e), is_content)
    if not n_rel:
        return empty
    runs = _runs(is_content, breaks)
    if not runs:
        _add_frames(empty, index, max_hops)
        return empty
    joins = {(a, b) for a, b in zip(runs, runs[1:]) if b[0] - a[1] == 1 and tokens[a[1]] in _JOINERS}
    texts = [" ".join(tokens[a:b]) for a, b in runs] + [" ".join(tokens[a[0]:b[1]]) for a, b in sorted(joins)]
    sims = index.sims(texts)
    best = {t: float(sims[k].max()) for k, t in enumerate(texts)}
    spans: list[tuple[int, int]] = []
    for a, b in runs:
        if spans and (spans[-1], (a, b)) in joins:
            merged = " ".join(tokens[spans[-1][0]:b])
            parts = (" ".join(tokens[spans[-1][0]:spans[-1][1]]), " ".join(tokens[a:b]))
            if merged in best and best[merged] > max(best[parts[0]], best[parts[1]]):
                spans[-1] = (spans[-1][0], b)
                continue
        spans.append((a, b))
    phrases: list[Phrase] = []
    for a, b in spans:
        mask = 0
        for k in range(a, b):
            if is_content[k]:
                mask |= 1 << k
        phrases.append(Phrase(a, b, " ".join(tokens[a:b]), mask,
                              min(rank(k) for k in range(a, b) if is_content[k])))
    phrase_sims = index.sims([p.text for p in phrases])
    weight = [max(0.0, float(phrase_sims[k].max())) for k in range(len(phrases))]
    q = Question(tokens, phrases, phrase_sims.astype(np.float32), weight, (s, e), is_content)
    _add_frames(q, index, max_hops)
    return q


def frame_text(q: Question, used: int) -> str | None:
    """The question with its entity and explained phrases collapsed to ``x``.

    "where does X 's kid come from" with "kid" explained reads "where does x come
    from": the last relation may be asked by the frame rather than by a noun. None
    when the frame holds no cue: no content word, no question word that asks for a
    kind of relation, and no verb ending the question.
    """
    s, e = q.mention
    removed = set(range(s, e)) if s >= 0 else set()
    for p in q.phrases:
        if p.mask & used:
            removed.update(range(p.start, p.end))
    # A question word asks about the predicate when it is explained: "where was x born" is
    # answered by what "born" names. A phrase is the predicate when it follows the mention
    # without "'s"/"of" binding it to the mention ("where is x 's father" asks on).
    wh_spent = s >= 0 and any(p.mask & used and p.start >= e and q.tokens[p.start - 1] not in _CONNECTORS
                              for p in q.phrases)
    out: list[str] = []
    cue = False
    n = len(q.tokens)
    for i, tok in enumerate(q.tokens):
        if i in removed:
            while len(out) > 1 and out[-1] in _CONNECTORS and out[-2] == "x":
                out.pop()
            if not out or out[-1] != "x":
                out.append("x")
            continue
        out.append(tok)
        if q.content[i] or (tok in _WH_CUES and not wh_spent) or (i == n - 1 and tok in _STRANDED_VERBS):
            cue = True
    while len(out) > 1 and out[-1] in _CONNECTORS and out[-2] == "x":
        out.pop()
    return " ".join(out) if cue and any(t != "x" for t in out) else None


def _add_frames(q: Question, index: RelationIndex, max_hops: int) -> None:
    """Precompute the frame similarities of every set of phrases a path can explain before its last hop."""
    masks: list[int] = []
    for k in range(0, min(len(q.phrases), max_hops - 1) + 1):
        for combo in combinations(q.phrases, k):
            m = 0
            for p in combo:
                m |= p.mask
            masks.append(m)
    texts = {m: frame_text(q, m) for m in masks}
    unique = sorted({t for t in texts.values() if t})
    sims = index.sims(unique) if unique else np.zeros((0, 0), np.float32)
    rows = {t: sims[k].astype(np.float32) for k, t in enumerate(unique)}
    for m, t in texts.items():
        q.frames[m] = (rows[t], max(0.0, float(rows[t].max()))) if t else None


def frame(q: Question, used: int, index: RelationIndex) -> tuple[np.ndarray, float] | None:
    """Similarity row and relational weight of the frame left once ``used`` is explained (None: no frame)."""
    if used not in q.frames:
        t = frame_text(q, used)
        if t is None:
            q.frames[used] = None
        else:
            row = index.sims([t])[0].astype(np.float32)
            q.frames[used] = (row, max(0.0, float(row.max())))
    return q.frames[used]
