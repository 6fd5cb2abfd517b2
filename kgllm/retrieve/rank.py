"""Ranking: beam states into a subgraph of ranked paths, and paths into candidate answers.

Candidate answers are the end entities of the best relation paths, ties broken by how
many distinct paths reach them.
"""

from __future__ import annotations

from typing import Any, Sequence

from kgllm.retrieve.beam import BeamState, RetrieverConfig
from kgllm.types import Entity, Path, Subgraph

__all__ = ["best_per_sequence", "assemble", "rank_answers"]


def best_per_sequence(states: Sequence[tuple[float, str, BeamState]]) -> list[tuple[float, BeamState]]:
    """The best-scored state of each (seed, relation sequence), best first.

    Ties go to shorter sequences, then by seed and sequence, so the order is deterministic.
    """
    ranked = sorted(states, key=lambda x: (-x[0], len(x[2].seq), x[1], x[2].seq))
    out: list[tuple[float, BeamState]] = []
    seen: set = set()
    for score, seed, st in ranked:
        key = (seed, st.seq)
        if key not in seen:
            seen.add(key)
            out.append((score, st))
    return out


def assemble(store: Any, seeds: list[str], ranked: list[tuple[float, BeamState]],
             cfg: RetrieverConfig) -> Subgraph:
    """The subgraph of the ranked states: their example paths (best first), facts and entities.

    Within a state, entities reached by more paths come first.
    """
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
            ent = store.get_entity(eid)
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
        A subgraph returned by :meth:`~kgllm.retrieve.subgraph.Retriever.retrieve`.

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
        best[path.end] = max(best.get(path.end, path.score), path.score)
    order = {eid: i for i, eid in enumerate(best)}
    return sorted(best.items(), key=lambda kv: (-kv[1], order[kv[0]]))
