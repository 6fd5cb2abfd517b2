"""JSON shapes of the explorer's answers: entities, facts, provenance with highlights, statistics.

Examples
--------
>>> from kgllm.types import Entity, Fact, Provenance
>>> p = Provenance("notes", 2, 40, 71, "rules", "Ada Lindqvist moved to Tromsø.")
>>> view = provenance_view(p, [Entity.from_name("Ada Lindqvist"), Entity.from_name("Tromsø")])
>>> view["highlights"]
[[0, 13], [23, 29]]
>>> degree_histogram({1: 1, 2: 1, 3: 1, 9: 1})
[{'bucket': '1', 'entities': 1}, {'bucket': '2-3', 'entities': 2}, {'bucket': '8-15', 'entities': 1}]
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable, Mapping

from kgllm.types import Entity, Fact, Path, Provenance

__all__ = ["entity_view", "fact_view", "provenance_view", "path_view", "degree_histogram", "highlight_spans"]


def entity_view(entity: Entity, degree: int | None = None, score: float | None = None) -> dict[str, Any]:
    """An entity as JSON (``degree`` and ``score`` only when known)."""
    view: dict[str, Any] = {"id": entity.id, "name": entity.name, "type": entity.type,
                            "aliases": list(entity.aliases)}
    if degree is not None:
        view["degree"] = degree
    if score is not None:
        view["score"] = score
    return view


def fact_view(fact: Fact, with_provenance: bool = False) -> dict[str, Any]:
    """A fact as JSON: ids of its ends, relation, confidence, number of sources (and the sources)."""
    view: dict[str, Any] = {"id": fact.id, "subject": fact.subject, "relation": fact.relation,
                            "object": fact.object, "confidence": fact.confidence, "sources": len(fact.provenance)}
    if with_provenance:
        view["provenance"] = [provenance_view(p) for p in fact.provenance]
    return view


def highlight_spans(sentence: str, names: Iterable[str]) -> list[list[int]]:
    """``[start, end]`` spans of ``sentence`` where any of ``names`` occurs (case-insensitive, whole words)."""
    spans: list[tuple[int, int]] = []
    for name in sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True):
        for m in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", sentence, flags=re.IGNORECASE):
            if not any(s < m.end() and m.start() < e for s, e in spans):
                spans.append((m.start(), m.end()))
    return [list(s) for s in sorted(spans)]


def provenance_view(p: Provenance, ends: Iterable[Entity | None] = ()) -> dict[str, Any]:
    """One source of a fact: document, sentence index, character span in the document, extractor,
    the sentence, and ``highlights`` (spans of the sentence naming the fact's entities)."""
    names: list[str] = []
    for e in ends:
        if e is not None:
            names.extend([e.name, *e.aliases])
    return {**p.to_dict(), "highlights": highlight_spans(p.sentence, names) if p.sentence else []}


def path_view(path: Path) -> dict[str, Any]:
    """A path: its entity ids, its facts and which way each fact was walked."""
    return {"entities": list(path.entities), "facts": [fact_view(f) for f in path.facts],
            "forward": list(path.forward), "relations": list(path.relations)}


def degree_histogram(degree_counts: Mapping[int, int]) -> list[dict[str, Any]]:
    """Entities per degree bucket (1, 2-3, 4-7, ...: powers of two), smallest bucket first, from the number of
    entities of each degree."""
    buckets: Counter = Counter()
    for d, n in degree_counts.items():
        if d > 0:
            buckets[d.bit_length() - 1] += n
    out = []
    for b in sorted(buckets):
        lo, hi = 1 << b, (1 << (b + 1)) - 1
        out.append({"bucket": str(lo) if lo == hi else f"{lo}-{hi}", "entities": buckets[b]})
    return out
