"""The Neo4j store's writes: batched upserts, merges and unmerges, retraction, migration."""

from __future__ import annotations

import json
from typing import Any, Callable

from kgllm.stores import merge as merging
from kgllm.stores.base import UpsertResult
from kgllm.stores.delta import dedupe_provenance, fact_from_dict, fact_to_dict, validate_delta
from kgllm.stores.neo4j.connection import Connection
from kgllm.stores.neo4j.records import (
    ENTITY, MERGE_LABEL, bump_revision, create_facts, create_nodes, node_dict, pjson, pkey, write_facts, write_nodes,
    write_placeholders,
)
from kgllm.stores.neo4j.txgraph import TxGraph
from kgllm.types import Entity, Fact, GraphDelta, Merge, fact_id

__all__ = ["Writes", "BULK_BATCH"]

BULK_BATCH = 10_000
"""Rows per transaction when a large delta is loaded into an empty database."""


class Writes(Connection):
    """Every write of :class:`~kgllm.stores.neo4j.Neo4jStore`; each transaction that changes the graph
    bumps its revision."""

    def _merge_map(self) -> dict[str, str]:
        return self._run("read merges", lambda tx: TxGraph(tx).merge_map(), write=False)

    def upsert(self, delta: GraphDelta) -> UpsertResult:
        """Add entities, facts and merges (same semantics and counts as the memory store).

        Entities and facts are written in transactions of ``batch_size`` items: a
        fact and its provenance are never half-written, and re-running an
        interrupted upsert completes it without duplicates.

        Parameters
        ----------
        delta : GraphDelta
            What to add; validated whole before anything is written.

        Returns
        -------
        UpsertResult
            What changed (zeros when re-applied).

        Raises
        ------
        InputError
            The delta is invalid (nothing was written).
        StoreError
            The server could not be reached within ``retry_timeout``.
        """
        validate_delta(delta)
        merged = self._merge_map()
        if delta.merges:
            self._check_merges(delta, merged)
        elif not merged and len(delta.facts) + len(delta.entities) >= self.batch_size and self._is_empty():
            return self._bulk_create(delta)

        def resolve(eid: str) -> str:
            return merging.follow_merges(merged, eid)

        added_e = added_f = added_p = applied = 0
        n_ent, n_fact = len(delta.entities), len(delta.facts)
        for start in range(0, n_ent, self.batch_size):
            batch = delta.entities[start:start + self.batch_size]
            added_e += self._run("write entities", lambda tx, b=batch: _entities_tx(tx, b, resolve), write=True)
            if self.on_batch:
                self.on_batch("entities", start + len(batch), n_ent)
        for start in range(0, n_fact, self.batch_size):
            batch = delta.facts[start:start + self.batch_size]
            e, f, p = self._run("write facts", lambda tx, b=batch: _facts_tx(tx, b, resolve), write=True)
            added_e, added_f, added_p = added_e + e, added_f + f, added_p + p
            if self.on_batch:
                self.on_batch("facts", start + len(batch), n_fact)
        for merge in delta.merges:
            applied += self._run("apply merge", lambda tx, m=merge: _merge_tx(tx, m), write=True)
        return UpsertResult(added_e, added_f, added_p, applied)

    def _is_empty(self) -> bool:
        return self._run("count entities", lambda tx: tx.run(
            f"MATCH (n:{ENTITY}) RETURN count(n) AS n").single()["n"], write=False) == 0

    def _bulk_create(self, delta: GraphDelta) -> UpsertResult:
        """Load a large delta into an empty database: folded in memory as :meth:`upsert` would fold it into an
        empty graph, then written with ``CREATE`` in transactions of :data:`BULK_BATCH` rows (no lookups).

        Interrupted, it leaves a non-empty database: running the same upsert again takes the merging path and
        completes it exactly.
        """
        nodes: dict[str, dict[str, Any]] = {}
        for entity in delta.entities:
            node = nodes.get(entity.id)
            if node is None:
                nodes[entity.id] = merging.new_node(entity.id, entity)
            else:
                merging.fold_entity(node, entity.id, entity)
        facts: dict[str, Fact] = {}
        n_prov = 0
        for fact in delta.facts:
            for eid in (fact.subject, fact.object):
                if eid not in nodes:
                    nodes[eid] = merging.new_node(eid, Entity(eid, eid))
            old = facts.get(fact.id)
            if old is None:
                facts[fact.id] = fact.with_provenance(dedupe_provenance(fact.provenance))
                n_prov += len(facts[fact.id].provenance)
            else:
                keys = {p.key() for p in old.provenance}
                new = dedupe_provenance(p for p in fact.provenance if p.key() not in keys)
                n_prov += len(new)
                facts[fact.id] = Fact(old.subject, old.relation, old.object, max(old.confidence, fact.confidence),
                                      old.provenance + new)
        self._batches("entities", list(nodes.values()), lambda tx, b: create_nodes(tx, b), BULK_BATCH, "write")
        self._batches("facts", list(facts.values()), lambda tx, b: create_facts(tx, b), BULK_BATCH, "write")
        return UpsertResult(len(nodes), len(facts), n_prov, 0)

    def _check_merges(self, delta: GraphDelta, existing: dict[str, str]) -> None:
        """Raise if a merge of ``delta`` targets an entity that will not exist (dry run, as the memory store)."""
        ids: set[str] = set()
        for m in delta.merges:
            for eid in (m.alias, m.canonical):
                seen: set[str] = set()
                while eid not in seen:
                    seen.add(eid)
                    ids.add(eid)
                    if eid not in existing:
                        break
                    eid = existing[eid]
        nodes = set(self._run("check merges", lambda tx: [
            r["id"] for r in tx.run(f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}}) RETURN n.id AS id",
                                    ids=sorted(ids))], write=False))
        merging.dry_run_merges(delta, dict(existing), nodes)

    def unmerge(self, alias: str) -> bool:
        """Undo the merge of ``alias`` (restores its own node and facts); False if none recorded."""

        def work(tx: Any) -> bool:
            g = TxGraph(tx)
            done = merging.unmerge(g, alias)
            g.flush()
            return done

        return self._run("unmerge", work, write=True)

    def retract_document(self, doc_id: str) -> int:
        """Remove every provenance from ``doc_id``; facts left without one go, and so do entities they orphan.

        Returns
        -------
        int
            Number of facts removed.
        """
        return self._run("retract document", lambda tx: _retract_tx(tx, doc_id), write=True)

    def clear(self) -> None:
        """Delete every entity, fact and merge record (schema and revision kept; the revision is bumped)."""

        def work(tx: Any) -> None:
            tx.run(f"MATCH (m:{MERGE_LABEL}) DELETE m").consume()
            while tx.run(f"MATCH (n:{ENTITY}) WITH n LIMIT 10000 DETACH DELETE n RETURN count(*) AS n").single()["n"]:
                pass
            bump_revision(tx)

        self._run("clear", work, write=True)

    def from_dict(self, data: dict[str, Any]) -> None:
        """Add a graph in the memory store's ``to_dict`` shape as it is (for migration into an empty store).

        Entities and facts are written in batches of ``batch_size``; merge records
        keep their undo information.
        """
        entities = [{"id": e["id"], "name": e["name"], "type": e.get("type", ""), "aliases": list(e["aliases"])}
                    for e in data["entities"]]
        facts = [fact_from_dict(f) for f in data["facts"]]
        facts = [f.with_provenance(dedupe_provenance(f.provenance)) for f in facts]
        self._batches("entities", entities, lambda tx, b: write_nodes(tx, b))
        self._batches("facts", facts, _import_facts)
        records = data.get("merges", [])
        if records:
            self._run("import merges", lambda tx: _import_merges(tx, records), write=True)

    def _batches(self, kind: str, items: list[Any], write: Callable[[Any, list[Any]], None],
                 size: int | None = None, verb: str = "import") -> None:
        size = size or self.batch_size
        for start in range(0, len(items), size):
            batch = items[start:start + size]

            def work(tx: Any, b: list[Any] = batch) -> None:
                write(tx, b)
                bump_revision(tx)

            self._run(f"{verb} {kind}", work, write=True)
            if self.on_batch:
                self.on_batch(kind, start + len(batch), len(items))


