"""The memory store's data: a networkx ``MultiDiGraph``, the merge records and a name index.

:class:`NxGraph` is the :class:`~kgllm.stores.merge.GraphAccess` of the memory
store: nodes are entity ids with attributes ``id``, ``name``, ``type``,
``aliases``; edges are keyed by fact id and carry ``relation``, ``confidence``
and the list of provenances. Every change goes through its methods, which keep
the name index current and count the changes (:attr:`NxGraph.changes`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Iterator

import networkx as nx

from kgllm.stores.base import Direction
from kgllm.stores.ledger import DocumentRecord, RunRecord
from kgllm.stores.merge import Node, Undo
from kgllm.stores.names import name_keys
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
    by_doc : dict
        ``doc_id -> {(subject, object, fact id)}`` of the facts carrying a provenance of the document.
    documents, runs : dict
        The ledger: ``doc_id -> DocumentRecord`` and ``run_id -> RunRecord``.
    tokens : dict
        ``token key of a name or alias -> {entity id: is an alias}`` (see :mod:`kgllm.stores.names`).
    ends : dict
        ``fact id -> (subject, object)``.
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
        self.tokens: dict[str, dict[str, bool]] = {}
        self.ends: dict[str, tuple[str, str]] = {}

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
        for _, tokens, alias in name_keys(eid, node["name"], node["aliases"]):
            slot = self.tokens.setdefault(tokens, {})
            slot[eid] = slot.get(eid, True) and alias
        self.changes += 1

    def delete_node(self, eid: str) -> None:
        for f in list(self.iter_incident(eid)):
            self.remove_fact(f)
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
        key = (fact.subject, fact.object, fact.id)
        new = not self.g.has_edge(*key)
        if not new:
            self._unindex_fact(key, self.g.edges[key]["provenance"])
        self.g.add_edge(fact.subject, fact.object, key=fact.id, id=fact.id, relation=fact.relation,
                        __labels__={fact.relation}, confidence=fact.confidence, provenance=list(fact.provenance))
        for p in fact.provenance:
            self.by_doc.setdefault(p.doc_id, set()).add(key)
        self.ends[fact.id] = (fact.subject, fact.object)
        self.changes += 1

    def load_fact(self, s: str, o: str, fid: str, relation: str, confidence: float, provenance: list[Any]) -> None:
        """Add a stored fact as it is (both ends exist; ``fid`` is its id): the fast path of loading a file."""
        self.g.add_edge(s, o, key=fid, id=fid, relation=relation, __labels__={relation}, confidence=confidence,
                        provenance=provenance)
        key = (s, o, fid)
        for p in provenance:
            self.by_doc.setdefault(p.doc_id, set()).add(key)
        self.ends[fid] = (s, o)
        self.changes += 1

    def remove_fact(self, fact: Fact) -> None:
        key = (fact.subject, fact.object, fact.id)
        self._unindex_fact(key, self.g.edges[key]["provenance"])
        self.g.remove_edge(*key)
        self.ends.pop(fact.id, None)
        self.changes += 1

    def record_merge(self, merge: Merge, undo: Undo) -> None:
        self.merges[merge.alias] = merge
        self.undo[merge.alias] = undo
        self.changes += 1

    def set_undo(self, alias: str, undo: Undo) -> None:
        """Replace the undo record of the recorded merge of ``alias``."""
        self.undo[alias] = undo
        self.changes += 1

    def pop_merge(self, alias: str) -> tuple[Merge, Undo] | None:
        if alias not in self.merges:
            return None
        self.changes += 1
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

    def put_run(self, run: RunRecord) -> None:
        """Write a run record (runs do not change the graph, so the revision stays)."""
        self.runs[run.run_id] = run

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
        for _, tokens, _ in name_keys(eid, n["name"], n["aliases"]):
            slot = self.tokens.get(tokens)
            if slot is not None:
                slot.pop(eid, None)
                if not slot:
                    del self.tokens[tokens]

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

    def iter_incident(self, eid: str, direction: Direction = "both", relation: str | None = None) -> Iterator[Fact]:
        """Facts touching ``eid`` (of ``relation`` when given): out-facts then in-facts (a self-loop once when
        both)."""
        if direction in ("out", "both"):
            for _, o, data in self.g.out_edges(eid, data=True):
                if relation is None or data["relation"] == relation:
                    yield self.edge_fact(eid, o, data)
        if direction in ("in", "both"):
            for s, _, data in self.g.in_edges(eid, data=True):
                if direction == "both" and s == eid:
                    continue  # self-loop already yielded as out-edge
                if relation is None or data["relation"] == relation:
                    yield self.edge_fact(s, eid, data)

    def touch(self) -> None:
        """Count a write that changed nothing (a load of an empty graph)."""
        self.changes += 1

    # ------------------------------------------------- reads (as SqlGraph)
    def has(self, eid: str) -> bool:
        return eid in self.g

    def existing(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` that are entities."""
        return {eid for eid in ids if eid in self.g}

    def entities_of(self, ids: Iterable[str]) -> dict[str, Entity]:
        """The entities among ``ids``, by id."""
        return {eid: self.entity(eid) for eid in dict.fromkeys(ids) if eid in self.g}

    def iter_entities(self) -> Iterator[Entity]:
        for eid in list(self.g.nodes):
            yield self.entity(eid)

    def iter_facts(self) -> Iterator[Fact]:
        for s, o, data in list(self.g.edges(data=True)):
            yield self.edge_fact(s, o, data)

    def fact_by_id(self, fid: str) -> Fact | None:
        ends = self.ends.get(fid)
        return None if ends is None else self.edge_fact(*ends, self.g.edges[(*ends, fid)])

    def degree(self, eid: str) -> int:
        """Facts touching ``eid`` (a self-loop twice); 0 for an unknown id."""
        return int(self.g.degree(eid)) if eid in self.g else 0

    def degrees(self, ids: Iterable[str]) -> dict[str, int]:
        """:meth:`degree` of each of ``ids`` that is an entity."""
        return {eid: int(self.g.degree(eid)) for eid in ids if eid in self.g}

    def names_for(self, key: str) -> set[str]:
        """Entities with a name or alias whose :func:`~kgllm.types.entity_id` is ``key``."""
        return set(self.names.get(key, ()))

    def token_matches(self, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        """For each token key the entities named so: ``{key: {eid: "exact" | "alias"}}``."""
        return {k: {eid: "alias" if a else "exact" for eid, a in self.tokens[k].items()}
                for k in dict.fromkeys(keys) if k in self.tokens}

    def name_candidates(self, words: Iterable[str], prefix: bool = False, any_word: bool = True,
                        limit: int | None = None) -> list[tuple[str, list[str]]]:
        """``(id, name keys)`` of the entities with a name key word equal to (``prefix``: starting with) one of
        ``words`` (all of them unless ``any_word``), most facts first when ``limit`` cuts (a pass over all)."""
        wanted = [w for w in dict.fromkeys(words) if w]
        found = []
        for eid, n in self.g.nodes(data=True):
            keys = list(dict.fromkeys([eid, *(entity_id(x) for x in (n["name"], *n["aliases"]))]))
            have = {t for k in keys for t in k.split()}
            hits = [any(t.startswith(w) for t in have) if prefix else w in have for w in wanted]
            if hits and (any(hits) if any_word else all(hits)):
                found.append((eid, keys))
        if limit is not None and len(found) > limit:
            found = sorted(found, key=lambda x: -self.g.degree(x[0]))[:limit]
        return found

    def neighbors_page(self, eid: str, direction: str, relations: list[str], offset: int,
                       limit: int) -> tuple[int, list[Fact]]:
        """``(total, page)`` of the facts touching ``eid`` (of ``relations`` when given) by relation, subject, object."""
        wanted = set(relations)
        facts = [f for f in self.iter_incident(eid, direction) if not wanted or f.relation in wanted]  # type: ignore
        facts.sort(key=lambda f: (f.relation, f.subject, f.object))
        return len(facts), facts[offset:offset + limit]

    def search_names(self, words: Iterable[str], prefix: bool = True, any_word: bool = False,
                     limit: int = 100) -> list[tuple[Entity, int]]:
        """:meth:`name_candidates` as entities with their degrees, most facts first."""
        found = self.name_candidates(words, prefix=prefix, any_word=any_word, limit=limit)
        return sorted(((self.entity(eid), int(self.g.degree(eid))) for eid, _ in found), key=lambda x: -x[1])

    def facts_between(self, ids: Iterable[str]) -> list[Fact]:
        """The facts whose ends are both among ``ids``."""
        wanted = {eid for eid in ids if eid in self.g}
        return [f for eid in sorted(wanted) for f in self.iter_incident(eid, "out") if f.object in wanted]

    def top_degrees(self, limit: int) -> list[tuple[str, int]]:
        """The ``limit`` entities with most facts and their degrees."""
        return sorted(((eid, int(d)) for eid, d in self.g.degree()), key=lambda x: -x[1])[:limit]

    def degree_counts(self) -> dict[int, int]:
        """How many entities have each degree."""
        return dict(Counter(int(d) for _, d in self.g.degree()))

    def relation_counts(self) -> dict[str, int]:
        """Facts per relation."""
        return dict(sorted(Counter(r for _, _, r in self.g.edges(data="relation")).items()))

    def counts(self) -> dict[str, int]:
        """The store's :meth:`~kgllm.stores.memory.MemoryStore.stats`."""
        n_prov = sum(len(p) for _, _, p in self.g.edges(data="provenance"))
        return {"entities": self.g.number_of_nodes(), "facts": self.g.number_of_edges(),
                "relations": len(set(r for _, _, r in self.g.edges(data="relation"))), "documents": len(self.by_doc),
                "provenances": n_prov, "merges": len(self.merges)}

    def merge_list(self) -> list[Merge]:
        return list(self.merges.values())

    def has_merge(self, alias: str) -> bool:
        return alias in self.merges

    def undo_items(self) -> list[tuple[Merge, Undo]]:
        """Every merge with its undo record, oldest first."""
        return [(m, self.undo[a]) for a, m in self.merges.items()]

    def document(self, doc_id: str) -> DocumentRecord | None:
        return self.documents.get(doc_id)

    def document_list(self) -> list[DocumentRecord]:
        return [self.documents[k] for k in sorted(self.documents)]

    def run_list(self) -> list[RunRecord]:
        return list(self.runs.values())

    def knows_document(self, doc_id: str) -> bool:
        """Whether a ledger row or a fact's provenance names ``doc_id``."""
        return doc_id in self.documents or doc_id in self.by_doc

    def doc_facts(self, doc_id: str) -> list[Fact]:
        """The facts carrying a provenance of ``doc_id``, by subject, object and id."""
        return [self.edge_fact(k[0], k[1], self.g.edges[k]) for k in sorted(self.by_doc.get(doc_id, ()))]

    def doc_fact_count(self, doc_id: str) -> int:
        return len(self.by_doc.get(doc_id, ()))
