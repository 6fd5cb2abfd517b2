"""The :class:`MemoryStore`: the reference graph store, held in process memory."""

from __future__ import annotations

import os
from collections import deque
from typing import Any, Iterable, Iterator

from kgllm.errors import InputError
from kgllm.stores import merge as merging
from kgllm.stores.base import Direction, UpsertResult
from kgllm.stores.delta import validate_delta
from kgllm.stores.memory.persist import graph_from_dict, graph_to_dict, load_into, save
from kgllm.stores.memory.graph import NxGraph
from kgllm.stores.memory.query import run_query
from kgllm.types import Entity, Fact, GraphDelta, Merge, Path, Subgraph, entity_id

__all__ = ["MemoryStore"]


class MemoryStore:
    """The reference :class:`~kgllm.stores.base.GraphStore`, held in process memory.

    :meth:`query` accepts the read-only Cypher subset of ``grand-cypher``:

    * ``MATCH`` patterns of nodes and directed edges, ``(a)-[r]->(b)``, ``(a)<-[r]-(b)``,
      chains such as ``(a)-[r1]->(b)-[r2]->(c)``, relationship types ``-[r:born_in]->``
      or ``-[r:born_in|capital_of]->`` (the fact's relation), variable length ``-[*1..2]->``
      and inline properties ``(a {name: "Tromsø"})``. Node labels ``(a:PERSON)`` match
      nothing: the entity type is the property ``a.type``.
    * ``WHERE`` with ``==``/``=``, ``<>``, ``<``, ``>``, ``CONTAINS``, ``STARTS WITH``,
      ``IN [...]``, ``AND``/``OR``/``NOT``; ``RETURN`` of variables or properties
      (``a.name``, ``a.id``, ``a.type``, ``r.relation``, ``r.confidence``), ``DISTINCT``,
      ``AS``, ``COUNT``/``SUM``/``MIN``/``MAX``/``AVG``/``COLLECT``, ``ORDER BY``, ``SKIP``, ``LIMIT``.
    * String literals in double or single quotes with backslash escapes, ``//`` and
      ``/* */`` comments, and ``$name`` parameters from ``params`` (strings, numbers,
      bools), substituted as literals; a ``$`` inside a string literal is plain text.
    * Queries that may write are refused by :func:`~kgllm.stores.cypher_guard.check_read_only`
      with :class:`~kgllm.errors.InputError`, as are syntax errors. Nodes returned whole
      are dicts of ``id``, ``name``, ``type``, ``aliases``; edges of ``id``, ``relation``,
      ``confidence`` (provenance is left out).

    Examples
    --------
    >>> from kgllm.types import Fact, GraphDelta, Provenance
    >>> store = MemoryStore()
    >>> f = Fact("ada lindqvist", "born_in", "tromso")
    >>> store.upsert(GraphDelta(facts=[f.with_provenance([Provenance("d1", 0)])])).facts_added
    1
    >>> store.upsert(GraphDelta(facts=[f.with_provenance([Provenance("d1", 0)])])).provenance_added  # same source
    0
    >>> store.upsert(GraphDelta(facts=[f.with_provenance([Provenance("d2", 0)])])).provenance_added  # second source
    1
    >>> [x.as_line() for x in store.neighbors("tromso")]
    ['ada lindqvist --born_in--> tromso']
    >>> store.query('MATCH (a)-[r]->(b) WHERE a.name == "ada lindqvist" RETURN b.name')
    [{'b.name': 'tromso'}]
    """

    def __init__(self) -> None:
        self._graph = NxGraph()

    def revision(self) -> int:
        """A counter that every write that changes the graph (and :meth:`from_dict`) increases."""
        return self._graph.changes

    # ------------------------------------------------------------------ writes
    def upsert(self, delta: GraphDelta) -> UpsertResult:
        """Add entities, facts and merges; idempotent. An invalid delta raises InputError and changes nothing."""
        validate_delta(delta)
        graph = self._graph
        if delta.merges:  # dry run before any write
            merging.dry_run_merges(delta, dict(graph.canonical), set(graph.g.nodes))
        added_e = added_f = added_p = applied = 0
        for entity in delta.entities:
            added_e += merging.add_entity(graph, entity)
        for fact in delta.facts:
            e, f, p = merging.add_fact(graph, fact)
            added_e, added_f, added_p = added_e + e, added_f + f, added_p + p
        for merge in delta.merges:
            applied += merging.apply_merge(graph, merge)
        return UpsertResult(added_e, added_f, added_p, applied)

    def unmerge(self, alias: str) -> bool:
        """Undo the merge of ``alias`` (restores its own node and facts). False if none recorded."""
        return merging.unmerge(self._graph, alias)

    def retract_document(self, doc_id: str) -> int:
        """Remove every provenance from ``doc_id``; facts left without one go, and entities they orphan.

        Returns
        -------
        int
            Number of facts removed.
        """
        graph = self._graph
        removed = 0
        touched: set[str] = set()
        for s, o, data in list(graph.g.edges(data=True)):
            if not any(p.doc_id == doc_id for p in data["provenance"]):
                continue
            fact = graph.edge_fact(s, o, data)
            kept = [p for p in fact.provenance if p.doc_id != doc_id]
            if kept:
                graph.put_fact(fact.with_provenance(kept))
            else:
                graph.remove_fact(fact)
                touched.update((s, o))
                removed += 1
        for eid in touched:
            if eid in graph.g and graph.g.degree(eid) == 0:
                graph.delete_node(eid)
        for alias, undo in list(graph.undo.items()):
            kept_facts = merging.strip_document(undo.facts, doc_id)
            if kept_facts != undo.facts:
                graph.undo[alias] = merging.Undo(undo.node, kept_facts, undo.changes)
                graph.changes += 1
        return removed

    # ------------------------------------------------------------------- reads
    def get_entity(self, entity_id: str) -> Entity | None:
        """The entity ``entity_id`` (following merges), or ``None``."""
        eid = self._graph.resolve(entity_id)
        return self._graph.entity(eid) if eid in self._graph.g else None

    def find_entities(self, text: str, limit: int = 10) -> list[Entity]:
        """Entities whose name or an alias matches ``text``: exact first, then by the share of words in common."""
        key = entity_id(text)
        if not key:
            return []
        g = self._graph.g
        found: list[str] = [key] if key in g else []
        found.extend(sorted(self._graph.names.get(key, set()) - set(found)))
        if len(found) < limit:
            words = set(key.split())
            scored = []
            for eid in g.nodes:
                if eid in found:
                    continue
                names = [eid, *(entity_id(a) for a in g.nodes[eid]["aliases"])]
                best = max(len(words & set(n.split())) / max(len(set(n.split())), 1) for n in names)
                if best > 0:
                    scored.append((-best, eid))
            found.extend(eid for _, eid in sorted(scored))
        return [self._graph.entity(eid) for eid in found[:limit]]

    def entities(self) -> Iterator[Entity]:
        """Every entity, in insertion order."""
        for eid in list(self._graph.g.nodes):
            yield self._graph.entity(eid)

    def facts(self) -> Iterator[Fact]:
        """Every fact with its provenance, in insertion order."""
        for s, o, data in list(self._graph.g.edges(data=True)):
            yield self._graph.edge_fact(s, o, data)

    def get_fact(self, fact_id: str) -> Fact | None:
        """The fact with id ``fact_id``, or ``None``."""
        for s, o, k, data in self._graph.g.edges(keys=True, data=True):
            if k == fact_id:
                return self._graph.edge_fact(s, o, data)
        return None

    def neighbors(self, entity_id: str, direction: Direction = "both") -> list[Fact]:
        """Facts that touch ``entity_id`` (as subject for ``out``, object for ``in``)."""
        if direction not in ("out", "in", "both"):
            raise InputError(f"direction must be 'out', 'in' or 'both', got {direction!r}")
        eid = self._graph.resolve(entity_id)
        if eid not in self._graph.g:
            return []
        return self._graph.incident(eid, direction)

    def subgraph(self, seeds: Iterable[str], hops: int = 2, limit: int = 500) -> Subgraph:
        """All facts within ``hops`` of the seeds (edges walked both ways, breadth first), at most ``limit``."""
        graph = self._graph
        sub = Subgraph()
        frontier: deque[str] = deque()
        depth: dict[str, int] = {}
        for seed in seeds:
            eid = graph.resolve(seed)
            if eid in graph.g and eid not in depth:
                depth[eid] = 0
                frontier.append(eid)
                sub.seeds.append(eid)
        seen_facts: set[str] = set()
        while frontier:
            eid = frontier.popleft()
            sub.entities[eid] = graph.entity(eid)
            if depth[eid] >= hops:
                continue
            for fact in graph.iter_incident(eid):
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
                    sub.entities[other] = graph.entity(other)
        return sub

    def paths(self, source: str, target: str, max_hops: int = 3, limit: int = 20) -> list[Path]:
        """Simple paths between two entities, shortest first, edges walked both ways."""
        graph = self._graph
        src, dst = graph.resolve(source), graph.resolve(target)
        if src not in graph.g or dst not in graph.g:
            return []
        found: list[Path] = []
        queue: deque[tuple[tuple[str, ...], tuple[Fact, ...], tuple[bool, ...]]] = deque([((src,), (), ())])
        while queue and len(found) < limit:
            nodes, facts, forward = queue.popleft()
            here = nodes[-1]
            if len(facts) >= max_hops:
                continue
            for fact in graph.iter_incident(here):
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
        """Recorded merges, oldest first."""
        return list(self._graph.merges.values())

    def stats(self) -> dict[str, int]:
        """Counts: ``entities``, ``facts``, ``relations``, ``documents``, ``provenances``, ``merges``."""
        docs: set[str] = set()
        n_prov = 0
        relations: set[str] = set()
        g = self._graph.g
        for _, _, data in g.edges(data=True):
            relations.add(data["relation"])
            n_prov += len(data["provenance"])
            docs.update(p.doc_id for p in data["provenance"])
        return {"entities": g.number_of_nodes(), "facts": g.number_of_edges(), "relations": len(relations),
                "documents": len(docs), "provenances": n_prov, "merges": len(self._graph.merges)}

    def query(self, cypher: str, params: dict[str, Any] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Run a read-only Cypher query (see the class documentation) and return at most ``limit`` rows."""
        return run_query(self._graph.g, cypher, params or {}, limit)

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The whole graph as one JSON-able dict (see :mod:`kgllm.stores.memory.persist`)."""
        return graph_to_dict(self._graph)

    def from_dict(self, data: dict[str, Any]) -> None:
        """Add a graph in :meth:`to_dict` shape as it is (into an empty store: migration, loading)."""
        graph_from_dict(self._graph, data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the graph to ``path`` atomically (gzip-compressed JSON when it ends in ``.gz``)."""
        save(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "MemoryStore":
        """Read a graph written by :meth:`save`; errors name the file and what was wrong."""
        store = cls()
        load_into(store, path)
        return store
