"""The memory store's data: a networkx ``MultiDiGraph``, the merge records and a name index.

:class:`NxGraph` is the :class:`~kgllm.stores.merge.GraphAccess` of the memory
store: nodes are entity ids with attributes ``id``, ``name``, ``type``,
``aliases``; edges are keyed by fact id and carry ``relation``, ``confidence``
and the list of provenances. Every change goes through its methods, which keep
the name index current and count the changes (:attr:`NxGraph.changes`).
"""

from __future__ import annotations

from typing import Any, Iterator

import networkx as nx

from kgllm.stores.base import Direction
from kgllm.stores.merge import Node, Undo
from kgllm.types import Entity, Fact, Merge, entity_id, fact_id

__all__ = ["NxGraph"]


class NxGraph:
    """A property graph of entities and facts in process memory, with merge records.

    Attributes
    ----------
    g : networkx.MultiDiGraph
        Nodes keyed by entity id, edges keyed by fact id.
    canonical : dict
        ``alias -> canonical`` of every recorded merge.
    merges : dict
        ``alias -> Merge``, oldest first.
    undo : dict
        ``alias -> Undo`` (see :class:`~kgllm.stores.merge.Undo`).
    names : dict
        ``entity_id(name or alias) -> entity ids`` that carry it.
    changes : int
        Writes made so far (the store's revision is derived from it).
    """

    def __init__(self) -> None:
        self.g = nx.MultiDiGraph()
        self.canonical: dict[str, str] = {}
        self.merges: dict[str, Merge] = {}
        self.undo: dict[str, Undo] = {}
        self.names: dict[str, set[str]] = {}
        self.changes = 0

    # ------------------------------------------------------- GraphAccess
    def merge_map(self) -> dict[str, str]:
        return self.canonical

    def node(self, eid: str) -> Node | None:
        if eid not in self.g:
            return None
        n = self.g.nodes[eid]
        return {"id": n["id"], "name": n["name"], "type": n["type"], "aliases": list(n["aliases"])}

    def set_node(self, eid: str, node: Node) -> None:
        if eid in self.g:
            self._unindex(eid)
        self.g.add_node(eid, id=eid, name=node["name"], type=node["type"], aliases=list(node["aliases"]))
        for name in [node["name"], *node["aliases"]]:
            self.names.setdefault(entity_id(name), set()).add(eid)
        self.changes += 1

    def delete_node(self, eid: str) -> None:
        self._unindex(eid)
        self.g.remove_node(eid)
        self.changes += 1

    def incident(self, eid: str, direction: Direction = "both") -> list[Fact]:
        return list(self.iter_incident(eid, direction))

    def fact(self, subject: str, relation: str, object: str) -> Fact | None:
        key = fact_id(subject, relation, object)
        if not self.g.has_edge(subject, object, key):
            return None
        return self.edge_fact(subject, object, self.g.edges[subject, object, key])

    def put_fact(self, fact: Fact) -> None:
        self.g.add_edge(fact.subject, fact.object, key=fact.id, id=fact.id, relation=fact.relation,
                        __labels__={fact.relation}, confidence=fact.confidence, provenance=list(fact.provenance))
        self.changes += 1

    def remove_fact(self, fact: Fact) -> None:
        self.g.remove_edge(fact.subject, fact.object, fact.id)
        self.changes += 1

    def record_merge(self, merge: Merge, undo: Undo) -> None:
        self.merges[merge.alias] = merge
        self.undo[merge.alias] = undo
        self.changes += 1

    def pop_merge(self, alias: str) -> tuple[Merge, Undo] | None:
        if alias not in self.merges:
            return None
        self.changes += 1
        return self.merges.pop(alias), self.undo.pop(alias)

    # -------------------------------------------------------------- reads
    def _unindex(self, eid: str) -> None:
        n = self.g.nodes[eid]
        for name in [n["name"], *n["aliases"]]:
            ids = self.names.get(entity_id(name))
            if ids is not None:
                ids.discard(eid)
                if not ids:
                    del self.names[entity_id(name)]

    def resolve(self, eid: str) -> str:
        """The id ``eid`` denotes now (merges followed, cycle-safe)."""
        seen = set()
        while eid in self.canonical and eid not in seen:
            seen.add(eid)
            eid = self.canonical[eid]
        return eid

    def entity(self, eid: str) -> Entity:
        """The entity of node ``eid`` (which must exist)."""
        n = self.g.nodes[eid]
        return Entity(eid, n["name"], n["type"], tuple(n["aliases"]))

    @staticmethod
    def edge_fact(s: str, o: str, data: dict[str, Any]) -> Fact:
        """The fact of an edge from ``s`` to ``o`` with attributes ``data``."""
        return Fact(s, data["relation"], o, data["confidence"], tuple(data["provenance"]))

    def iter_incident(self, eid: str, direction: Direction = "both") -> Iterator[Fact]:
        """Facts touching ``eid``: out-facts then in-facts (a self-loop once when both)."""
        if direction in ("out", "both"):
            for _, o, data in self.g.out_edges(eid, data=True):
                yield self.edge_fact(eid, o, data)
        if direction in ("in", "both"):
            for s, _, data in self.g.in_edges(eid, data=True):
                if direction == "both" and s == eid:
                    continue  # self-loop already yielded as out-edge
                yield self.edge_fact(s, eid, data)