def _entities_tx(tx: Any, batch: list[Entity], resolve: Callable[[str], str]) -> int:
    ids = sorted({resolve(e.id) for e in batch})
    nodes = {r["n"]["id"]: node_dict(dict(r["n"]))
             for r in tx.run(f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}}) RETURN n", ids=ids)}
    dirty: dict[str, dict[str, Any]] = {}
    added = 0
    for entity in batch:
        eid = resolve(entity.id)
        node = nodes.get(eid)
        if node is None:
            nodes[eid] = dirty[eid] = merging.new_node(eid, entity)
            added += 1
        elif merging.fold_entity(node, eid, entity):
            dirty[eid] = node
    write_nodes(tx, list(dirty.values()))
    if dirty:
        bump_revision(tx)
    return added


def _facts_tx(tx: Any, batch: list[Fact], resolve: Callable[[str], str]) -> tuple[int, int, int]:
    rows: dict[str, dict[str, Any]] = {}
    for fact in batch:
        s, o = resolve(fact.subject), resolve(fact.object)
        fid = fact_id(s, fact.relation, o)
        row = rows.get(fid)
        if row is None:
            rows[fid] = {"id": fid, "s": s, "o": o, "r": fact.relation, "c": float(fact.confidence),
                         "prov": dedupe_provenance(fact.provenance)}
        else:  # the same fact twice in a batch: one row, as applying both in turn would give
            row["prov"] = dedupe_provenance([*row["prov"], *fact.provenance])
            row["c"] = max(row["c"], float(fact.confidence))
    created = write_placeholders(tx, (eid for row in rows.values() for eid in (row["s"], row["o"])))
    for row in rows.values():
        prov = row.pop("prov")
        row.update(keys=[pkey(p) for p in prov], prov=[pjson(p) for p in prov], docs=[p.doc_id for p in prov])
    rec = tx.run(
        f"UNWIND $rows AS row MATCH (s:{ENTITY} {{id: row.s}}) MATCH (o:{ENTITY} {{id: row.o}}) "
        "MERGE (s)-[r:$(row.r)]->(o) "
        "WITH r, row, r.id IS NULL AS created, coalesce(r.pkeys, []) AS known, r.confidence AS old "
        "WITH r, row, created, known, old, [i IN range(0, size(row.keys) - 1) WHERE NOT row.keys[i] IN known] AS idx "
        "SET r.id = row.id, r.relation = row.r, "
        "r.confidence = CASE WHEN created OR row.c > r.confidence THEN row.c ELSE r.confidence END, "
        "r.pkeys = known + [i IN idx | row.keys[i]], "
        "r.prov = coalesce(r.prov, []) + [i IN idx | row.prov[i]], "
        "r.pdocs = coalesce(r.pdocs, []) + [i IN idx | row.docs[i]] "
        "RETURN sum(CASE WHEN created THEN 1 ELSE 0 END) AS f, sum(size(idx)) AS p, "
        "sum(CASE WHEN created OR size(idx) > 0 OR row.c > old THEN 1 ELSE 0 END) AS changed",
        rows=list(rows.values())).single()
    if created or rec["changed"]:
        bump_revision(tx)
    return created, rec["f"] or 0, rec["p"] or 0


