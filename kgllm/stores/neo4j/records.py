"""How the Neo4j store lays the graph out in the database, and the rows it reads and writes.

* Entities are nodes labelled ``Entity`` with properties ``id`` (unique constraint),
  ``name``, ``type``, ``aliases`` (list of strings) and ``search`` (the entity-id forms
  of its id, name and aliases, for the full-text index ``kgllm_entity_search``).
* A fact is one relationship whose *type* is the relation (so ``-[r:born_in]->``
  matches as on the memory store; written with Cypher 5.26's dynamic types, so
  the server must be Neo4j 5.26 or later) with properties ``id``, ``relation``,
  ``confidence``, ``pkeys`` (JSON of each provenance key), ``prov`` (JSON of each
  provenance) and ``pdocs`` (document id of each provenance): the three lists
  are parallel and a fact and its provenance are always written in one transaction.
* Merges are nodes labelled ``KgllmMerge`` (unique ``alias``) holding the merge, its
  order ``seq`` and the JSON undo record, as in the memory store's graph dict.
* The ledger: ``KgllmDocument``, ``KgllmRun`` and ``KgllmLock`` nodes (see :mod:`kgllm.stores.neo4j.ledger`).
* One node ``KgllmMeta {key: "graph"}`` holds ``revision``, bumped by every write
  transaction that changes the graph.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from kgllm.types import Entity, Fact, Provenance, entity_id

ENTITY = "Entity"
MERGE_LABEL = "KgllmMerge"
META_LABEL = "KgllmMeta"
DOCUMENT_LABEL = "KgllmDocument"
RUN_LABEL = "KgllmRun"
LOCK_LABEL = "KgllmLock"
FULLTEXT_INDEX = "kgllm_entity_search"
SCHEMA = (
    f"CREATE CONSTRAINT kgllm_entity_id IF NOT EXISTS FOR (n:{ENTITY}) REQUIRE n.id IS UNIQUE",
    f"CREATE CONSTRAINT kgllm_merge_alias IF NOT EXISTS FOR (m:{MERGE_LABEL}) REQUIRE m.alias IS UNIQUE",
    f"CREATE CONSTRAINT kgllm_meta_key IF NOT EXISTS FOR (m:{META_LABEL}) REQUIRE m.key IS UNIQUE",
    "CREATE CONSTRAINT kgllm_document_id IF NOT EXISTS FOR (d:KgllmDocument) REQUIRE d.doc_id IS UNIQUE",
    "CREATE CONSTRAINT kgllm_run_id IF NOT EXISTS FOR (r:KgllmRun) REQUIRE r.run_id IS UNIQUE",
    "CREATE CONSTRAINT kgllm_lock_name IF NOT EXISTS FOR (l:KgllmLock) REQUIRE l.name IS UNIQUE",
    f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} IF NOT EXISTS FOR (n:{ENTITY}) ON EACH [n.search]",
)
FACT_RETURN = ("s.id AS s, r.relation AS r, o.id AS o, r.confidence AS c, r.prov AS prov, "
               "r.pkeys AS pkeys, r.pdocs AS pdocs")


def bump_revision(tx: Any) -> None:
    """Increase the graph's revision inside the write transaction ``tx``."""
    tx.run(f"MERGE (m:{META_LABEL} {{key: 'graph'}}) SET m.revision = coalesce(m.revision, 0) + 1").consume()


def pkey(p: Provenance) -> str:
    return json.dumps(list(p.key()), ensure_ascii=False)


def pjson(p: Provenance) -> str:
    return json.dumps(p.to_dict(), ensure_ascii=False)


def search_text(eid: str, name: str, aliases: Iterable[str]) -> str:
    """The ``search`` property: the entity-id forms of id, name and aliases, one a line."""
    keys = dict.fromkeys([eid, entity_id(name), *(entity_id(a) for a in aliases)])
    return "\n".join(k for k in keys if k)


def fact_from_row(row: dict[str, Any]) -> Fact:
    prov = tuple(Provenance.from_dict(json.loads(p)) for p in (row["prov"] or []))
    return Fact(row["s"], row["r"], row["o"], float(row["c"]), prov)


def entity_from_props(props: dict[str, Any]) -> Entity:
    return Entity(props["id"], props["name"], props.get("type") or "", tuple(props.get("aliases") or ()))


def node_dict(props: dict[str, Any]) -> dict[str, Any]:
    return {"id": props["id"], "name": props["name"], "type": props.get("type") or "",
            "aliases": list(props.get("aliases") or [])}


def write_nodes(tx: Any, nodes: list[dict[str, Any]]) -> None:
    """Create or overwrite entity nodes (dicts of ``id``, ``name``, ``type``, ``aliases``) in one UNWIND."""
    if not nodes:
        return
    rows = [{**n, "search": search_text(n["id"], n["name"], n["aliases"])} for n in nodes]
    tx.run(f"UNWIND $rows AS row MERGE (n:{ENTITY} {{id: row.id}}) "
           "SET n.name = row.name, n.type = row.type, n.aliases = row.aliases, n.search = row.search",
           rows=rows).consume()


