"""The Neo4j store's :class:`~kgllm.stores.merge.GraphAccess`: one transaction's slice of the graph.

The merge algorithm (:mod:`kgllm.stores.merge`) reads the nodes and facts it
needs through :class:`TxGraph`, which caches them, keeps the changes in Python and
writes them back in a few ``UNWIND`` statements by :meth:`TxGraph.flush`, in the
same transaction.
"""

from __future__ import annotations

import json
from typing import Any

from kgllm.stores.delta import fact_from_dict, fact_to_dict
from kgllm.stores.merge import Node, Undo
from kgllm.stores.neo4j.records import (
    ENTITY, FACT_RETURN, MERGE_LABEL, bump_revision, delete_facts, fact_from_row, incident_many, node_dict,
    write_facts, write_nodes,
)
from kgllm.types import Fact, Merge, fact_id

__all__ = ["TxGraph"]


class TxGraph:
    """The graph as seen from the transaction ``tx``; changes are written by :meth:`flush`."""

    def __init__(self, tx: Any) -> None:
        self.tx = tx
        self._merged: dict[str, str] | None = None
        self._nodes: dict[str, Node | None] = {}
        self._facts: dict[str, Fact | None] = {}  # fact id -> fact (None: absent or removed)
        self._dirty_nodes: set[str] = set()
        self._deleted_nodes: set[str] = set()
        self._dirty_facts: set[str] = set()
        self._removed: dict[str, Fact] = {}  # fact id -> the removed fact (its ends locate it)
        self._records: list[tuple[Merge, Undo]] = []
        self._changed = False

    # ------------------------------------------------------- GraphAccess
    def merge_map(self) -> dict[str, str]:
        if self._merged is None:
            rows = self.tx.run(f"MATCH (m:{MERGE_LABEL}) RETURN m.alias AS a, m.canonical AS c")
            self._merged = {r["a"]: r["c"] for r in rows}
        return self._merged

    def node(self, eid: str) -> Node | None:
        if eid not in self._nodes:
            rec = self.tx.run(f"MATCH (n:{ENTITY} {{id: $id}}) RETURN n", id=eid).single()
            self._nodes[eid] = node_dict(dict(rec["n"])) if rec else None
        node = self._nodes[eid]
        return None if node is None else {**node, "aliases": list(node["aliases"])}

    def set_node(self, eid: str, node: Node) -> None:
        self._nodes[eid] = {"id": eid, "name": node["name"], "type": node["type"], "aliases": list(node["aliases"])}
        self._deleted_nodes.discard(eid)
        self._dirty_nodes.add(eid)

    def delete_node(self, eid: str) -> None:
        """Delete a node and (as DETACH DELETE will) every fact touching it."""
        self._nodes[eid] = None
        self._deleted_nodes.add(eid)
        self._dirty_nodes.discard(eid)
        for fid, f in self._facts.items():
            if f is not None and eid in (f.subject, f.object):
                self._facts[fid] = None
                self._dirty_facts.discard(fid)

    def incident(self, eid: str) -> list[Fact]:
        facts = [f for f, _ in incident_many(self.tx, [eid])[eid]]
        for f in facts:
            self._facts[f.id] = f
        return facts

    def fact(self, subject: str, relation: str, object: str) -> Fact | None:
        fid = fact_id(subject, relation, object)
        if fid not in self._facts:
            rec = self.tx.run(
                f"MATCH (s:{ENTITY} {{id: $s}})-[r]->(o:{ENTITY} {{id: $o}}) WHERE r.id = $fid RETURN {FACT_RETURN}",
                s=subject, o=object, fid=fid).single()
            self._facts[fid] = None if rec is None else fact_from_row(rec.data())
        return self._facts[fid]

    def put_fact(self, fact: Fact) -> None:
        self._facts[fact.id] = fact
        self._dirty_facts.add(fact.id)

    def remove_fact(self, fact: Fact) -> None:
        self._facts[fact.id] = None
        self._dirty_facts.add(fact.id)
        self._removed[fact.id] = fact

    def record_merge(self, merge: Merge, undo: Undo) -> None:
        self._records.append((merge, undo))

    def pop_merge(self, alias: str) -> tuple[Merge, Undo] | None:
        rec = self.tx.run(f"MATCH (m:{MERGE_LABEL} {{alias: $alias}}) RETURN m", alias=alias).single()
        if rec is None:
            return None
        m = dict(rec["m"])
        self.tx.run(f"MATCH (m:{MERGE_LABEL} {{alias: $alias}}) DELETE m", alias=alias).consume()
        self._changed = True
        merge = Merge(m["alias"], m["canonical"], m["method"], m["score"], m["doc_id"])
        undo = Undo(json.loads(m["node"]), [fact_from_dict(f) for f in json.loads(m["facts"])],
                    json.loads(m["changes"]) if m.get("changes") else None)
        return merge, undo

    # ------------------------------------------------------------- write
    def flush(self) -> bool:
        """Write every change in this transaction (and bump the revision); True if anything changed."""
        tx = self.tx
        if self._deleted_nodes:
            tx.run(f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}}) DETACH DELETE n",
                   ids=sorted(self._deleted_nodes)).consume()
        gone = [self._removed[fid] for fid in sorted(self._dirty_facts)
                if self._facts.get(fid) is None and fid in self._removed]
        delete_facts(tx, gone)
        write_nodes(tx, [n for eid in sorted(self._dirty_nodes) if (n := self._nodes.get(eid)) is not None])
        write_facts(tx, [f for fid in sorted(self._dirty_facts) if (f := self._facts.get(fid)) is not None])
        for merge, undo in self._records:
            seq = tx.run(f"MATCH (m:{MERGE_LABEL}) RETURN coalesce(max(m.seq), 0) + 1 AS seq").single()["seq"]
            tx.run(f"CREATE (m:{MERGE_LABEL} {{alias: $alias, canonical: $canonical, method: $method, "
                   "score: $score, doc_id: $doc_id, seq: $seq, node: $node, facts: $facts, changes: $changes})",
                   alias=merge.alias, canonical=merge.canonical, method=merge.method, score=float(merge.score),
                   doc_id=merge.doc_id, seq=seq, node=json.dumps(undo.node, ensure_ascii=False),
                   facts=json.dumps([fact_to_dict(f) for f in undo.facts], ensure_ascii=False),
                   changes=json.dumps(undo.changes, ensure_ascii=False)).consume()
        changed = bool(self._changed or self._deleted_nodes or self._dirty_nodes or self._dirty_facts
                       or self._records)
        if changed:
            bump_revision(tx)
        return changed
