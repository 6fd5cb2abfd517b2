"""Entity merges and their undo, written once over a small graph-access interface.

Every store holds the same things: entity nodes (``id``, ``name``, ``type``,
``aliases``), facts keyed by ``(subject, relation, object)`` with provenance, the
map of merged aliases to their canonical ids, and one undo record per merge. A
store exposes them through :class:`GraphAccess` (the memory store over networkx,
the Neo4j store over one transaction) and the functions here do the rest:

* :func:`add_entity` / :func:`add_fact`: fold a new entity or fact into the graph
  (names become aliases, provenance is merged by key, the highest confidence wins);
* :func:`apply_merge`: fold the ``alias`` node into ``canonical``, rewriting its
  facts, and record exactly what the canonical side gained;
* :func:`unmerge`: take back that and only that, and restore the alias with its facts.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta, Merge, Provenance
>>> store = MemoryStore()
>>> _ = store.upsert(GraphDelta(facts=[Fact("ada l.", "born_in", "tromso", provenance=(Provenance("d1"),)),
...                                    Fact("ada lindqvist", "founded", "fjordcell")]))
>>> store.upsert(GraphDelta(merges=[Merge("ada l.", "ada lindqvist", "alias")])).merges_applied
1
>>> sorted(f.as_line() for f in store.facts())
['ada lindqvist --born_in--> tromso', 'ada lindqvist --founded--> fjordcell']
>>> store.unmerge("ada l.")
True
>>> sorted(f.as_line() for f in store.facts())
['ada l. --born_in--> tromso', 'ada lindqvist --founded--> fjordcell']
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Protocol

from kgllm.errors import InputError
from kgllm.stores.delta import dedupe_provenance
from kgllm.types import Entity, Fact, GraphDelta, Merge

__all__ = [
    "GraphAccess",
    "Node",
    "Undo",
    "follow_merges",
    "dry_run_merges",
    "fold_entity",
    "new_node",
    "add_entity",
    "add_fact",
    "apply_merge",
    "unmerge",
    "legacy_changes",
    "strip_document",
    "drop_dangling_merges",
]

Node = dict[str, Any]
"""A node's attributes: ``id``, ``name``, ``type`` and ``aliases`` (a list of strings)."""


@dataclass(frozen=True, slots=True)
class Undo:
    """What :func:`unmerge` needs: the alias's node and facts before the merge, and what the merge changed.

    ``changes`` holds ``aliases`` (names the canonical node gained), ``type``
    (whether its empty type was filled in) and ``facts`` (per rewritten fact:
    ``s``, ``r``, ``o``, whether it was ``created``, its confidence ``c`` before,
    the provenance keys ``p`` it gained); ``None`` in records of old files.
    """

    node: Node
    facts: list[Fact]
    changes: dict[str, Any] | None


class GraphAccess(Protocol):
    """The graph as the merge algorithm sees it; reads return copies, writes go through the methods."""

    def merge_map(self) -> dict[str, str]:
        """The live ``alias -> canonical`` map of recorded merges (the algorithm edits it in place)."""
        ...

    def node(self, eid: str) -> Node | None:
        """A copy of the node ``eid``'s attributes, or ``None``."""
        ...

    def set_node(self, eid: str, node: Node) -> None:
        """Create the node ``eid`` or overwrite its attributes."""
        ...

    def delete_node(self, eid: str) -> None:
        """Delete the node ``eid`` and every fact touching it."""
        ...

    def incident(self, eid: str) -> list[Fact]:
        """Facts touching ``eid``: out-facts, then in-facts (a self-loop once)."""
        ...

    def fact(self, subject: str, relation: str, object: str) -> Fact | None:
        """The stored fact with this triple, or ``None``."""
        ...

    def put_fact(self, fact: Fact) -> None:
        """Create ``fact`` or overwrite its confidence and provenance (both ends exist)."""
        ...

    def remove_fact(self, fact: Fact) -> None:
        """Delete the fact with ``fact``'s triple."""
        ...

    def record_merge(self, merge: Merge, undo: Undo) -> None:
        """Store ``merge`` with its undo record (its alias is already in :meth:`merge_map`)."""
        ...

    def pop_merge(self, alias: str) -> tuple[Merge, Undo] | None:
        """Delete and return the merge record of ``alias``, or ``None``."""
        ...


def follow_merges(merged: dict[str, str], eid: str) -> str:
    """The id ``eid`` ends at after following ``alias -> canonical`` links (cycle-safe).

    >>> follow_merges({"ada l.": "ada lindqvist", "a. l.": "ada l."}, "a. l.")
    'ada lindqvist'
    """
    seen = set()
    while eid in merged and eid not in seen:
        seen.add(eid)
        eid = merged[eid]
    return eid