def write_placeholders(tx: Any, ids: Iterable[str]) -> int:
    """Create a bare entity (name = id) for each id without a node; returns how many were created."""
    rows = [{"id": eid, "search": search_text(eid, eid, ())} for eid in sorted(set(ids))]
    if not rows:
        return 0
    return tx.run(f"UNWIND $rows AS row MERGE (n:{ENTITY} {{id: row.id}}) "
                  "ON CREATE SET n.name = row.id, n.type = '', n.aliases = [], n.search = row.search",
                  rows=rows).consume().counters.nodes_created


def write_facts(tx: Any, facts: list[Fact]) -> None:
    """Create or overwrite facts (both ends must exist) in one UNWIND."""
    if not facts:
        return
    rows = [{"id": f.id, "s": f.subject, "o": f.object, "r": f.relation, "c": float(f.confidence),
             "keys": [pkey(p) for p in f.provenance], "prov": [pjson(p) for p in f.provenance],
             "docs": [p.doc_id for p in f.provenance]} for f in facts]
    tx.run(f"UNWIND $rows AS row MATCH (s:{ENTITY} {{id: row.s}}) MATCH (o:{ENTITY} {{id: row.o}}) "
           "MERGE (s)-[r:$(row.r)]->(o) "
           "SET r.id = row.id, r.relation = row.r, r.confidence = row.c, "
           "r.pkeys = row.keys, r.prov = row.prov, r.pdocs = row.docs", rows=rows).consume()


def create_nodes(tx: Any, nodes: list[dict[str, Any]]) -> None:
    """Create entity nodes known not to exist (bulk load into an empty database), and bump the revision."""
    rows = [{**n, "search": search_text(n["id"], n["name"], n["aliases"])} for n in nodes]
    tx.run(f"UNWIND $rows AS row CREATE (n:{ENTITY} {{id: row.id, name: row.name, type: row.type, "
           "aliases: row.aliases, search: row.search})", rows=rows).consume()


def create_facts(tx: Any, facts: list[Fact]) -> None:
    """Create facts known not to exist between existing entities (bulk load into an empty database)."""
    rows = [{"id": f.id, "s": f.subject, "o": f.object, "r": f.relation, "c": float(f.confidence),
             "keys": [pkey(p) for p in f.provenance], "prov": [pjson(p) for p in f.provenance],
             "docs": [p.doc_id for p in f.provenance]} for f in facts]
    tx.run(f"UNWIND $rows AS row MATCH (s:{ENTITY} {{id: row.s}}) MATCH (o:{ENTITY} {{id: row.o}}) "
           "CREATE (s)-[r:$(row.r)]->(o) SET r.id = row.id, r.relation = row.r, r.confidence = row.c, "
           "r.pkeys = row.keys, r.prov = row.prov, r.pdocs = row.docs", rows=rows).consume()


def delete_facts(tx: Any, facts: list[Fact]) -> None:
    """Delete the relationships of these facts."""
    if facts:
        tx.run(f"UNWIND $rows AS row MATCH (s:{ENTITY} {{id: row.s}})-[r]->(o:{ENTITY} {{id: row.o}}) "
               "WHERE r.id = row.id DELETE r",
               rows=[{"id": f.id, "s": f.subject, "o": f.object} for f in facts]).consume()


def incident_many(tx: Any, ids: list[str]) -> dict[str, list[tuple[Fact, dict[str, Any]]]]:
    """For each id: its out-facts then in-facts (self-loops once, each group by fact id), with the other end."""
    found: dict[str, list[tuple[bool, str, Fact, dict[str, Any]]]] = {eid: [] for eid in ids}
    rows = tx.run(
        f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}})-[r]-(m:{ENTITY}) "
        "WITH id, r, m, startNode(r) = n AS fwd "
        "RETURN id, fwd, r.relation AS r, r.confidence AS c, r.prov AS prov, r.id AS fid, "
        "m.id AS mid, m.name AS name, m.type AS type, m.aliases AS aliases", ids=ids)
    seen: set[tuple[str, str]] = set()
    for rec in rows:
        eid, fid = rec["id"], rec["fid"]
        if (eid, fid) in seen:
            continue
        seen.add((eid, fid))
        fwd = rec["fwd"]
        row = {"s": eid if fwd else rec["mid"], "o": rec["mid"] if fwd else eid, "r": rec["r"],
               "c": rec["c"], "prov": rec["prov"]}
        other = {"id": rec["mid"], "name": rec["name"], "type": rec["type"], "aliases": rec["aliases"]}
        found[eid].append((not fwd, fid, fact_from_row(row), other))
    return {eid: [(f, other) for _, _, f, other in sorted(items, key=lambda x: (x[0], x[1]))]
            for eid, items in found.items()}

