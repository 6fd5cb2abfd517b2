"""Question-guided multi-hop retrieval: a beam search over relation paths.

The retriever links the question's entities (:class:`~kgllm.retrieve.link.EntityLinker`)
and walks the graph from them, one relation at a time, in both edge directions.
Each hop's relation is scored against the *phrases of the question not yet
explained* by the earlier hops (embedding similarity of the relation name to
the phrase), so the same word never pays for two hops. The number of hops is
not given: a path may stop after any hop, and its score is

    sum over hops of (match of the relation to its phrase - hop cost + relational weight of the phrase)

so a hop only pays when it explains a question phrase that looks like a
relation. A phrase is a run of content words (``A of B`` kept whole when it
fits some relation better than ``A`` and ``B`` do: "place of birth"). Phrases are also ordered by how closely they attach to the entity
mention (``X 's A 's B`` and ``B of A of X`` both read ``A`` then ``B``);
a path that follows that order earns a small bonus. The last hop may instead be
asked by the question's frame, the question with its explained part collapsed
to ``x`` ("where does x come from"), when no phrase left says more. A relation
walked and straight back is penalised. Candidate answers are the
end entities of the best relation paths, ties broken by how many distinct
paths reach them.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta
>>> store = MemoryStore()
>>> _ = store.upsert(GraphDelta(facts=[
...     Fact("ada", "parents", "byron"), Fact("byron", "place_of_birth", "london"),
...     Fact("ada", "place_of_birth", "marylebone"), Fact("byron", "gender", "male")]))
>>> sub = Retriever(store).retrieve("where was ada 's father born ?")
>>> [p.relations for p in sub.paths[:1]]
[('parents', 'place_of_birth')]
>>> rank_answers(sub)[0][0]
'london'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from kgllm.errors import ConfigError
from kgllm.retrieve.link import STOPWORDS, EntityLinker, LinkedEntity, tokenize
from kgllm.types import Entity, Fact, Path, Subgraph

__all__ = ["RetrieverConfig", "Retriever", "rank_answers", "relation_text"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_JOINERS = frozenset({"of"})
_CONNECTORS = frozenset({"'s", "of"})
_WH_CUES = frozenset({"where", "when", "how", "why"})
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
    >>> relation_text("birthPlace")
    'birth place'
    >>> relation_text("/people/person/nationality")
    'nationality'
    """
    parts = [p for p in re.split(r"[/.#:]", relation) if p.strip()]
    last = parts[-1] if parts else relation
    words = _CAMEL.sub(" ", last).replace("_", " ").replace("-", " ")
    return " ".join(words.lower().split()) or relation.lower()


