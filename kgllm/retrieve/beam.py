"""Beam search over relation paths from one linked entity.

The search walks the graph one relation at a time, in both edge directions. Each
hop's relation is scored against the question phrases not yet explained by earlier
hops (:mod:`kgllm.retrieve.question`), so the same word never pays for two hops. The
number of hops is not given: a path may stop after any hop, and its score is

    sum over hops of (match of the relation to its phrase - hop cost + relational weight of the phrase)

so a hop only pays when it explains a phrase that looks like a relation. A path that
follows the phrases' attachment order earns a small bonus. The last hop may instead be
asked by the question's frame when no phrase left says more (see
:func:`~kgllm.retrieve.question.frame_text`). A relation walked and straight back is penalised. Partial
paths are grouped by their relation sequence: one beam state stands for every entity
the sequence reaches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kgllm.errors import ConfigError
from kgllm.retrieve.question import Question, RelationIndex, frame
from kgllm.types import Fact

__all__ = ["RetrieverConfig", "BeamState", "search"]


@dataclass(slots=True)
class RetrieverConfig:
    """Settings of :class:`~kgllm.retrieve.subgraph.Retriever`.

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
    type_penalty : float
        Cost of an answer of another kind than the question asks for, when its kind is read from the shape
        of its name (a year for "who"): shapes are reliable.
    label_penalty : float
        The same when the kind comes only from an NER label (a name tagged as a place for "who"): small-model
        NER often mislabels names, so this is a tie-breaker, not a veto.
    type_bonus : float
        Bonus of an answer of the kind the question asks for (see :mod:`kgllm.retrieve.answer_type`);
        small, a tie-breaker: the kind alone does not say which of two places was asked.
    noun_bonus : float
        Bonus of an answer the graph says is what "which X" asks (``is_a X``, ``X_in``).

    Examples
    --------
    >>> RetrieverConfig(max_hops=2).beam_width
    8
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
    type_penalty: float = 0.5
    label_penalty: float = 0.1
    type_bonus: float = 0.02
    noun_bonus: float = 0.2

    def __post_init__(self) -> None:
        for name in ("beam_width", "max_hops", "max_facts", "max_paths", "paths_per_entity", "max_span",
                     "max_seeds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"RetrieverConfig.{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.fallback_hops, int) or self.fallback_hops < 0:
            raise ConfigError(f"RetrieverConfig.fallback_hops must be an integer >= 0, got {self.fallback_hops!r}")
        for name in ("hop_cost", "coverage_weight", "order_bonus", "reverse_penalty",
                     "backtrack_penalty", "type_penalty", "label_penalty", "type_bonus", "noun_bonus"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ConfigError(f"RetrieverConfig.{name} must be a finite number, got {value!r}")


@dataclass(slots=True)
class BeamState:
    """A relation sequence walked from the seed and every entity it reaches.

    ``frontier`` maps each reached entity to ``[number of paths, example paths]``, an
    example path being ``(entities, facts, forward flags)``.
    """

    score: float
    seq: tuple[tuple[str, bool], ...]
    used: int  # bit mask of the question tokens explained so far
    last_rank: int
    frontier: dict[str, list]
    spans: tuple[int, ...] = ()
    closed: bool = False  # the last hop explained the question frame: no further hops


_FRAME = -2   # phrase row of a hop explained by the question frame
_NOTHING = -1  # phrase row of a hop that explains nothing


def _expand(state: BeamState, nbr_cache: dict[str, list[Fact]], store: Any,
            per_entity: int) -> dict[tuple[str, bool], dict[str, list]]:
    """The next hop's frontiers, grouped by (relation, walked forward)."""
    groups: dict[tuple[str, bool], dict[str, list]] = {}
    for eid, (count, samples) in state.frontier.items():
        facts = nbr_cache.get(eid)
        if facts is None:
            facts = nbr_cache[eid] = store.neighbors(eid, "both")
        for fact in facts:
            fwd = fact.subject == eid
            nxt = fact.object if fwd else fact.subject
            # The fact just walked is not walked straight back, unless it loops (x r x): that stays put.
            ok = [p for p in samples if not (p[1] and p[1][-1].id == fact.id and fact.subject != fact.object)]
            if not ok:
                continue
            slot = groups.setdefault((fact.relation, fwd), {}).setdefault(nxt, [0, []])
            slot[0] += count if len(ok) == len(samples) else len(ok)
            room = per_entity - len(slot[1])
            for ents, fs, fw in ok[:max(room, 0)]:
                slot[1].append((ents + (nxt,), fs + (fact,), fw + (fwd,)))
    return groups


def _options(state: BeamState, q: Question, col: int, fwd: bool, fr: tuple | None,
             cfg: RetrieverConfig) -> list[tuple[float, int]]:
    """Scores of explaining each unexplained phrase (or the frame) with relation column ``col``."""
    reverse = 0.0 if fwd else cfg.reverse_penalty
    options = []
    for row, p in enumerate(q.phrases):
        if p.mask & state.used:
            continue
        value = float(q.sims[row, col]) - cfg.hop_cost + cfg.coverage_weight * q.weight[row]
        if p.rank > state.last_rank:
            value += cfg.order_bonus
        options.append((value - reverse, row))
    if fr is not None:
        row_sims, strength = fr
        value = float(row_sims[col]) - cfg.hop_cost + cfg.coverage_weight * strength + cfg.order_bonus
        options.append((value - reverse, _FRAME))
    if not options:
        options = [(-cfg.hop_cost - reverse, _NOTHING)]
    options.sort(reverse=True)
    return options[:2]


def search(seed: str, q: Question, store: Any, index: RelationIndex, cfg: RetrieverConfig,
           nbr_cache: dict[str, list[Fact]]) -> list[BeamState] | None:
    """Every beam state kept while searching from ``seed``, or None when the relation index grew.

    A relation met during the search that ``index`` did not hold yet is added to it; the
    question's similarity table is then stale, so the caller analyses it again and retries.
    """
    beam = [BeamState(0.0, (), 0, -1, {seed: [1, [((seed,), (), ())]]})]
    finished: list[BeamState] = []
    for _ in range(cfg.max_hops):
        candidates: list[BeamState] = []
        for state in beam:
            if state.closed:
                continue
            groups = _expand(state, nbr_cache, store, cfg.paths_per_entity)
            if not groups:
                continue
            index.ensure(r for r, _ in groups)
            if q.sims.shape[1] < len(index.relations):
                return None
            fr = frame(q, state.used, index) if q.phrases or q.mention[0] >= 0 else None
            if fr is not None and any(not (p.mask & state.used) and q.weight[k] >= fr[1]
                                      for k, p in enumerate(q.phrases)):
                fr = None  # a phrase left unexplained says more than the frame: use it
            for (rel, fwd), frontier in groups.items():
                back = bool(state.seq) and state.seq[-1] == (rel, not fwd)
                for value, row in _options(state, q, index.position[rel], fwd, fr, cfg):
                    if back:  # r then r reversed: back to a sibling of the start, rarely meant
                        value -= cfg.backtrack_penalty
                    seq = state.seq + ((rel, fwd),)
                    if row == _FRAME:
                        candidates.append(BeamState(state.score + value, seq, -1, 1 << 30, frontier,
                                                    state.spans + (row,), True))
                        continue
                    p = q.phrases[row] if row >= 0 else None
                    candidates.append(BeamState(state.score + value, seq, state.used | (p.mask if p else 0),
                                                p.rank if p else state.last_rank, frontier, state.spans + (row,)))
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