def dry_run_merges(delta: GraphDelta, merged: dict[str, str], nodes: set[str]) -> None:
    """Raise :class:`~kgllm.errors.InputError` if a merge of ``delta`` targets an entity that will not exist.

    ``merged`` maps already-merged aliases to their canonical ids and ``nodes`` holds
    the entity ids the store has (at least those the merges touch); both are
    updated as the delta's entities, facts and merges would be applied.
    """
    nodes.update(follow_merges(merged, e.id) for e in delta.entities)
    for f in delta.facts:
        nodes.update((follow_merges(merged, f.subject), follow_merges(merged, f.object)))
    for m in delta.merges:
        alias, canonical = follow_merges(merged, m.alias), follow_merges(merged, m.canonical)
        if m.alias in merged or alias == canonical or alias not in nodes:
            continue
        if canonical not in nodes:
            raise InputError(f"merge target {canonical!r} is not in the graph: {m!r}")
        nodes.discard(alias)
        merged[alias] = m.canonical


def new_node(eid: str, entity: Entity) -> Node:
    """The node an entity creates under id ``eid``: its aliases once each, its name not among them."""
    aliases = [a for a in dict.fromkeys(entity.aliases) if a and a != entity.name]
    return {"id": eid, "name": entity.name, "type": entity.type, "aliases": aliases}


def fold_entity(node: Node, eid: str, entity: Entity) -> bool:
    """Fold ``entity`` into the existing ``node`` (of id ``eid``) in place; True if it changed.

    New names become aliases (the first name stays preferred) and an empty type is filled in.
    """
    names = [entity.name, *entity.aliases] if eid != entity.id or entity.name != node["name"] else list(entity.aliases)
    new = [a for a in dict.fromkeys(names) if a and a != node["name"] and a not in node["aliases"]]
    changed = False
    if new:
        node["aliases"] = list(node["aliases"]) + new
        changed = True
    if entity.type and not node["type"]:
        node["type"] = entity.type
        changed = True
    return changed


def add_entity(g: GraphAccess, entity: Entity) -> int:
    """Add ``entity`` (following merges) or fold it into its node; 1 if a node was created."""
    eid = follow_merges(g.merge_map(), entity.id)
    node = g.node(eid)
    if node is None:
        g.set_node(eid, new_node(eid, entity))
        return 1
    if fold_entity(node, eid, entity):
        g.set_node(eid, node)
    return 0


def add_fact(g: GraphAccess, fact: Fact) -> tuple[int, int, int]:
    """Add ``fact`` with its ends resolved through merges (missing ends become placeholder entities).

    Returns
    -------
    tuple of int
        Entities, facts and provenances added.
    """
    merged = g.merge_map()
    subject, object = follow_merges(merged, fact.subject), follow_merges(merged, fact.object)
    entities = sum(add_entity(g, Entity(eid, eid)) for eid in dict.fromkeys((subject, object)) if g.node(eid) is None)
    fact = Fact(subject, fact.relation, object, fact.confidence, fact.provenance)
    old = g.fact(subject, fact.relation, object)
    if old is None:
        provenance = dedupe_provenance(fact.provenance)
        g.put_fact(fact.with_provenance(provenance))
        return entities, 1, len(provenance)
    known = {p.key() for p in old.provenance}
    new = dedupe_provenance(p for p in fact.provenance if p.key() not in known)
    confidence = max(old.confidence, fact.confidence)
    if new or confidence != old.confidence:
        g.put_fact(replace(old, confidence=confidence, provenance=old.provenance + new))
    return entities, 0, len(new)


def apply_merge(g: GraphAccess, merge: Merge) -> int:
    """Fold ``merge.alias`` into ``merge.canonical``; 1 if applied, 0 if already merged or nothing to merge.

    Raises
    ------
    InputError
        The canonical entity does not exist.
    """
    merged = g.merge_map()
    alias, canonical = follow_merges(merged, merge.alias), follow_merges(merged, merge.canonical)
    attrs = g.node(alias)
    if merge.alias in merged or alias == canonical or attrs is None:
        return 0
    before = g.node(canonical)
    if before is None:
        raise InputError(f"merge target {canonical!r} is not in the graph: {merge!r}")
    original = g.incident(alias)
    attrs["aliases"] = list(attrs["aliases"])
    merged[merge.alias] = merge.canonical
    g.delete_node(alias)
    add_entity(g, Entity(alias, attrs["name"], attrs["type"], tuple(attrs["aliases"])))
    after = g.node(canonical)
    assert after is not None
    # Record exactly what the canonical side gained, so unmerge can take back that and only that.
    changes: dict[str, Any] = {
        "aliases": [a for a in after["aliases"] if a not in before["aliases"]],
        "type": after["type"] != before["type"],
        "facts": [],
    }
    for f in original:
        s = canonical if f.subject == alias else f.subject
        o = canonical if f.object == alias else f.object
        old = g.fact(s, f.relation, o)
        keys_before = set() if old is None else {p.key() for p in old.provenance}
        add_fact(g, Fact(s, f.relation, o, f.confidence, f.provenance))
        now = g.fact(s, f.relation, o)
        assert now is not None
        changes["facts"].append({
            "s": s, "r": f.relation, "o": o, "created": old is None, "c": None if old is None else old.confidence,
            "p": [list(p.key()) for p in now.provenance if p.key() not in keys_before],
        })
    g.record_merge(merge, Undo(attrs, original, changes))
    return 1