@dataclass(slots=True)
class RetrieverConfig:
    """Settings of :class:`Retriever`.

    Attributes
    ----------
    beam_width : int
        Partial paths kept after each hop.
    max_hops : int
        Longest relation path searched (the search decides how many it uses).
    fallback_hops : int
        Radius of the neighbourhood returned when the beam finds no path.
    max_facts : int
        Most facts put in the returned subgraph.
    max_paths : int
        Most :class:`~kgllm.types.Path` objects returned.
    paths_per_entity : int
        Example paths kept per reached entity and relation path.
    hop_cost : float
        Fixed cost of every hop; a hop must explain a phrase to pay for it.
    coverage_weight : float
        Weight of the relational strength of a phrase a hop explains.
    order_bonus : float
        Bonus when a hop explains a phrase further from the entity than the previous hop.
    reverse_penalty : float
        Cost of walking an edge against its direction.
    backtrack_penalty : float
        Cost of a relation walked back right after it was walked (``r`` then reversed ``r``).
    max_span : int
        Longest question phrase (tokens) one relation may explain.
    max_seeds : int
        Linked entities the search starts from.
    """

    beam_width: int = 8
    max_hops: int = 3
    fallback_hops: int = 2
    max_facts: int = 100
    max_paths: int = 50
    paths_per_entity: int = 8
    hop_cost: float = 0.1
    coverage_weight: float = 1.0
    order_bonus: float = 0.1
    reverse_penalty: float = 0.15
    backtrack_penalty: float = 0.5
    max_span: int = 4
    max_seeds: int = 2

    def __post_init__(self) -> None:
        for name in ("beam_width", "max_hops", "max_facts", "max_paths", "paths_per_entity", "max_span",
                     "max_seeds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"RetrieverConfig.{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.fallback_hops, int) or self.fallback_hops < 0:
            raise ConfigError(f"RetrieverConfig.fallback_hops must be an integer >= 0, got {self.fallback_hops!r}")
        for name in ("hop_cost", "coverage_weight", "order_bonus", "reverse_penalty",
                     "backtrack_penalty"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ConfigError(f"RetrieverConfig.{name} must be a finite number, got {value!r}")


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    text: str
    mask: int  # bit i set: content token i is inside
    rank: int  # attachment order: lower binds closer to the entity


@dataclass(slots=True)
class _State:
    score: float
    seq: tuple[tuple[str, bool], ...]
    used: int
    last_rank: int
    frontier: dict[str, list]  # entity -> [count, [(entities, facts, forward), ...]]
    spans: tuple[int, ...] = ()
    closed: bool = False  # the last hop explained the question frame: no further hops


@dataclass(slots=True)
class _Question:
    tokens: list[str]
    spans: list[_Span]
    sims: np.ndarray  # (n_spans, n_relations)
    weight: dict[int, float]  # phrase index -> relational strength (best centred similarity)
    span_weight: list[float] = field(default_factory=list)
    mention: tuple[int, int] = (-1, -1)
    content: list[bool] = field(default_factory=list)
    frames: dict[int, tuple[np.ndarray, float] | None] = field(default_factory=dict)


class Retriever:
    """Retrieve the subgraph that answers a question.

    Parameters
    ----------
    store : GraphStore
        Graph to search.
    embedder : Embedder, optional
        Sentence embedder (default: the shared bundled MiniLM, loaded lazily).
    linker : EntityLinker, optional
        Entity linker (default: an :class:`EntityLinker` on ``store``).
    config : RetrieverConfig, optional
        Search settings.
    """

    def __init__(self, store: Any, embedder: Any = None, linker: EntityLinker | None = None,
                 config: RetrieverConfig | None = None) -> None:
        if config is not None and not isinstance(config, RetrieverConfig):
            raise ConfigError(f"config must be a RetrieverConfig, got {type(config).__name__}")
        self.store = store
        self._embedder = embedder
        self.linker = linker if linker is not None else EntityLinker(store, embedder=embedder)
        self.config = config or RetrieverConfig()
        self._relations: list[str] | None = None
        self._rel_pos: dict[str, int] = {}
        self._rel_vecs: tuple[np.ndarray, np.ndarray] | None = None
        self._vocab_words: set[str] | None = None

    # ------------------------------------------------------------ embeddings
    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from kgllm.models import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    @staticmethod
    def _views(texts: list[str]) -> tuple[list[str], list[str]]:
        # Each phrase is compared bare and in a possessive frame ("x 's parents" vs "x 's dad").
        return texts, [f"x 's {t}" for t in texts]

    def _encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        bare, framed = self._views(texts)
        vecs = self.embedder.encode(bare + framed)
        return vecs[: len(texts)], vecs[len(texts):]

    def _ensure_relations(self, extra: Iterable[str] = ()) -> None:
        if self._relations is None:
            rels = sorted({f.relation for f in self.store.facts()})
            self._relations = []
            self._add_relations(rels)
        missing = sorted({r for r in extra if r not in self._rel_pos})
        if missing:
            self._add_relations(missing)

    def _add_relations(self, rels: list[str]) -> None:
        assert self._relations is not None
        for r in rels:
            self._rel_pos[r] = len(self._relations)
            self._relations.append(r)
        texts = [relation_text(r) for r in self._relations]
        self._rel_vecs = self._encode(texts) if texts else None

    # ------------------------------------------------------------ question
    def _vocab(self) -> frozenset[str] | set[str]:
        if self._vocab_words is None:
            words: set[str] = set()
            try:
                vocab = self.embedder._load().tokenizer.get_vocab()
                words = {w for w in vocab if w.isalpha() and len(w) >= 3}
            except Exception:  # an embedder without a word-piece vocabulary: no compound splitting
                words = set()
            self._vocab_words = words
        return self._vocab_words

    def _prepare(self, tokens: list[str], mention: tuple[int, int]) -> tuple[list[str], tuple[int, int]]:
        """Split glued words ("husbanddead") and read "grand<kin>" as "<kin> 's <kin>"."""
        s, e = mention
        vocab = self._vocab()
        out: list[str] = []
        new_s = new_e = -1
        for i, tok in enumerate(tokens):
            if i == s:
                new_s = len(out)
            if s <= i < e or tok in STOPWORDS or not tok.isalpha():
                out.append(tok)
            else:
                out.extend(self._split_word(tok, vocab))
            if i == e - 1:
                new_e = len(out)
        return out, (new_s, new_e) if s >= 0 else (-1, -1)

    @staticmethod
    def _split_word(tok: str, vocab: frozenset[str] | set[str]) -> list[str]:
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
        a, b = tok[: best[1]], tok[best[1]:]
        return Retriever._split_word(a, vocab) + [b]

    def _analyse(self, tokens: list[str], mention: tuple[int, int]) -> _Question:
        tokens, (s, e) = self._prepare(tokens, mention)
        n = len(tokens)
        blocked = set(range(s, e)) if s >= 0 else set()
        is_content = [i not in blocked and t not in STOPWORDS for i, t in enumerate(tokens)]

        def rank(i: int) -> int:
            if s < 0:
                return i
            return i - e if i >= e else (n - e) + (s - i)

        # Phrases: maximal runs of content words; "A of B" is one phrase when it fits
        # some relation better than A and B do on their own ("place of birth").
        runs: list[tuple[int, int]] = []
        i = 0
        while i < n:
            if is_content[i]:
                j = i
                while j < n and is_content[j]:
                    j += 1
                runs.append((i, j))
                i = j
            else:
                i += 1
        rels = self._relations or []
        if not rels or self._rel_vecs is None:
            return _Question(tokens, [], np.zeros((0, len(rels)), np.float32), {}, [], (s, e), is_content)
        if not runs:
            q = _Question(tokens, [], np.zeros((0, len(rels)), np.float32), {}, [], (s, e), is_content)
            self._add_frames(q)
            return q
        joins = [(a, b) for a, b in zip(runs, runs[1:]) if b[0] - a[1] == 1 and tokens[a[1]] in _JOINERS]
        texts = [" ".join(tokens[a:b]) for a, b in runs] + [" ".join(tokens[a[0]:b[1]]) for a, b in joins]
        sims = self._sims(texts)
        best = {t: float(sims[k].max()) for k, t in enumerate(texts)}
        phrases: list[tuple[int, int]] = []
        for a, b in runs:
            if phrases and (phrases[-1], (a, b)) in {(x, y) for x, y in joins if x == phrases[-1]}:
                pa = " ".join(tokens[phrases[-1][0]:phrases[-1][1]])
                pb = " ".join(tokens[a:b])
                merged = " ".join(tokens[phrases[-1][0]:b])
                if merged in best and best[merged] > max(best[pa], best[pb]):
                    phrases[-1] = (phrases[-1][0], b)
                    continue
            phrases.append((a, b))
        spans: list[_Span] = []
        for a, b in phrases:
            mask = 0
            for k in range(a, b):
                if is_content[k]:
                    mask |= 1 << k
            spans.append(_Span(a, b, " ".join(tokens[a:b]), mask, min(rank(k) for k in range(a, b) if is_content[k])))
        span_sims = self._sims([sp.text for sp in spans])
        weight = {k: max(0.0, float(span_sims[k].max())) for k in range(len(spans))}
        span_weight = [weight[k] for k in range(len(spans))]
        q = _Question(tokens, spans, span_sims.astype(np.float32), weight, span_weight, (s, e), is_content)
        self._add_frames(q)
        return q

    def _frame_text(self, q: _Question, used: int) -> str | None:
        """The question with its entity and explained phrases collapsed to ``x``.

        "where does X 's kid come from" with "kid" explained reads "where does x
        come from": the last relation may be asked by the frame rather than by a
        noun ("come from", "die", "do"). None when the frame holds no cue word.
        """
        s, e = q.mention
        removed = set(range(s, e)) if s >= 0 else set()
        for sp in q.spans:
            if sp.mask & used:
                removed.update(range(sp.start, sp.end))
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
            if q.content[i] or tok in _WH_CUES or (tok == "do" and i == n - 1):
                cue = True
        while len(out) > 1 and out[-1] in _CONNECTORS and out[-2] == "x":
            out.pop()
        return " ".join(out) if cue and any(t != "x" for t in out) else None

    def _add_frames(self, q: _Question) -> None:
        """Precompute the frame similarities of every set of phrases a path can explain before its last hop."""
        from itertools import combinations

        masks: list[int] = []
        for k in range(0, min(len(q.spans), self.config.max_hops - 1) + 1):
            for combo in combinations(q.spans, k):
                m = 0
                for sp in combo:
                    m |= sp.mask
                masks.append(m)
        texts = {m: self._frame_text(q, m) for m in masks}
        unique = sorted({t for t in texts.values() if t})
        sims = self._sims(unique) if unique else np.zeros((0, 0), np.float32)
        rows = {t: sims[k].astype(np.float32) for k, t in enumerate(unique)}
        for m, t in texts.items():
            q.frames[m] = (rows[t], max(0.0, float(rows[t].max()))) if t else None

    def _frame(self, q: _Question, used: int) -> tuple[np.ndarray, float] | None:
        if used not in q.frames:
            t = self._frame_text(q, used)
            if t is None:
                q.frames[used] = None
            else:
                row = self._sims([t])[0].astype(np.float32)
                q.frames[used] = (row, max(0.0, float(row.max())))
        return q.frames[used]

    def _sims(self, texts: list[str]) -> np.ndarray:
        """Centred similarity of each text to each relation of the inventory."""
        assert self._rel_vecs is not None
        bare, framed = self._encode(texts)
        raw = 0.5 * (bare @ self._rel_vecs[0].T + framed @ self._rel_vecs[1].T)
        # What counts is how much better a relation fits than relations in general.
        return raw - raw.mean(axis=1, keepdims=True) if raw.shape[1] > 1 else raw

    # ------------------------------------------------------------ search
    def _search(self, seed: str, q: _Question, nbr_cache: dict[str, list[Fact]]) -> list[_State]:
        cfg = self.config
        start = _State(0.0, (), 0, -1, {seed: [1, [((seed,), (), ())]]})
        beam = [start]
        finished: list[_State] = []
        for _ in range(cfg.max_hops):
            candidates: list[_State] = []
            for state in beam:
                if state.closed:
                    continue
                groups: dict[tuple[str, bool], dict[str, list]] = {}
                for eid, (count, samples) in state.frontier.items():
                    facts = nbr_cache.get(eid)
                    if facts is None:
                        facts = nbr_cache[eid] = self.store.neighbors(eid, "both")
                    for fact in facts:
                        fwd = fact.subject == eid
                        nxt = fact.object if fwd else fact.subject
                        ok = [p for p in samples if not (p[1] and p[1][-1].id == fact.id)]
                        if not ok:
                            continue
                        slot = groups.setdefault((fact.relation, fwd), {}).setdefault(nxt, [0, []])
                        slot[0] += count if len(ok) == len(samples) else len(ok)
                        room = cfg.paths_per_entity - len(slot[1])
                        for ents, fs, fw in ok[:max(room, 0)]:
                            slot[1].append((ents + (nxt,), fs + (fact,), fw + (fwd,)))
                if not groups:
                    continue
                self._ensure_relations(r for r, _ in groups)
                if q.sims.shape[1] < len(self._relations or []):
                    return []  # relation inventory grew mid-question; caller re-analyses
                frame = self._frame(q, state.used) if q.spans or q.mention[0] >= 0 else None
                if frame is not None and any(not (sp.mask & state.used) and q.span_weight[k] >= frame[1]
                                             for k, sp in enumerate(q.spans)):
                    frame = None  # a phrase left unexplained says more than the frame: use it
                for (rel, fwd), frontier in groups.items():
                    col = self._rel_pos[rel]
                    options = []
                    for row, sp in enumerate(q.spans):
                        if sp.mask & state.used:
                            continue
                        value = float(q.sims[row, col]) - cfg.hop_cost + cfg.coverage_weight * q.span_weight[row]
                        if sp.rank > state.last_rank:
                            value += cfg.order_bonus
                        if not fwd:
                            value -= cfg.reverse_penalty
                        options.append((value, row))
                    if frame is not None:
                        value = float(frame[0][col]) - cfg.hop_cost + cfg.coverage_weight * frame[1] + cfg.order_bonus
                        options.append((value - (0 if fwd else cfg.reverse_penalty), -2))
                    back = bool(state.seq) and state.seq[-1] == (rel, not fwd)
                    if not options:
                        options = [(-cfg.hop_cost - (0 if fwd else cfg.reverse_penalty), -1)]
                    options.sort(reverse=True)
                    for value, row in options[:2]:
                        if back:  # r then r reversed: back to a sibling of the start, rarely meant
                            value -= cfg.backtrack_penalty
                        sp = q.spans[row] if row >= 0 else None
                        if row == -2:
                            candidates.append(_State(state.score + value, state.seq + ((rel, fwd),), -1,
                                                     1 << 30, frontier, state.spans + (row,), True))
                            continue
                        candidates.append(_State(
                            state.score + value, state.seq + ((rel, fwd),),
                            state.used | (sp.mask if sp else 0), sp.rank if sp else state.last_rank,
                            frontier, state.spans + (row,)))
            if not candidates:
                break
            candidates.sort(key=lambda st: (-st.score, st.seq))
            seen: set = set()
            beam = []
            for st in candidates:
                key = (st.seq, st.used)
                if key in seen:
                    continue
                seen.add(key)
                if st.closed:
                    if len(seen) <= 4 * cfg.beam_width:
                        finished.append(st)
                    continue
                beam.append(st)
                if len(beam) >= cfg.beam_width:
                    break
            finished.extend(beam)
        return finished

    # ------------------------------------------------------------ public
    def link(self, question: str) -> list[LinkedEntity]:
        """Entities of the question the search starts from (see :meth:`EntityLinker.link`)."""
        return self.linker.link(question, limit=self.config.max_seeds)

    def retrieve(self, question: str) -> Subgraph:
        """Return the facts, entities and ranked paths that answer ``question``.

        Parameters
        ----------
        question : str
            A natural-language question naming at least one graph entity.

        Returns
        -------
        Subgraph
            ``paths`` holds the ranked relation paths (best first, with scores),
            ``facts`` the facts of the best paths (best first), ``entities`` the
            entities they touch and ``seeds`` the linked entities. When no path
            is found the ``fallback_hops`` neighbourhood of the seeds is
            returned; with no linked entity the subgraph is empty.
        """
        cfg = self.config
        linked = self.link(question)
        if not linked:
            return Subgraph()
        tokens = tokenize(question)
        self._ensure_relations()
        nbr_cache: dict[str, list[Fact]] = {}
        states: list[tuple[float, str, _State]] = []
        for le in linked:
            q = self._analyse(tokens, le.span)
            found = self._search(le.entity_id, q, nbr_cache)
            if not found and q.sims.shape[1] < len(self._relations or []):
                q = self._analyse(tokens, le.span)
                found = self._search(le.entity_id, q, nbr_cache)
            # A weaker link costs: the score of its paths drops with its link score.
            states.extend((st.score + math.log(max(le.score, 1e-6)), le.entity_id, st) for st in found)
        seeds = [le.entity_id for le in linked]
        if not states:
            sub = self.store.subgraph(seeds, hops=cfg.fallback_hops, limit=cfg.max_facts)
            sub.seeds = [s for s in seeds if self.store.get_entity(s) is not None] or sub.seeds
            return sub
        states.sort(key=lambda x: (-x[0], len(x[2].seq), x[1], x[2].seq))
        best_per_seq: list[tuple[float, _State]] = []
        seen: set = set()
        for score, seed, st in states:
            key = (seed, st.seq)
            if key in seen:
                continue
            seen.add(key)
            best_per_seq.append((score, st))
        return self._assemble(seeds, best_per_seq)

    def _assemble(self, seeds: list[str], ranked: list[tuple[float, _State]]) -> Subgraph:
        cfg = self.config
        sub = Subgraph(seeds=list(dict.fromkeys(seeds)))
        seen_facts: set[str] = set()
        for score, st in ranked:
            ends = sorted(st.frontier.items(), key=lambda kv: (-kv[1][0], kv[0]))
            for _, (_, samples) in ends:
                for ents, facts, fwd in samples:
                    if len(sub.paths) < cfg.max_paths:
                        sub.paths.append(Path(ents, facts, fwd, round(score, 6)))
                    for f in facts:
                        if f.id not in seen_facts and len(sub.facts) < cfg.max_facts:
                            seen_facts.add(f.id)
                            sub.facts.append(f)
            if len(sub.paths) >= cfg.max_paths and len(sub.facts) >= cfg.max_facts:
                break
        for eid in list(sub.seeds) + [x for f in sub.facts for x in (f.subject, f.object)]:
            if eid not in sub.entities:
                ent = self.store.get_entity(eid)
                sub.entities[eid] = ent if ent is not None else Entity(eid, eid)
        return sub


def rank_answers(subgraph: Subgraph) -> list[tuple[str, float]]:
    """Candidate answer entities of a retrieved subgraph, best first.

    An entity's score is the best score of a path ending at it; ties keep the
    order of ``subgraph.paths`` (which puts ends reached by more paths first),
    so the end of the top path always comes first. Seeds are not answers unless
    a path ends at them.

    Parameters
    ----------
    subgraph : Subgraph
        A subgraph returned by :meth:`Retriever.retrieve`.

    Returns
    -------
    list of (str, float)
        Entity ids with their scores; empty when the subgraph has no paths.

    Examples
    --------
    >>> from kgllm.types import Fact, Path, Subgraph
    >>> f = Fact("a", "r", "b")
    >>> rank_answers(Subgraph(paths=[Path(("a", "b"), (f,), (True,), 0.9), Path(("b", "a"), (f,), (False,), 0.4)]))
    [('b', 0.9), ('a', 0.4)]
    """
    best: dict[str, float] = {}
    for path in subgraph.paths:
        if path.end not in best:
            best[path.end] = path.score
        else:
            best[path.end] = max(best[path.end], path.score)
    order = {eid: i for i, eid in enumerate(best)}
    return sorted(best.items(), key=lambda kv: (-kv[1], order[kv[0]]))
