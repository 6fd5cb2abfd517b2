"""The memory store's data: a networkx ``MultiDiGraph``, the merge records and a name index.

:class:`NxGraph` is the :class:`~kgllm.stores.merge.GraphAccess` of the memory
store: nodes are entity ids with attributes ``id``, ``name``, ``type``,
``aliases``; edges are keyed by fact id and carry ``relation``, ``confidence``
and the list of provenances. Every change goes through its methods, which keep
the name index current and count the changes (:attr:`NxGraph.changes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import networkx as nx

from kgllm.stores.base import Direction
from kgllm.stores.ledger import DocumentRecord, RunRecord
from kgllm.stores.merge import Node, Undo
from kgllm.types import Entity, Fact, Merge, entity_id, fact_id

__all__ = ["NxGraph", "Journal"]


@dataclass
class Journal:
    """Keys written since the last commit (a durable store writes exactly these rows).

    ``moved_*`` hold keys deleted at some point (their rows are rewritten at the end,
    as networkx re-adds them at the end of its order).
    """

    nodes: dict[str, None] = field(default_factory=dict)  # in the order rows are to be (re)inserted
    moved_nodes: set[str] = field(default_factory=set)
    facts: dict[tuple[str, str, str], None] = field(default_factory=dict)
    moved_facts: set[tuple[str, str, str]] = field(default_factory=set)
    merges: set[str] = field(default_factory=set)
    moved_merges: set[str] = field(default_factory=set)
    documents: set[str] = field(default_factory=set)
    runs: set[str] = field(default_factory=set)


def _touch(keys: dict[Any, None], key: Any, added: bool) -> None:
    """Note ``key`` as written; one added anew moves to the end (where networkx puts it)."""
    if added:
        keys.pop(key, None)
    keys[key] = None


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
    by_doc : dict
        ``doc_id -> {(subject, object, fact id)}`` of the facts carrying a provenance of the document.
    documents, runs : dict
        The ledger: ``doc_id -> DocumentRecord`` and ``run_id -> RunRecord``.
    journal : Journal or None
        When set (a durable store), what changed since the last commit.
    """

    def __init__(self) -> None:
        self.g = nx.MultiDiGraph()
        self.canonical: dict[str, str] = {}
        self.merges: dict[str, Merge] = {}
        self.undo: dict[str, Undo] = {}
        self.names: dict[str, set[str]] = {}
        self.changes = 0
        self.by_doc: dict[str, set[tuple[str, str, str]]] = {}
        self.documents: dict[str, DocumentRecord] = {}
        self.runs: dict[str, RunRecord] = {}
        self.journal: Journal | None = None

    # ------------------------------------------------------- GraphAccess
    def merge_map(self) -> dict[str, str]:
        return self.canonical

    def node(self, eid: str) -> Node | None:
        if eid not in self.g:
            return None
        n = self.g.nodes[eid]
        return {"id": n["id"], "name": n["name"], "type": n["type"], "aliases": list(n["aliases"])}

    def set_node(self, eid: str, node: Node) -> None:
        new = eid not in self.g
        if not new:
            self._unindex(eid)
        self.g.add_node(eid, id=eid, name=node["name"], type=node["type"], aliases=list(node["aliases"]))
        for name in [node["name"], *node["aliases"]]:
            self.names.setdefault(entity_id(name), set()).add(eid)
        self.changes += 1
        if self.journal is not None:
            _touch(self.journal.nodes, eid, new)

    def delete_node(self, eid: str) -> None:
        for f in list(self.iter_incident(eid)):
            self.remove_fact(f)
        self._unindex(eid)
        self.g.remove_node(eid)
        self.changes += 1
        if self.journal is not None:
            _touch(self.journal.nodes, eid, False)
            self.journal.moved_nodes.add(eid)

    def incident(self, eid: str, direction: Direction = "both") -> list[Fact]:
        return list(self.iter_incident(eid, direction))

    def fact(self, subject: str, relation: str, object: str) -> Fact | None:
        key = fact_id(subject, relation, object)
        if not self.g.has_edge(subject, object, key):
            return None
        return self.edge_fact(subject, object, self.g.edges[subject, object, key])

    def put_fact(self, fact: Fact) -> None:
        key = (fact.subject, fact.object, fact.id)
        new = not self.g.has_edge(*key)
        if not new:
            self._unindex_fact(key, self.g.edges[key]["provenance"])
        self.g.add_edge(fact.subject, fact.object, key=fact.id, id=fact.id, relation=fact.relation,
                        __labels__={fact.relation}, confidence=fact.confidence, provenance=list(fact.provenance))
        for p in fact.provenance:
            self.by_doc.setdefault(p.doc_id, set()).add(key)
        self.changes += 1
        if self.journal is not None:
            _touch(self.journal.facts, key, new)

    def load_fact(self, s: str, o: str, fid: str, relation: str, confidence: float, provenance: list[Any]) -> None:
        """Add a stored fact as it is (both ends exist; ``fid`` is its id): the fast path of loading a file."""
        self.g.add_edge(s, o, key=fid, id=fid, relation=relation, __labels__={relation}, confidence=confidence,
                        provenance=provenance)
        key = (s, o, fid)
        for p in provenance:
            self.by_doc.setdefault(p.doc_id, set()).add(key)
        self.changes += 1

    def remove_fact(self, fact: Fact) -> None:
        key = (fact.subject, fact.object, fact.id)
        self._unindex_fact(key, self.g.edges[key]["provenance"])
        self.g.remove_edge(*key)
        self.changes += 1
        if self.journal is not None:
            _touch(self.journal.facts, key, False)
            self.journal.moved_facts.add(key)

    def record_merge(self, merge: Merge, undo: Undo) -> None:
        self.merges[merge.alias] = merge
        self.undo[merge.alias] = undo
        self.changes += 1
        if self.journal is not None:
            self.journal.merges.add(merge.alias)

    def set_undo(self, alias: str, undo: Undo) -> None:
        """Replace the undo record of the recorded merge of ``alias``."""
        self.undo[alias] = undo
        self.changes += 1
        if self.journal is not None:
            self.journal.merges.add(alias)

    def pop_merge(self, alias: str) -> tuple[Merge, Undo] | None:
        if alias not in self.merges:
            return None
        self.changes += 1
        if self.journal is not None:
            self.journal.merges.add(alias)
            self.journal.moved_merges.add(alias)
        return self.merges.pop(alias), self.undo.pop(alias)

    # ------------------------------------------------------------- ledger
    def put_document(self, record: DocumentRecord | None, doc_id: str = "") -> None:
        """Write (or, with ``None``, delete) the ledger row of a document."""
        doc_id = record.doc_id if record is not None else doc_id
        if record is None:
            self.documents.pop(doc_id, None)
        else:
            self.documents[doc_id] = record
        self.changes += 1
        if self.journal is not None:
            self.journal.documents.add(doc_id)

    def put_run(self, run: RunRecord) -> None:
        """Write a run record (runs do not change the graph, so the revision stays)."""
        self.runs[run.run_id] = run
        if self.journal is not None:
            self.journal.runs.add(run.run_id)

    # -------------------------------------------------------------- reads
    def _unindex_fact(self, key: tuple[str, str, str], provenance: list[Any]) -> None:
        for p in provenance:
            keys = self.by_doc.get(p.doc_id)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_doc[p.doc_id]

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
