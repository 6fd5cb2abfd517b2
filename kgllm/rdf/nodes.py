"""Entities of an RDF import: what is known about each node, and the id, name, aliases and type it gets."""

from __future__ import annotations

from kgllm.rdf.naming import Namespace, readable_name
from kgllm.rdf.terms import Blank, Term
from kgllm.types import Entity, entity_id

__all__ = ["NodeInfo", "plan_entities"]


class NodeInfo:
    """What pass 1 learns about one node: labels (with rank), aliases, type, key."""

    __slots__ = ("labels", "alts", "type", "key")

    def __init__(self) -> None:
        self.labels: list[tuple[int, str]] = []
        self.alts: list[str] = []
        self.type: str | None = None
        self.key: str | None = None


def _type_name(ns: Namespace, iri: str) -> str:
    parsed = ns.parse(iri)
    return parsed[1] if parsed and parsed[0] == "type" else readable_name(iri)


def _kind(ns: Namespace, term: Term) -> str:
    if isinstance(term, Blank):
        return "blank"
    parsed = ns.parse(term)  # type: ignore[arg-type]
    return "ours" if parsed and parsed[0] == "entity" and parsed[1].strip() else "foreign"


def _name(ns: Namespace, term: Term, info: NodeInfo | None) -> str:
    if info is not None and info.labels:
        return min(info.labels, key=lambda x: x[0])[1]
    kind = _kind(ns, term)
    if kind == "ours":
        return ns.parse(term)[1]  # type: ignore[arg-type,index]
    return f"blank node {term}" if kind == "blank" else readable_name(term)  # type: ignore[arg-type]


def plan_entities(ns: Namespace, nodes: dict[Term, NodeInfo | None], literals: dict[str, str]
                  ) -> tuple[dict[Term, str], list[Entity]]:
    """Entity ids for every node and the entities to write, in first-seen order (see :mod:`kgllm.rdf.importer`).

    >>> ids, entities = plan_entities(Namespace(), {"http://x.org/a/Oslo": None, "http://x.org/b/Oslo": None}, {})
    >>> list(ids.values())
    ['oslo', 'oslo (http://x.org/b/Oslo)']
    """
    ids: dict[Term, str] = {}
    owner: dict[str, Term] = {}
    rest: list[Term] = []
    for term, info in nodes.items():
        if _kind(ns, term) == "ours":
            ids[term] = ns.parse(term)[1]  # type: ignore[arg-type,index]
        elif info is not None and info.key:
            ids[term] = info.key
        else:
            rest.append(term)
            continue
        owner.setdefault(ids[term], term)
    for term in rest:
        name = _name(ns, term, nodes[term])
        base = entity_id(name) or name.strip() or str(term)
        eid, k = base, 2
        while owner.get(eid, term) != term:
            eid, k = f"{base} ({term})" + (f" {k - 2}" if k > 2 else ""), k + 1
        ids[term] = eid
        owner[eid] = term
    entities: list[Entity] = []
    for term, info in nodes.items():
        name = _name(ns, term, info)
        labels = [lex for _, lex in sorted(info.labels, key=lambda x: x[0])] if info is not None else []
        aliases = [a for a in labels + (info.alts if info is not None else []) if a != name]
        if _kind(ns, term) == "foreign":
            aliases.append(str(term))
        etype = _type_name(ns, info.type) if info is not None and info.type else ""  # type: ignore[arg-type]
        entities.append(Entity(ids[term], name, etype, tuple(dict.fromkeys(aliases))))
    for lex, etype in literals.items():
        entities.append(Entity(entity_id(lex) or lex.strip(), lex, etype))
    return ids, entities
