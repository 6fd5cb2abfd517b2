"""Ranking: beam states into a subgraph of ranked paths, and paths into candidate answers.

Candidate answers are the end entities of the best relation paths, ties broken by how
many distinct paths reach them. When the question asks for a kind of answer
(:mod:`kgllm.retrieve.answer_type`), a path ending at an entity of that kind earns a
small bonus and one ending at an entity of another known kind pays a penalty; a state
counts as well as its best-fitting end, so a path that walks past the answer the
question asked for ("Who founded X?" on to where the founder was born) ranks below it.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from kgllm.retrieve.answer_type import AnswerType, fit, relation_nouns, shape_kind
from kgllm.retrieve.beam import BeamState, RetrieverConfig
from kgllm.retrieve.question import relation_text
from kgllm.types import Entity, Fact, Path, Subgraph

__all__ = ["best_per_sequence", "assemble", "rank_answers", "type_fits", "apply_fits"]


def type_fits(want: AnswerType, ends: Iterable[str], store: Any, relations: Iterable[str],
              cfg: RetrieverConfig, nbr_cache: dict[str, list[Fact]]) -> dict[str, float]:
    """Score change of each entity in ``ends`` as the answer to a question asking for ``want``.

    ``noun_bonus`` when the graph says the entity is what was asked, ``type_bonus`` for
    an entity of the asked kind, ``-type_penalty`` for one of another kind read from its name's
    shape (a year), ``-label_penalty`` for one of another kind read only from its NER label,
    nothing for an entity of unknown kind. What the graph says an entity is (its
    outgoing ``is_a`` / ``X_in`` facts) is read only when ``want`` names nouns and some
    relation of the graph (``relations``) can say it.

    Examples
    --------
    >>> from kgllm.stores.memory import MemoryStore
    >>> from kgllm.types import GraphDelta
    >>> from kgllm.retrieve.answer_type import answer_type
    >>> store = MemoryStore()
    >>> _ = store.upsert(GraphDelta(entities=[Entity("ana", "Ana", "PERSON"), Entity("1999", "1999", "DATE"),
    ...                                       Entity("oslo", "Oslo", "GPE")]))
    >>> type_fits(answer_type(["who", "won"]), ["ana", "1999", "oslo", "zed"], store, [], RetrieverConfig(), {})
    {'ana': 0.02, '1999': -0.5, 'oslo': -0.1, 'zed': 0.0}
    """
    rel_words = {relation_text(r).split()[0] for r in relations if relation_text(r)}
    read_nouns = bool(want.nouns) and bool(rel_words & ({"is", "instance", "type"} | set(want.nouns)))
    out: dict[str, float] = {}
    for eid in ends:
        if eid in out:
            continue
        entity = store.get_entity(eid) or Entity(eid, eid)
        nouns: set[str] = set()
        if read_nouns:
            facts = nbr_cache.get(eid)
            if facts is None:
                facts = nbr_cache[eid] = store.neighbors(eid, "both")
            for f in facts:
                if f.subject == eid:
                    obj = store.get_entity(f.object)
                    nouns |= relation_nouns(f.relation, obj.name if obj else f.object)
        value = fit(want, entity, nouns)
        penalty = cfg.type_penalty if shape_kind(entity.name) else cfg.label_penalty
        out[eid] = ({2: cfg.noun_bonus, 1: cfg.type_bonus, -1: -penalty}).get(value, 0.0)
    return out


def apply_fits(states: Sequence[tuple[float, str, BeamState]],
               fits: dict[str, float]) -> list[tuple[float, str, BeamState]]:
    """States with their score moved by the fit of their best-fitting end (see :func:`type_fits`)."""
    return [(score + max((fits.get(e, 0.0) for e in st.frontier), default=0.0), seed, st)
            for score, seed, st in states]


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
             cfg: RetrieverConfig, fits: dict[str, float] | None = None) -> Subgraph:
    """The subgraph of the ranked states: their example paths (best first), facts and entities.

    Within a state, entities that fit the question better (``fits``, from
    :func:`type_fits`; states scored by :func:`apply_fits`), then entities reached by
    more paths, come first; a path's score is its state's, moved by how much worse its
    end fits than the state's best end.
    """
    fits = fits or {}
    sub = Subgraph(seeds=list(dict.fromkeys(seeds)))
    seen_facts: set[str] = set()
    for score, st in ranked:
        ends = sorted(st.frontier.items(), key=lambda kv: (-fits.get(kv[0], 0.0), -kv[1][0], kv[0]))
        top = max((fits.get(e, 0.0) for e in st.frontier), default=0.0)
        for end, (_, samples) in ends:
            for ents, facts, fwd in samples:
                if len(sub.paths) < cfg.max_paths:
                    sub.paths.append(Path(ents, facts, fwd, round(score - top + fits.get(end, 0.0), 6)))
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
