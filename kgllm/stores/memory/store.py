"""The :class:`MemoryStore`: the reference graph store, held in process memory."""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path as PathLib
from typing import Any, Callable, Iterable, Iterator, TypeVar

from kgllm.errors import InputError
from kgllm.stores import merge as merging
from kgllm.stores.base import Direction, UpsertResult
from kgllm.stores.delta import validate_delta
from kgllm.stores.memory.graph import Journal, NxGraph
from kgllm.stores.memory.ledger import LedgerMethods
from kgllm.stores.memory.persist import (file_stamp, graph_from_dict, graph_to_dict, load_into, migrate_to_sqlite,
                                         save, save_sqlite)
from kgllm.stores.memory.query import run_query
from kgllm.stores.memory.refresh import catch_up
from kgllm.stores.memory.sqlite import SQLITE_SUFFIXES, SqliteFile, is_sqlite_file
from kgllm.types import Entity, Fact, GraphDelta, Merge, Path, Subgraph, entity_id

__all__ = ["MemoryStore"]

T = TypeVar("T")


class MemoryStore(LedgerMethods):
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
        self._path: PathLib | None = None  # the graph file (JSON or SQLite) this store was read from
        self._db: SqliteFile | None = None
        self._disk_revision = 0
        self._migrate: tuple[Callable[[PathLib, PathLib], None], tuple[int, ...]] | None = None

    def revision(self) -> int:
        """A counter that every write that changes the graph (and :meth:`from_dict`) increases.

        It counts this process's view: on a SQLite file, another process's writes show up
        after :meth:`refresh` (or at the next write, which reloads a stale view first).
        """
        return self._graph.changes

    # ------------------------------------------------------------------ writes
    def _write(self, fn: Callable[[], T]) -> T:
        """Run the write ``fn`` on the graph; on a SQLite file, as one transaction of the rows it changed.

        A view that another process's commit made stale is reloaded first (inside the
        transaction, so nothing is lost); when ``fn`` or the commit fails, the graph is
        reloaded from the file, as it was before the write.
        """
        if self._migrate is not None:
            self._migrate_now()
        db = self._db
        if db is None:
            return fn()
        journal = Journal()
        try:
            with db.transaction() as rev:
                if rev != self._disk_revision:
                    self._catch_up()
                self._graph.journal = journal
                result = fn()
                self._graph.journal = None
                self._disk_revision = db.write(self._graph, journal)
        except BaseException:
            self._graph.journal = None
            if journal.nodes or journal.facts or journal.merges or journal.documents or journal.runs:
                self._reload()
            raise
        return result

    def migrate_on_first_write(self, on_migrate: Callable[[PathLib, PathLib], None] | None = None) -> None:
        """Convert the JSON graph file this store was read from in place to SQLite just before its first write.

        From then on the store is durable. The JSON is kept beside it and ``on_migrate(path, backup)`` is
        called (see :func:`~kgllm.stores.memory.persist.migrate_to_sqlite`, which is crash-safe). Nothing
        happens for a store that never writes, is durable already, or was not read from a file.
        """
        if self._db is None and self._path is not None:
            self._migrate = (on_migrate or (lambda path, backup: None), file_stamp(self._path))

    def _migrate_now(self) -> None:
        assert self._path is not None and self._migrate is not None
        on_migrate, stamp = self._migrate
        unchanged = file_stamp(self._path) == stamp  # else another process wrote or migrated it since it was read
        backup = migrate_to_sqlite(self._path)  # a failure leaves the JSON file and this store as they were
        self._db, self._migrate = SqliteFile(self._path), None
        if backup is not None and unchanged:
            self._disk_revision = self._db.revision()  # the file holds exactly this graph
        else:
            self._reload()
        if backup is not None:
            on_migrate(self._path, backup)

    def _reload(self) -> None:
        """Replace the in-memory graph by the file's committed state (the revision keeps increasing)."""
        assert self._db is not None
        changes = self._graph.changes
        graph = NxGraph()
        self._disk_revision = self._db.load(graph)
        graph.changes = max(graph.changes, changes + 1)
        self._graph = graph

    def _catch_up(self) -> None:
        """Apply other processes' commits: only the rows they changed, or the whole file when the log is short."""
        assert self._db is not None
        revision = catch_up(self._db, self._graph, self._disk_revision)
        if revision is None:
            self._reload()
        else:
            self._disk_revision = revision

    def refresh(self) -> bool:
        """Catch up with writes other processes committed to the SQLite file since; True if there were any.

        Cheap when nothing changed (one row read) and otherwise costs what the commits changed
        (see :mod:`~kgllm.stores.memory.refresh`): for readers that stay open while jobs write,
        such as a server. The graph is updated in place, so call it where no other thread is
        reading the store. :func:`~kgllm.stores.memory.sqlite.file_revision` reads the file's
        revision without a store.
        """
        if self._db is None or self._db.revision() == self._disk_revision:
            return False
        self._catch_up()
        return True

    def upsert(self, delta: GraphDelta) -> UpsertResult:
        """Add entities, facts and merges; idempotent. An invalid delta raises InputError and changes nothing."""
        validate_delta(delta)
        return self._write(lambda: self._upsert(delta))

    def _upsert(self, delta: GraphDelta) -> UpsertResult:
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
        if alias not in self._graph.merges:
            return False
        return self._write(lambda: merging.unmerge(self._graph, alias))

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
        """The whole graph and ledger as one JSON-able dict (see :mod:`kgllm.stores.memory.persist`)."""
        return graph_to_dict(self._graph)

    def from_dict(self, data: dict[str, Any]) -> None:
        """Add a graph in :meth:`to_dict` shape as it is (into an empty store: migration, loading)."""
        self._write(lambda: graph_from_dict(self._graph, data))

    @property
    def path(self) -> PathLib | None:
        """The graph file this store was opened on or read from (``None`` for a store only in memory)."""
        return self._path

    @property
    def durable(self) -> bool:
        """Whether every write is committed to a SQLite file as it happens (no :meth:`save` needed)."""
        return self._db is not None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Export the graph to ``path`` atomically, in the format its name says: a SQLite graph file for
        ``.sqlite``/``.sqlite3``/``.db``, JSON for ``.json`` (gzip-compressed for ``.json.gz``); another name
        keeps the format of the file already there (JSON when there is none). Saving a durable store to its
        own file does nothing: its writes are already committed.
        """
        target = PathLib(path)
        if self._db is not None and target.exists() and target.samefile(self._db.path):
            return
        name = target.name.lower()
        if name.endswith(SQLITE_SUFFIXES) or (not name.endswith((".json", ".json.gz")) and is_sqlite_file(target)):
            save_sqlite(self.to_dict(), target)
        else:
            save(self.to_dict(), target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "MemoryStore":
        """Read a graph file: a SQLite file opens durable (:meth:`open`); a JSON file is read whole.

        Errors name the file and what was wrong.
        """
        if is_sqlite_file(path):
            return cls.open(path)
        store = cls()
        load_into(store, path)
        store._path = PathLib(path)
        return store

    @classmethod
    def open(cls, path: str | os.PathLike[str], create: bool = False, busy_timeout: float = 60.0) -> "MemoryStore":
        """Open (``create``: or make) the durable SQLite graph file ``path`` and load its graph.

        Every later write is committed to the file as one transaction of what it changed;
        a second writing process waits up to ``busy_timeout`` seconds for the first's transaction.
        """
        db = SqliteFile(path, create=create, busy_timeout=busy_timeout)
        store = cls()
        try:
            store._disk_revision = db.load(store._graph)
        except BaseException:
            db.close()
            raise
        store._db, store._path = db, PathLib(path)
        return store

    def close(self) -> None:
        """Close the SQLite file of a durable store (its writes are committed already); idempotent."""
        if self._db is not None:
            self._db.close()
            self._db = None
