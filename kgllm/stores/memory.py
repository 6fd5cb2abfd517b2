"""In-memory graph store on a networkx ``MultiDiGraph``: the embedded default.

Nodes are entity ids with attributes ``id``, ``name``, ``type``, ``aliases``;
edges are keyed by fact id and carry ``relation``, ``confidence`` and the list
of provenances. Cypher queries run through ``grand-cypher``.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta, Provenance
>>> store = MemoryStore()
>>> p1 = Provenance("doc1", 0, 0, 30, "rules")
>>> p2 = Provenance("doc2", 0, 0, 30, "rules")
>>> f = Fact("marie curie", "born_in", "warsaw")
>>> store.upsert(GraphDelta(facts=[f.with_provenance([p1])])).facts_added
1
>>> store.upsert(GraphDelta(facts=[f.with_provenance([p1])])).provenance_added  # same source: once
0
>>> store.upsert(GraphDelta(facts=[f.with_provenance([p2])])).provenance_added  # second source kept
1
>>> [x.as_line() for x in store.neighbors("warsaw")]
['marie curie --born_in--> warsaw']
>>> store.query('MATCH (a)-[r]->(b) WHERE a.name == "marie curie" RETURN b.name')
[{'b.name': 'warsaw'}]
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
from collections import deque
from pathlib import Path as FilePath
from typing import Any, Iterable, Iterator

import networkx as nx

from kgllm.errors import InputError, NotFoundError, StoreError
from kgllm.stores.base import Direction, UpsertResult
from kgllm.types import Entity, Fact, GraphDelta, Merge, Path, Provenance, Subgraph, entity_id

__all__ = ["MemoryStore", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "kgllm-graph"
FORMAT_VERSION = 1

_WRITE_CLAUSE = re.compile(r"(?<!\.)\b(CREATE|MERGE|DELETE|DETACH|SET|REMOVE|DROP|LOAD\s+CSV|CALL)\b", re.IGNORECASE)
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_TOKEN = re.compile(r"(?P<string>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|\$(?P<param>[A-Za-z_][A-Za-z0-9_]*)")


def _validate_delta(delta: GraphDelta) -> None:
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


def follow_merges(merged: dict[str, str], eid: str) -> str:
    """The id ``eid`` ends at after following ``alias -> canonical`` links (cycle-safe).

    >>> follow_merges({"curie": "marie curie", "m. curie": "curie"}, "m. curie")
    'marie curie'
    """
    seen = set()
    while eid in merged and eid not in seen:
        seen.add(eid)
        eid = merged[eid]
    return eid


def dry_run_merges(delta: GraphDelta, merged: dict[str, str], nodes: set[str]) -> None:
    """Raise :class:`InputError` if a merge of ``delta`` targets an entity that will not exist.

    ``merged`` maps already-merged aliases to their canonical ids and ``nodes`` holds
    the entity ids the store has (every store must hold at least those the merges
    touch); both are updated as the delta's entities, facts and merges would be applied.
    """

    def resolve(eid: str) -> str:
        return follow_merges(merged, eid)

    nodes.update(resolve(e.id) for e in delta.entities)
    for f in delta.facts:
        nodes.update((resolve(f.subject), resolve(f.object)))
    for m in delta.merges:
        alias, canonical = resolve(m.alias), resolve(m.canonical)
        if m.alias in merged or alias == canonical or alias not in nodes:
            continue
        if canonical not in nodes:
            raise InputError(f"merge target {canonical!r} is not in the graph: {m!r}")
        nodes.discard(alias)
        merged[alias] = m.canonical


class MemoryStore:
    """The reference :class:`~kgllm.stores.base.GraphStore`, held in process memory.

    :meth:`query` accepts the read-only Cypher subset of ``grand-cypher``:

    * ``MATCH`` patterns of nodes and directed edges, ``(a)-[r]->(b)``, ``(a)<-[r]-(b)``,
      chains such as ``(a)-[r1]->(b)-[r2]->(c)``, relationship types ``-[r:born_in]->``
      or ``-[r:born_in|capital_of]->`` (the fact's relation), variable length ``-[*1..2]->``
      and inline properties ``(a {name: "Warsaw"})``. Node labels ``(a:PERSON)`` match
      nothing: the entity type is the property ``a.type``.
    * ``WHERE`` with ``==``/``=``, ``<>``, ``<``, ``>``, ``CONTAINS``, ``STARTS WITH``,
      ``IN [...]``, ``AND``/``OR``/``NOT``; ``RETURN`` of variables or properties
      (``a.name``, ``a.id``, ``a.type``, ``r.relation``, ``r.confidence``), ``DISTINCT``,
      ``AS``, ``COUNT``/``SUM``/``MIN``/``MAX``/``AVG``/``COLLECT``, ``ORDER BY``, ``SKIP``, ``LIMIT``.
    * String literals in double or single quotes (single-quoted ones are rewritten
      to double quotes before parsing) with backslash escapes.
    * ``$name`` parameters from ``params`` (strings, numbers, bools), substituted as
      literals; a ``$`` inside a string literal is plain text.
    * Writing clauses (``CREATE``, ``MERGE``, ``DELETE``, ``SET``, ``REMOVE``, ``DROP``,
      ``CALL``, ``LOAD CSV``) outside string literals are rejected with
      :class:`~kgllm.errors.InputError`, as are syntax errors. Nodes returned whole are
      dicts of ``id``, ``name``, ``type``, ``aliases``; edges of ``id``, ``relation``,
      ``confidence`` (provenance is left out).
    """

    def __init__(self) -> None:
        self._g = nx.MultiDiGraph()
        self._merges: dict[str, Merge] = {}  # alias id -> merge
        # alias -> (its node attrs, its original facts, what the merge changed on the canonical node)
        self._undo: dict[str, tuple[dict[str, Any], list[Fact], dict[str, Any] | None]] = {}
        self._alias_index: dict[str, set[str]] = {}  # entity_id(alias) -> entity ids

    # ------------------------------------------------------------------ writes
    def upsert(self, delta: GraphDelta) -> UpsertResult:
        _validate_delta(delta)
        self._check_merges(delta)  # before any write: an invalid delta changes nothing
        added_e = added_f = added_p = applied = 0
        for entity in delta.entities:
            added_e += self._add_entity(entity)
        for fact in delta.facts:
            subj, obj = self._resolve(fact.subject), self._resolve(fact.object)
            for eid in (subj, obj):
                if eid not in self._g:
                    added_e += self._add_entity(Entity(eid, eid))
            nf, np_ = self._add_fact(Fact(subj, fact.relation, obj, fact.confidence, fact.provenance))
            added_f += nf
            added_p += np_
        for merge in delta.merges:
            applied += self._apply_merge(merge)
        return UpsertResult(added_e, added_f, added_p, applied)

    def _check_merges(self, delta: GraphDelta) -> None:
        """Raise if a merge of ``delta`` targets an entity that will not exist (dry run of the merges)."""
        if delta.merges:
            dry_run_merges(delta, {alias: m.canonical for alias, m in self._merges.items()}, set(self._g.nodes))

    def _resolve(self, eid: str) -> str:
        seen = set()
        while eid in self._merges and eid not in seen:
            seen.add(eid)
            eid = self._merges[eid].canonical
        return eid

    def _index_names(self, eid: str, names: Iterable[str]) -> None:
        for name in names:
            self._alias_index.setdefault(entity_id(name), set()).add(eid)

    def _add_entity(self, entity: Entity) -> int:
        eid = self._resolve(entity.id)
        if eid in self._g:
            node = self._g.nodes[eid]
            names = [entity.name, *entity.aliases] if eid != entity.id or entity.name != node["name"] else list(entity.aliases)
            new = [a for a in dict.fromkeys(names) if a and a != node["name"] and a not in node["aliases"]]
            if new:
                node["aliases"] = node["aliases"] + new
                self._index_names(eid, new)
            if entity.type and not node["type"]:
                node["type"] = entity.type
            return 0
        aliases = [a for a in dict.fromkeys(entity.aliases) if a and a != entity.name]
        self._g.add_node(eid, id=eid, name=entity.name, type=entity.type, aliases=aliases)
        self._index_names(eid, [entity.name, *aliases])
        return 1

    def _add_fact(self, fact: Fact) -> tuple[int, int]:
        key = fact.id
        if self._g.has_edge(fact.subject, fact.object, key):
            data = self._g.edges[fact.subject, fact.object, key]
            known = {p.key() for p in data["provenance"]}
            new = [p for p in fact.provenance if p.key() not in known]
            data["provenance"].extend(new)
            data["confidence"] = max(data["confidence"], fact.confidence)
            return 0, len(new)
        provenance: list[Provenance] = []
        for p in fact.provenance:
            if p.key() not in {q.key() for q in provenance}:
                provenance.append(p)
        self._g.add_edge(
            fact.subject,
            fact.object,
            key=key,
            id=key,
            relation=fact.relation,
            __labels__={fact.relation},
            confidence=fact.confidence,
            provenance=provenance,
        )
        return 1, len(provenance)

    def _apply_merge(self, merge: Merge) -> int:
        alias, canonical = self._resolve(merge.alias), self._resolve(merge.canonical)
        if merge.alias in self._merges or alias == canonical or alias not in self._g:
            return 0
        if canonical not in self._g:
            raise InputError(f"merge target {canonical!r} is not in the graph: {merge!r}")
        original = list(self._incident(alias, "both"))
        attrs = dict(self._g.nodes[alias])
        attrs["aliases"] = list(attrs["aliases"])
        node = self._g.nodes[canonical]
        aliases_before, type_before = list(node["aliases"]), node["type"]
        self._merges[alias] = merge
        self._g.remove_node(alias)
        for ids in self._alias_index.values():
            ids.discard(alias)
        self._add_entity(Entity(alias, attrs["name"], attrs["type"], tuple(attrs["aliases"])))
        # Record exactly what the canonical node gained, so unmerge can take back that and only that.
        changes: dict[str, Any] = {
            "aliases": [a for a in node["aliases"] if a not in aliases_before],
            "type": node["type"] != type_before,
            "facts": [],
        }
        for f in original:
            s = canonical if f.subject == alias else f.subject
            o = canonical if f.object == alias else f.object
            rewritten = Fact(s, f.relation, o, f.confidence, f.provenance)
            created = not self._g.has_edge(s, o, rewritten.id)
            before = None if created else self._g.edges[s, o, rewritten.id]
            keys_before = set() if before is None else {p.key() for p in before["provenance"]}
            confidence_before = None if before is None else before["confidence"]
            self._add_fact(rewritten)
            data = self._g.edges[s, o, rewritten.id]
            changes["facts"].append({
                "s": s, "r": f.relation, "o": o, "created": created, "c": confidence_before,
                "p": [list(p.key()) for p in data["provenance"] if p.key() not in keys_before],
            })
        self._undo[alias] = (attrs, original, changes)
        return 1

    def unmerge(self, alias: str) -> bool:
        if alias not in self._merges:
            return False
        merge = self._merges.pop(alias)
        attrs, original, changes = self._undo.pop(alias)
        canonical = self._resolve(merge.canonical)
        if changes is None:  # recorded by an older version: assume the merge added everything
            changes = _legacy_changes(alias, canonical, attrs, original)
        # Take back what the rewritten facts got from the alias's facts.
        for c in changes["facts"]:
            s, o = self._resolve(c["s"]), self._resolve(c["o"])
            key = Fact(s, c["r"], o).id
            if not self._g.has_edge(s, o, key):
                continue
            data = self._g.edges[s, o, key]
            added = {tuple(k) for k in c["p"]}
            data["provenance"] = [p for p in data["provenance"] if p.key() not in added]
            if c["created"]:
                if not data["provenance"]:
                    self._g.remove_edge(s, o, key)
            elif c["c"] is not None:
                data["confidence"] = c["c"]
        node = self._g.nodes.get(canonical)
        if node is not None:
            dropped = set(changes["aliases"])
            node["aliases"] = [a for a in node["aliases"] if a not in dropped]
            kept = {entity_id(n) for n in [node["name"], *node["aliases"]]}
            for name in dropped:
                if entity_id(name) not in kept:
                    self._alias_index.get(entity_id(name), set()).discard(canonical)
            if changes["type"]:
                node["type"] = ""
        self._g.add_node(alias, **attrs)
        self._index_names(alias, [attrs["name"], *attrs["aliases"]])
        for f in original:
            # The other end may have been merged away since; follow it.
            s = alias if f.subject == alias else self._resolve(f.subject)
            o = alias if f.object == alias else self._resolve(f.object)
            for eid in (s, o):
                if eid not in self._g:
                    self._add_entity(Entity(eid, eid))
            self._add_fact(Fact(s, f.relation, o, f.confidence, f.provenance))
        return True

    def _remove_provenance(self, fact: Fact, keys: set[tuple[str, int, int, int, str]]) -> None:
        if not self._g.has_edge(fact.subject, fact.object, fact.id):
            return
        data = self._g.edges[fact.subject, fact.object, fact.id]
        data["provenance"] = [p for p in data["provenance"] if p.key() not in keys]
        if not data["provenance"]:
            self._g.remove_edge(fact.subject, fact.object, fact.id)

    def retract_document(self, doc_id: str) -> int:
        removed = 0
        touched: set[str] = set()
        for s, o, k, data in list(self._g.edges(keys=True, data=True)):
            prov = data["provenance"]
            if not any(p.doc_id == doc_id for p in prov):
                continue
            data["provenance"] = [p for p in prov if p.doc_id != doc_id]
            if not data["provenance"]:
                self._g.remove_edge(s, o, k)
                touched.update((s, o))
                removed += 1
        for eid in touched:
            if eid in self._g and self._g.degree(eid) == 0:
                self._drop_node(eid)
        for alias, (attrs, original, changes) in list(self._undo.items()):
            kept = [f.with_provenance(p for p in f.provenance if p.doc_id != doc_id) for f in original]
            self._undo[alias] = (attrs, [f for f in kept if f.provenance], changes)
        return removed

    def _drop_node(self, eid: str) -> None:
        node = self._g.nodes[eid]
        for name in [node["name"], *node["aliases"]]:
            self._alias_index.get(entity_id(name), set()).discard(eid)
        self._g.remove_node(eid)

    # ------------------------------------------------------------------- reads
    def _entity(self, eid: str) -> Entity:
        n = self._g.nodes[eid]
        return Entity(eid, n["name"], n["type"], tuple(n["aliases"]))

    @staticmethod
    def _fact(s: str, o: str, data: dict[str, Any]) -> Fact:
        return Fact(s, data["relation"], o, data["confidence"], tuple(data["provenance"]))

    def get_entity(self, entity_id: str) -> Entity | None:
        eid = self._resolve(entity_id)
        return self._entity(eid) if eid in self._g else None

    def find_entities(self, text: str, limit: int = 10) -> list[Entity]:
        key = entity_id(text)
        if not key:
            return []
        found: list[str] = []
        if key in self._g:
            found.append(key)
        found.extend(sorted(self._alias_index.get(key, set()) - set(found)))
        if len(found) < limit:
            words = set(key.split())
            scored = []
            for eid in self._g.nodes:
                if eid in found:
                    continue
                names = [eid, *(entity_id(a) for a in self._g.nodes[eid]["aliases"])]
                best = max(len(words & set(n.split())) / max(len(set(n.split())), 1) for n in names)
                if best > 0:
                    scored.append((-best, eid))
            found.extend(eid for _, eid in sorted(scored))
        return [self._entity(eid) for eid in found[:limit]]

    def entities(self) -> Iterator[Entity]:
        for eid in list(self._g.nodes):
            yield self._entity(eid)

    def facts(self) -> Iterator[Fact]:
        for s, o, data in list(self._g.edges(data=True)):
            yield self._fact(s, o, data)

    def get_fact(self, fact_id: str) -> Fact | None:
        for s, o, k, data in self._g.edges(keys=True, data=True):
            if k == fact_id:
                return self._fact(s, o, data)
        return None

    def _incident(self, eid: str, direction: Direction) -> Iterator[Fact]:
        if direction in ("out", "both"):
            for _, o, data in self._g.out_edges(eid, data=True):
                yield self._fact(eid, o, data)
        if direction in ("in", "both"):
            for s, _, data in self._g.in_edges(eid, data=True):
                if direction == "both" and s == eid:
                    continue  # self-loop already yielded as out-edge
                yield self._fact(s, eid, data)

    def neighbors(self, entity_id: str, direction: Direction = "both") -> list[Fact]:
        if direction not in ("out", "in", "both"):
            raise InputError(f"direction must be 'out', 'in' or 'both', got {direction!r}")
        eid = self._resolve(entity_id)
        if eid not in self._g:
            return []
        return list(self._incident(eid, direction))

    def subgraph(self, seeds: Iterable[str], hops: int = 2, limit: int = 500) -> Subgraph:
        sub = Subgraph()
        frontier = deque()
        depth: dict[str, int] = {}
        for seed in seeds:
            eid = self._resolve(seed)
            if eid in self._g and eid not in depth:
                depth[eid] = 0
                frontier.append(eid)
                sub.seeds.append(eid)
        seen_facts: set[str] = set()
        while frontier:
            eid = frontier.popleft()
            sub.entities[eid] = self._entity(eid)
            if depth[eid] >= hops:
                continue
            for fact in self._incident(eid, "both"):
                if fact.id in seen_facts:
                    continue
                if len(sub.facts) >= limit:
                    return sub
                seen_facts.add(fact.id)
                sub.facts.append(fact)
                other = fact.object if fact.subject == eid else fact.subject
                if other not in depth:
                    depth[other] = depth[eid] + 1
                    frontier.append(other)
                    sub.entities[other] = self._entity(other)
        return sub

    def paths(self, source: str, target: str, max_hops: int = 3, limit: int = 20) -> list[Path]:
        src, dst = self._resolve(source), self._resolve(target)
        if src not in self._g or dst not in self._g:
            return []
        found: list[Path] = []
        # Breadth-first over simple paths: shortest first, edges walked both ways.
        queue: deque[tuple[tuple[str, ...], tuple[Fact, ...], tuple[bool, ...]]] = deque([((src,), (), ())])
        while queue and len(found) < limit:
            nodes, facts, forward = queue.popleft()
            here = nodes[-1]
            if len(facts) >= max_hops:
                continue
            for fact in self._incident(here, "both"):
                fwd = fact.subject == here
                nxt = fact.object if fwd else fact.subject
                if nxt in nodes:
                    continue
                item = (nodes + (nxt,), facts + (fact,), forward + (fwd,))
                if nxt == dst:
                    found.append(Path(*item))
                    if len(found) >= limit:
                        break
                else:
                    queue.append(item)
        return found

    def merges(self) -> list[Merge]:
        return list(self._merges.values())

    def stats(self) -> dict[str, int]:
        docs: set[str] = set()
        n_prov = 0
        relations: set[str] = set()
        for _, _, data in self._g.edges(data=True):
            relations.add(data["relation"])
            n_prov += len(data["provenance"])
            docs.update(p.doc_id for p in data["provenance"])
        return {
            "entities": self._g.number_of_nodes(),
            "facts": self._g.number_of_edges(),
            "relations": len(relations),
            "documents": len(docs),
            "provenances": n_prov,
            "merges": len(self._merges),
        }

    def query(self, cypher: str, params: dict[str, Any] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        from grandcypher import GrandCypher

        text = _bind_params(cypher, params or {})
        if _WRITE_CLAUSE.search(_STRING_LITERAL.sub('""', text)):
            raise InputError(f"only read-only Cypher is allowed; this query writes: {cypher!r}")
        try:
            result = GrandCypher(self._g, limit=limit).run(text)
        except Exception as exc:  # grand-cypher raises lark and plain exceptions
            raise InputError(f"Cypher query failed: {exc}\n  query: {cypher}") from exc
        columns = [str(c) for c in result]
        values = [list(v) for v in result.values()]
        rows = [dict(zip(columns, (_plain(v[i]) for v in values))) for i in range(len(values[0]) if values else 0)]
        return rows[:limit]

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "entities": [
                {"id": e.id, "name": e.name, "type": e.type, "aliases": list(e.aliases)} for e in self.entities()
            ],
            "facts": [_fact_to_dict(f) for f in self.facts()],
            "merges": [
                {
                    "merge": {"alias": m.alias, "canonical": m.canonical, "method": m.method, "score": m.score,
                              "doc_id": m.doc_id},
                    "node": self._undo[m.alias][0],
                    "facts": [_fact_to_dict(f) for f in self._undo[m.alias][1]],
                    "changes": self._undo[m.alias][2],
                }
                for m in self._merges.values()
            ],
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the graph to ``path`` atomically (gzip-compressed JSON when it ends in ``.gz``)."""
        target = FilePath(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.to_dict(), ensure_ascii=False).encode()
        if target.suffix == ".gz":
            data = gzip.compress(data, mtime=0)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            FilePath(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "MemoryStore":
        """Read a graph written by :meth:`save`; errors name the file and what was wrong."""
        source = FilePath(path)
        if not source.exists():
            raise NotFoundError(f"graph file not found: {source}")
        if not source.is_file():
            raise InputError(f"{source}: not a regular file")
        raw = source.read_bytes()
        try:
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            data = json.loads(raw.decode("utf-8"))
        except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{source}: not a kgllm graph file (expected JSON): {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise InputError(f"{source}: not a kgllm graph file (missing format {FORMAT_NAME!r})")
        if data.get("version") != FORMAT_VERSION:
            raise InputError(f"{source}: graph format version {data.get('version')} is not supported "
                             f"(this kgllm reads version {FORMAT_VERSION})")
        store = cls()
        try:
            store.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{source}: corrupt graph file: {exc!r}") from exc
        return store

    def from_dict(self, data: dict[str, Any]) -> None:
        for e in data["entities"]:
            self._g.add_node(e["id"], id=e["id"], name=e["name"], type=e["type"], aliases=list(e["aliases"]))
            self._index_names(e["id"], [e["name"], *e["aliases"]])
        for f in data["facts"]:
            self._add_fact(_fact_from_dict(f))
        for item in data["merges"]:
            m = Merge(**item["merge"])
            self._merges[m.alias] = m
            self._undo[m.alias] = (item["node"], [_fact_from_dict(f) for f in item["facts"]], item.get("changes"))


def _legacy_changes(alias: str, canonical: str, attrs: dict[str, Any], original: list[Fact]) -> dict[str, Any]:
    """Merge record of a file written without ``changes``: assume the merge added all the alias brought."""
    facts = []
    for f in original:
        s = canonical if f.subject == alias else f.subject
        o = canonical if f.object == alias else f.object
        facts.append({"s": s, "r": f.relation, "o": o, "created": True, "c": None,
                      "p": [list(p.key()) for p in f.provenance]})
    return {"aliases": [attrs["name"], *attrs["aliases"]], "type": False, "facts": facts}


def _fact_to_dict(f: Fact) -> dict[str, Any]:
    return {"s": f.subject, "r": f.relation, "o": f.object, "c": f.confidence,
            "p": [p.to_dict() for p in f.provenance]}


def _fact_from_dict(d: dict[str, Any]) -> Fact:
    return Fact(d["s"], d["r"], d["o"], float(d["c"]), tuple(Provenance.from_dict(p) for p in d["p"]))


def _bind_params(cypher: str, params: dict[str, Any]) -> str:
    """Substitute ``$name`` parameters as literals (grand-cypher has no parameters).

    ``$name`` inside a string literal is left alone, and single-quoted literals
    (standard Cypher, unknown to grand-cypher) are rewritten double-quoted.
    """

    def literal(match: re.Match[str]) -> str:
        if match.group("string") is not None:
            text = match.group("string")
            if text[0] == '"':
                return text
            # 'It\'s "x"' -> "It\'s \"x\"": escape bare double quotes, keep other escapes.
            body = re.sub(r'\\.|"', lambda m: '\\"' if m.group() == '"' else m.group(), text[1:-1])
            return f'"{body}"'
        name = match.group("param")
        if name not in params:
            raise InputError(f"Cypher parameter ${name} was not given")
        value = params[name]
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)  # ASCII escapes would split astral characters
        raise InputError(f"Cypher parameter ${name} must be a string, number or bool, got {type(value).__name__}")

    return _TOKEN.sub(literal, cypher)


def _plain(value: Any) -> Any:
    """Turn grand-cypher's cell values into plain JSON-able values."""
    if isinstance(value, dict):
        # An edge on a MultiDiGraph comes back as {key: attrs}; keep the useful attributes.
        if value and all(isinstance(v, dict) for v in value.values()):
            edges = [_plain(v) for v in value.values()]
            return edges[0] if len(edges) == 1 else edges
        return {k: _plain(v) for k, v in value.items() if k not in ("__labels__", "provenance")}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
