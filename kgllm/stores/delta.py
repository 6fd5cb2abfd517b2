"""What every store checks and writes the same way: delta validation and the graph dict's fact records.

A store validates a :class:`~kgllm.types.GraphDelta` whole before it writes
anything (:func:`validate_delta`), so an invalid delta changes nothing. The whole
graph travels between stores (:mod:`kgllm.stores.migrate`) and to graph files as
one dict, ``{"format", "version", "entities", "facts", "merges"}``, whose fact
records are :func:`fact_to_dict` / :func:`fact_from_dict`.

Examples
--------
>>> from kgllm.stores.delta import fact_from_dict, fact_to_dict, validate_delta
>>> from kgllm.types import Fact, GraphDelta, Provenance
>>> f = Fact("ada", "born_in", "tromso", 0.5, (Provenance("d1", 0),))
>>> fact_to_dict(f)["c"], fact_from_dict(fact_to_dict(f)) == f
(0.5, True)
>>> validate_delta(GraphDelta(facts=[Fact("ada", "", "tromso")]))
Traceback (most recent call last):
...
kgllm.errors.InputError: invalid fact in delta (empty subject, relation or object): Fact(subject='ada', relation='', object='tromso', confidence=1.0, provenance=())
"""

from __future__ import annotations

from typing import Any, Iterable

from kgllm.errors import InputError
from kgllm.types import Entity, Fact, GraphDelta, Merge, Provenance

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "validate_delta", "merge_ends", "dedupe_provenance", "fact_to_dict", "fact_from_dict"]

FORMAT_NAME = "kgllm-graph"
"""The ``format`` field of a whole-graph dict (graph files, migration)."""

FORMAT_VERSION = 1
"""The ``version`` field of a whole-graph dict this kgllm reads and writes."""


def validate_delta(delta: GraphDelta) -> None:
    """Raise :class:`~kgllm.errors.InputError` naming the first invalid entity, fact or merge of ``delta``.

    Parameters
    ----------
    delta : GraphDelta
        What an upsert would add.

    Raises
    ------
    InputError
        An entity with an empty id or name or non-string aliases; a fact with an
        empty part, a confidence outside [0, 1] (or not a number) or provenance
        that is not :class:`~kgllm.types.Provenance`; an empty or self merge.
    """
    for e in delta.entities:
        if not isinstance(e, Entity) or not e.id or not e.name:
            raise InputError(f"invalid entity in delta (empty id or name): {e!r}")
        if not all(isinstance(a, str) for a in e.aliases):
            raise InputError(f"invalid entity in delta (aliases must be strings): {e!r}")
    for f in delta.facts:
        if not isinstance(f, Fact) or not f.subject or not f.relation or not f.object:
            raise InputError(f"invalid fact in delta (empty subject, relation or object): {f!r}")
        if isinstance(f.confidence, bool) or not isinstance(f.confidence, (int, float)) \
                or not 0.0 <= f.confidence <= 1.0:
            raise InputError(f"fact confidence must be a number in [0, 1], got {f.confidence!r}: {f.as_line()}")
        if not all(isinstance(p, Provenance) for p in f.provenance):
            raise InputError(f"invalid provenance in delta (expected Provenance objects): {f.as_line()}")
    for m in delta.merges:
        if not isinstance(m, Merge) or not m.alias or not m.canonical or m.alias == m.canonical:
            raise InputError(f"invalid merge (empty or self merge): {m!r}")


def merge_ends(delta: GraphDelta, merged: dict[str, str]) -> set[str]:
    """The entity ids the merges of ``delta`` touch, each followed along the recorded ``merged`` links: what a
    store must know exists to dry-run them (see :func:`kgllm.stores.merge.dry_run_merges`).

    >>> sorted(merge_ends(GraphDelta(merges=[Merge("a", "b", "alias")]), {"b": "c"}))
    ['a', 'b', 'c']
    """
    ids: set[str] = set()
    for m in delta.merges:
        for eid in (m.alias, m.canonical):
            seen: set[str] = set()
            while eid not in seen:
                seen.add(eid)
                ids.add(eid)
                if eid not in merged:
                    break
                eid = merged[eid]
    return ids


def dedupe_provenance(provenance: Iterable[Provenance]) -> tuple[Provenance, ...]:
    """Provenances in order, each :meth:`~kgllm.types.Provenance.key` once (the first one wins).

    >>> p, q = Provenance("d1", sentence="x"), Provenance("d1", sentence="y")
    >>> dedupe_provenance([p, q, Provenance("d2")]) == (p, Provenance("d2"))
    True
    """
    out: dict[tuple[str, int, int, int, str], Provenance] = {}
    for p in provenance:
        out.setdefault(p.key(), p)
    return tuple(out.values())


def fact_to_dict(f: Fact) -> dict[str, Any]:
    """The graph dict's record of a fact: ``s``, ``r``, ``o``, ``c`` and ``p`` (provenance dicts)."""
    return {"s": f.subject, "r": f.relation, "o": f.object, "c": f.confidence,
            "p": [p.to_dict() for p in f.provenance]}


def fact_from_dict(d: dict[str, Any]) -> Fact:
    """Inverse of :func:`fact_to_dict`; a missing key raises ``KeyError``."""
    return Fact(d["s"], d["r"], d["o"], float(d["c"]), tuple(Provenance.from_dict(p) for p in d["p"]))
