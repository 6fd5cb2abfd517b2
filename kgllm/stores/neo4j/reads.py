"""The Neo4j store's reads: entities, facts, neighbours, subgraphs, paths, merges, statistics, export."""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Iterable, Iterator

from kgllm.errors import InputError
from kgllm.stores.base import Direction
from kgllm.stores.delta import FORMAT_NAME, FORMAT_VERSION, fact_to_dict
from kgllm.stores.neo4j.connection import Connection
from kgllm.stores.neo4j.records import (
    DOCUMENT_LABEL, ENTITY, FACT_RETURN, FULLTEXT_INDEX, MERGE_LABEL, RUN_LABEL, entity_from_props, fact_from_row,
    incident_many,
)
from kgllm.types import Entity, Fact, Merge, Path, Subgraph, entity_id

__all__ = ["Reads"]


def _resolve(tx: Any, eid: str) -> str:
    """Follow recorded merges from ``eid`` (cycle-safe)."""
    seen = set()
    while eid not in seen:
        seen.add(eid)
        rec = tx.run(f"MATCH (m:{MERGE_LABEL} {{alias: $id}}) RETURN m.canonical AS c", id=eid).single()
        if rec is None:
            break
        eid = rec["c"]
    return eid


class Reads(Connection):
    """Every read of :class:`~kgllm.stores.neo4j.Neo4jStore`, each in one READ transaction."""

    def get_entity(self, entity_id: str) -> Entity | None:
        """The entity ``entity_id`` (following merges), or ``None``."""

        def work(tx: Any) -> Entity | None:  # an entity that exists is no merged alias: resolve only when missing
            rec = tx.run(f"MATCH (n:{ENTITY} {{id: $id}}) RETURN n", id=entity_id).single()
            if rec is None and (eid := _resolve(tx, entity_id)) != entity_id:
                rec = tx.run(f"MATCH (n:{ENTITY} {{id: $id}}) RETURN n", id=eid).single()
            return entity_from_props(dict(rec["n"])) if rec else None

        return self._run("get entity", work, write=False)

    def find_entities(self, text: str, limit: int = 10) -> list[Entity]:
        """Entities whose name or an alias matches ``text``: exact first, then by shared words.

        Candidates come from the full-text index; ranking is the memory store's.
        """
        key = entity_id(text)
        if not key:
            return []
        words = set(key.split())
        terms = [w for w in sorted(words) if any(ch.isalnum() for ch in w)]
        lucene = " OR ".join('"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in terms)
        scan = [w for w in sorted(words) if w not in terms]

        def work(tx: Any) -> dict[str, dict[str, Any]]:
            found: dict[str, dict[str, Any]] = {}
            rec = tx.run(f"MATCH (n:{ENTITY} {{id: $id}}) RETURN n", id=key).single()
            if rec:
                found[key] = dict(rec["n"])
            if lucene:
                for r in tx.run("CALL db.index.fulltext.queryNodes($index, $q) YIELD node RETURN node",
                                index=FULLTEXT_INDEX, q=lucene):
                    found.setdefault(r["node"]["id"], dict(r["node"]))
            if scan:
                for r in tx.run(f"MATCH (n:{ENTITY}) WHERE any(w IN $words WHERE n.search CONTAINS w) RETURN n",
                                words=scan):
                    found.setdefault(r["n"]["id"], dict(r["n"]))
            return found

        candidates = self._run("find entities", work, write=False)
        found: list[str] = [key] if key in candidates else []
        found.extend(sorted(eid for eid, props in candidates.items() if eid not in found
                            and key in {entity_id(n) for n in [props["name"], *(props.get("aliases") or [])]}))
        if len(found) < limit:
            scored = []
            for eid, props in candidates.items():
                if eid in found:
                    continue
                names = [eid, *(entity_id(a) for a in props.get("aliases") or [])]
                best = max(len(words & set(n.split())) / max(len(set(n.split())), 1) for n in names)
                if best > 0:
                    scored.append((-best, eid))
            found.extend(eid for _, eid in sorted(scored))
        return [entity_from_props(candidates[eid]) for eid in found[:limit]]

    def entities(self) -> Iterator[Entity]:
        """Every entity (order unspecified)."""
        rows = self._read("list entities", f"MATCH (n:{ENTITY}) RETURN n.id AS id, n.name AS name, "
                                           "n.type AS type, n.aliases AS aliases")
        for r in rows:
            yield entity_from_props(r)

    def facts(self) -> Iterator[Fact]:
        """Every fact with its provenance (order unspecified)."""
        for r in self._read("list facts", f"MATCH (s:{ENTITY})-[r]->(o:{ENTITY}) RETURN {FACT_RETURN}"):
            yield fact_from_row(r)

    def get_fact(self, fact_id: str) -> Fact | None:
        """The fact with id ``fact_id`` or ``None`` (a scan of the relationships)."""
        rows = self._read("get fact", f"MATCH (s:{ENTITY})-[r]->(o:{ENTITY}) WHERE r.id = $fid "
                                      f"RETURN {FACT_RETURN} LIMIT 1", fid=fact_id)
        return fact_from_row(rows[0]) if rows else None

    def neighbors(self, entity_id: str, direction: Direction = "both", relation: str | None = None) -> list[Fact]:
        """Facts touching ``entity_id`` (as subject for ``out``, object for ``in``; of ``relation`` when given;
        order unspecified)."""
        if direction not in ("out", "in", "both"):
            raise InputError(f"direction must be 'out', 'in' or 'both', got {direction!r}")

        def work(tx: Any) -> list[Fact]:
            eid = entity_id  # one query for an entity that exists (it is no merged alias); else merges followed
            found = incident_many(tx, [eid])[eid]
            if not found and (resolved := _resolve(tx, entity_id)) != entity_id:
                eid = resolved
                found = incident_many(tx, [eid])[eid]
            facts = [f for f, _ in found if relation is None or f.relation == relation]
            if direction == "out":
                return [f for f in facts if f.subject == eid]
            if direction == "in":
                return [f for f in facts if f.object == eid]
            return facts

        return self._run("neighbors", work, write=False)

    def subgraph(self, seeds: Iterable[str], hops: int = 2, limit: int = 500) -> Subgraph:
        """All facts within ``hops`` of the seeds (edges walked both ways), at most ``limit``.

        Same breadth-first walk as the memory store; each level's facts are read in one query.
        """
        seeds = list(seeds)

        def work(tx: Any) -> Subgraph:
            sub = Subgraph()
            resolved = [_resolve(tx, s) for s in seeds]
            known = {r["n"]["id"]: entity_from_props(dict(r["n"])) for r in tx.run(
                f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}}) RETURN n", ids=sorted(set(resolved)))}
            frontier: deque[str] = deque()
            depth: dict[str, int] = {}
            for eid in resolved:
                if eid in known and eid not in depth:
                    depth[eid] = 0
                    frontier.append(eid)
                    sub.seeds.append(eid)
            incident: dict[str, list[tuple[Fact, dict[str, Any]]]] = {}
            seen_facts: set[str] = set()
            while frontier:
                eid = frontier.popleft()
                sub.entities[eid] = known[eid]
                if depth[eid] >= hops:
                    continue
                if eid not in incident:  # read the whole pending level at once
                    level = [x for x in frontier if depth[x] < hops and x not in incident]
                    incident.update(incident_many(tx, [eid, *level]))
                for fact, other_props in incident[eid]:
                    if fact.id in seen_facts:
                        continue
                    if len(sub.facts) >= limit:
                        return sub
                    seen_facts.add(fact.id)
                    sub.facts.append(fact)
                    other = other_props["id"]
                    known.setdefault(other, entity_from_props(other_props))
                    if other not in depth:
                        depth[other] = depth[eid] + 1
                        frontier.append(other)
                        sub.entities[other] = known[other]
            return sub

        return self._run("subgraph", work, write=False)

    def paths(self, source: str, target: str, max_hops: int = 3, limit: int = 20) -> list[Path]:
        """Simple paths between two entities, shortest first, edges walked both ways."""

        def work(tx: Any) -> list[Path]:
            src, dst = _resolve(tx, source), _resolve(tx, target)
            ok = tx.run(f"MATCH (a:{ENTITY} {{id: $s}}), (b:{ENTITY} {{id: $t}}) RETURN count(*) AS n",
                        s=src, t=dst).single()["n"]
            if not ok or src == dst:
                return []
            found: list[Path] = []
            for hops in range(1, max_hops + 1):
                if len(found) >= limit:
                    break
                rows = tx.run(
                    f"MATCH (a:{ENTITY} {{id: $s}}), (b:{ENTITY} {{id: $t}}) "
                    f"MATCH p = (a)-[*{hops}]-(b) "
                    "WHERE all(x IN nodes(p) WHERE x:Entity AND single(y IN nodes(p) WHERE y = x)) "
                    "RETURN [x IN nodes(p) | x.id] AS ids, [r IN relationships(p) | "
                    "[startNode(r).id, r.relation, endNode(r).id, r.confidence, r.prov]] AS rels "
                    "LIMIT $n", s=src, t=dst, n=limit - len(found))
                for rec in rows:
                    ids = tuple(rec["ids"])
                    facts, forward = [], []
                    for i, (s, rel, o, c, prov) in enumerate(rec["rels"]):
                        facts.append(fact_from_row({"s": s, "r": rel, "o": o, "c": c, "prov": prov}))
                        forward.append(s == ids[i] and o == ids[i + 1])
                    found.append(Path(ids, tuple(facts), tuple(forward)))
            return found[:limit]

        return self._run("paths", work, write=False)

    def merges(self) -> list[Merge]:
        """Recorded merges, oldest first."""
        rows = self._read("list merges", f"MATCH (m:{MERGE_LABEL}) RETURN m.alias AS alias, m.canonical AS canonical, "
                                         "m.method AS method, m.score AS score, m.doc_id AS doc_id ORDER BY m.seq")
        return [Merge(**r) for r in rows]

    def stats(self) -> dict[str, int]:
        """Counts: ``entities``, ``facts``, ``relations``, ``documents``, ``provenances``, ``merges``."""

        def work(tx: Any) -> dict[str, int]:  # counts from the count store; provenance needs a pass
            entities = tx.run(f"MATCH (n:{ENTITY}) RETURN count(n) AS n").single()["n"]
            facts = tx.run("MATCH ()-[r]->() RETURN count(r) AS f").single()["f"]
            types = [r["t"] for r in tx.run("CALL db.relationshipTypes() YIELD relationshipType AS t RETURN t")]
            relations = sum(1 for t in types if tx.run(
                f"MATCH ()-[r:`{t.replace('`', '``')}`]->() RETURN count(r) > 0 AS used").single()["used"])
            rec = tx.run("MATCH ()-[r]->() UNWIND r.pdocs AS d RETURN count(d) AS p, count(DISTINCT d) AS d").single()
            merges = tx.run(f"MATCH (m:{MERGE_LABEL}) RETURN count(m) AS m").single()["m"]
            return {"entities": entities, "facts": facts, "relations": relations, "documents": rec["d"],
                    "provenances": rec["p"] or 0, "merges": merges}

        return self._run("stats", work, write=False)

    def to_dict(self) -> dict[str, Any]:
        """The whole graph in the memory store's ``to_dict`` shape (orders unspecified)."""
        merges = self._read("list merges", f"MATCH (m:{MERGE_LABEL}) RETURN m.alias AS alias, m.canonical AS canonical, "
                                           "m.method AS method, m.score AS score, m.doc_id AS doc_id, m.node AS node, "
                                           "m.facts AS facts, m.changes AS changes ORDER BY m.seq")
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "entities": [{"id": e.id, "name": e.name, "type": e.type, "aliases": list(e.aliases)}
                         for e in self.entities()],
            "facts": [fact_to_dict(f) for f in self.facts()],
            "merges": [
                {
                    "merge": {"alias": m["alias"], "canonical": m["canonical"], "method": m["method"],
                              "score": m["score"], "doc_id": m["doc_id"]},
                    "node": json.loads(m["node"]),
                    "facts": json.loads(m["facts"]),
                    "changes": json.loads(m["changes"]) if m["changes"] else None,
                }
                for m in merges
            ],
            "documents": self._read("list documents", f"MATCH (d:{DOCUMENT_LABEL}) RETURN d.doc_id AS doc_id, "
                                    "d.source AS source, d.content_hash AS content_hash, d.facts AS facts, "
                                    "d.ingested_at AS ingested_at, coalesce(d.text, '') AS text ORDER BY d.doc_id"),
            "runs": [json.loads(r["rec"]) for r in self._read(
                "list runs", f"MATCH (r:{RUN_LABEL}) RETURN r.record AS rec ORDER BY r.started_at, r.run_id")],
        }