def _merge_tx(tx: Any, merge: Merge) -> int:
    g = TxGraph(tx)
    applied = merging.apply_merge(g, merge)
    g.flush()
    return applied


def _retract_tx(tx: Any, doc_id: str) -> int:
    rows = [r.data() for r in tx.run(
        f"MATCH (s:{ENTITY})-[r]->(o:{ENTITY}) WHERE $doc IN r.pdocs "
        "RETURN r.id AS id, s.id AS s, o.id AS o, r.pkeys AS pkeys, r.prov AS prov, r.pdocs AS pdocs",
        doc=doc_id)]
    update, drop, touched = [], [], set()
    for row in rows:
        keep = [i for i, d in enumerate(row["pdocs"]) if d != doc_id]
        if keep:
            update.append({"id": row["id"], "s": row["s"], "o": row["o"],
                           "pkeys": [row["pkeys"][i] for i in keep], "prov": [row["prov"][i] for i in keep],
                           "pdocs": [row["pdocs"][i] for i in keep]})
        else:
            drop.append({"id": row["id"], "s": row["s"], "o": row["o"]})
            touched.update((row["s"], row["o"]))
    match = f"UNWIND $rows AS row MATCH (s:{ENTITY} {{id: row.s}})-[r]->(o:{ENTITY} {{id: row.o}}) WHERE r.id = row.id "
    if update:
        tx.run(match + "SET r.pkeys = row.pkeys, r.prov = row.prov, r.pdocs = row.pdocs", rows=update).consume()
    if drop:
        tx.run(match + "DELETE r", rows=drop).consume()
    if touched:
        tx.run(f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}}) WHERE NOT (n)--() DELETE n",
               ids=sorted(touched)).consume()
    # As the memory store: every undo record loses the document's provenance, and facts left without any.
    changed = bool(rows)
    for rec in list(tx.run(f"MATCH (m:{MERGE_LABEL}) RETURN m.alias AS a, m.facts AS f")):
        original = [fact_from_dict(f) for f in json.loads(rec["f"])]
        kept = merging.strip_document(original, doc_id)
        if kept != original:
            facts = json.dumps([fact_to_dict(f) for f in kept], ensure_ascii=False)
            tx.run(f"MATCH (m:{MERGE_LABEL} {{alias: $a}}) SET m.facts = $f", a=rec["a"], f=facts).consume()
            changed = True
    if changed:
        bump_revision(tx)
    return len(drop)


def _import_facts(tx: Any, batch: list[Fact]) -> None:
    write_placeholders(tx, (eid for f in batch for eid in (f.subject, f.object)))
    write_facts(tx, batch)


def _import_merges(tx: Any, records: list[dict[str, Any]]) -> None:
    base = tx.run(f"MATCH (m:{MERGE_LABEL}) RETURN coalesce(max(m.seq), 0) AS s").single()["s"]
    rows = [{**item["merge"], "score": float(item["merge"].get("score", 1.0)),
             "doc_id": item["merge"].get("doc_id", ""), "seq": base + i + 1,
             "node": json.dumps(item["node"], ensure_ascii=False),
             "facts": json.dumps(item["facts"], ensure_ascii=False),
             "changes": json.dumps(item["changes"], ensure_ascii=False) if item.get("changes") is not None else None}
            for i, item in enumerate(records)]
    tx.run(f"UNWIND $rows AS row MERGE (m:{MERGE_LABEL} {{alias: row.alias}}) "
           "SET m.canonical = row.canonical, m.method = row.method, m.score = row.score, "
           "m.doc_id = row.doc_id, m.seq = row.seq, m.node = row.node, m.facts = row.facts, "
           "m.changes = row.changes", rows=rows).consume()
    bump_revision(tx)