def unmerge(g: GraphAccess, alias: str) -> bool:
    """Undo the merge of ``alias``: restore its node and facts, take back what the canonical gained.

    Facts added to the canonical entity after the merge stay; the other end of an
    alias's fact that was merged away since is followed. False if no merge of ``alias`` is recorded.
    """
    record = g.pop_merge(alias)
    if record is None:
        return False
    merge, undo = record
    merged = g.merge_map()
    merged.pop(alias, None)
    canonical = follow_merges(merged, merge.canonical)
    changes = undo.changes or legacy_changes(alias, canonical, undo.node, undo.facts)
    for c in changes["facts"]:
        s, o = follow_merges(merged, c["s"]), follow_merges(merged, c["o"])
        now = g.fact(s, c["r"], o)
        if now is None:
            continue
        added = {tuple(k) for k in c["p"]}
        kept = tuple(p for p in now.provenance if p.key() not in added)
        if c["created"] and not kept:
            g.remove_fact(now)
            continue
        confidence = c["c"] if not c["created"] and c["c"] is not None else now.confidence
        g.put_fact(replace(now, confidence=confidence, provenance=kept))
    node = g.node(canonical)
    if node is not None:
        dropped = set(changes["aliases"])
        node["aliases"] = [a for a in node["aliases"] if a not in dropped]
        if changes["type"]:
            node["type"] = ""
        g.set_node(canonical, node)
    attrs = undo.node
    g.set_node(alias, {"id": attrs.get("id", alias), "name": attrs["name"], "type": attrs.get("type", ""),
                       "aliases": list(attrs.get("aliases", []))})
    for f in undo.facts:
        add_fact(g, f)
    return True


def legacy_changes(alias: str, canonical: str, attrs: Node, original: list[Fact]) -> dict[str, Any]:
    """Merge record of a file written without ``changes``: assume the merge added all the alias brought."""
    facts = []
    for f in original:
        s = canonical if f.subject == alias else f.subject
        o = canonical if f.object == alias else f.object
        facts.append({"s": s, "r": f.relation, "o": o, "created": True, "c": None,
                      "p": [list(p.key()) for p in f.provenance]})
    return {"aliases": [attrs["name"], *attrs["aliases"]], "type": False, "facts": facts}


def strip_document(facts: list[Fact], doc_id: str) -> list[Fact]:
    """An undo record's facts without ``doc_id``'s provenance; facts left with none go (retraction).

    >>> from kgllm.types import Provenance
    >>> f = Fact("a", "r", "b", provenance=(Provenance("d1"), Provenance("d2")))
    >>> [[p.doc_id for p in g.provenance] for g in strip_document([f, Fact("a", "s", "b")], "d1")]
    [['d2']]
    """
    kept = [f.with_provenance(p for p in f.provenance if p.doc_id != doc_id) for f in facts]
    return [f for f in kept if f.provenance]


def drop_dangling_merges(delta: GraphDelta, merged: dict[str, str], exists: Callable[[str], bool]) -> GraphDelta:
    """``delta`` without the merges whose target will not exist (as :func:`dry_run_merges` would raise for).

    Entity resolution decides merges against the graph before a changed document's old
    facts are retracted; a merge into an entity only those facts held is left out, not an
    error. ``merged`` is the store's ``alias -> canonical`` map and ``exists`` tells
    whether the store holds an entity id now.

    >>> d = GraphDelta(facts=[Fact("a", "r", "b")], merges=[Merge("a", "gone", "alias"), Merge("b", "a", "alias")])
    >>> [m.canonical for m in drop_dangling_merges(d, {}, lambda eid: False).merges]
    ['a']
    """
    if not delta.merges:
        return delta
    merged = dict(merged)
    added: set[str] = {follow_merges(merged, e.id) for e in delta.entities}
    for f in delta.facts:
        added.update((follow_merges(merged, f.subject), follow_merges(merged, f.object)))
    removed: set[str] = set()

    def present(eid: str) -> bool:
        return eid not in removed and (eid in added or exists(eid))

    kept = []
    for m in delta.merges:
        alias, canonical = follow_merges(merged, m.alias), follow_merges(merged, m.canonical)
        if m.alias in merged or alias == canonical or not present(alias):
            kept.append(m)  # a no-op merge: apply_merge skips it
        elif present(canonical):
            removed.add(alias)
            merged[alias] = m.canonical
            kept.append(m)
    if len(kept) == len(delta.merges):
        return delta
    return GraphDelta(entities=list(delta.entities), facts=list(delta.facts), merges=kept)
