"""The :class:`MemoryStore`: the reference graph store, held in process memory."""

from __future__ import annotations

import contextlib
import os
from collections import deque
from pathlib import Path as PathLib
from typing import Any, Callable, ContextManager, Iterable, Iterator, TypeVar

from kgllm.errors import InputError, StoreError
from kgllm.stores import merge as merging
from kgllm.stores.base import Direction, UpsertResult
from kgllm.stores.delta import merge_ends, validate_delta
from kgllm.stores.memory.graph import NxGraph
from kgllm.stores.memory.ledger import LedgerMethods
from kgllm.stores.memory.persist import (file_stamp, graph_from_dict, graph_to_dict, migrate_to_sqlite, read_graph,
                                         save, save_sqlite)
from kgllm.stores.memory.query import run_query
from kgllm.stores.memory.sqlgraph import SqlGraph
from kgllm.stores.memory.sqlite import SQLITE_SUFFIXES, SqliteFile, is_sqlite_file
from kgllm.types import Entity, Fact, GraphDelta, Merge, Path, Subgraph, entity_id, fact_id

__all__ = ["MemoryStore"]

T = TypeVar("T")
_CANDIDATES = 5000  # entities sharing a word with a find_entities query that are ranked at most (most facts first)
_BATCH = 2000  # facts (or entities) whose rows one read fetches before they are written


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
        self._graph: NxGraph | SqlGraph = NxGraph()
        self._path: PathLib | None = None  # the graph file (JSON or SQLite) this store was read from
        self._db: SqliteFile | None = None
        self._migrate: tuple[Callable[[PathLib, PathLib], None], tuple[int, ...]] | None = None

    def revision(self) -> int:
        """A counter that every write that changes the graph (and :meth:`from_dict`) increases.

        On a SQLite file it is the file's own counter: other processes' writes count as soon as they commit.
        """
        if self._db is not None:
            return self._db.revision()
        assert isinstance(self._graph, NxGraph)
        return self._graph.changes

    # ------------------------------------------------------------------ writes
    def _write(self, fn: Callable[[], T]) -> T:
        """Run the write ``fn`` on the graph; on a SQLite file, as one transaction (all of it or nothing)."""
        if self._migrate is not None:
            self._migrate_now()
        db, graph = self._db, self._graph
        if db is None or not isinstance(graph, SqlGraph):
            return fn()
        with db.transaction():
            graph.begin()
            try:
                result = fn()
                graph.finish()
            except BaseException:
                graph.abort()
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
        on_migrate, _ = self._migrate
        backup = migrate_to_sqlite(self._path)  # a failure leaves the JSON file and this store as they were
        self._db, self._migrate = SqliteFile(self._path), None
        self._graph = SqlGraph(self._db)  # the file holds this graph, and what another process wrote since
        if backup is not None:
            on_migrate(self._path, backup)

    def refresh(self) -> bool:
        """Whether other processes committed writes to the SQLite file since the last call (reads see them at once:
        the file is queried, not loaded); for readers that keep derived data, such as a server."""
        if self._db is None:
            return False
        revision = self._db.revision()
        seen, self._seen = getattr(self, "_seen", None), revision
        return seen is not None and seen != revision

    def upsert(self, delta: GraphDelta) -> UpsertResult:
        """Add entities, facts and merges; idempotent. An invalid delta raises InputError and changes nothing."""
        validate_delta(delta)
        if not (delta.entities or delta.facts or delta.merges):
            return UpsertResult()  # nothing to write (a new graph file is not made for it)
        return self._write(lambda: self._upsert(delta))

    def _upsert(self, delta: GraphDelta) -> UpsertResult:
        graph = self._graph
        merged = graph.merge_map()
        if delta.merges:  # dry run before any write
            merging.dry_run_merges(delta, dict(merged), graph.existing(merge_ends(delta, merged)))
        prefetch = getattr(graph, "prefetch", None)  # a file: read what a batch looks at in a few queries
        added_e = added_f = added_p = applied = 0
        for start in range(0, len(delta.entities), _BATCH):
            batch = delta.entities[start:start + _BATCH]
            if prefetch is not None:
                prefetch([merging.follow_merges(merged, e.id) for e in batch], ())
            for entity in batch:
                added_e += merging.add_entity(graph, entity)
        for start in range(0, len(delta.facts), _BATCH):
            batch = delta.facts[start:start + _BATCH]
            if prefetch is not None:
                ends = [(merging.follow_merges(merged, f.subject), f.relation, merging.follow_merges(merged, f.object))
                        for f in batch]
                prefetch([x for s, _, o in ends for x in (s, o)], [fact_id(*t) for t in ends])
            for fact in batch:
                e, f, p = merging.add_fact(graph, fact)
                added_e, added_f, added_p = added_e + e, added_f + f, added_p + p
        for merge in delta.merges:
            applied += merging.apply_merge(graph, merge)
        return UpsertResult(added_e, added_f, added_p, applied)

    def unmerge(self, alias: str) -> bool:
        """Undo the merge of ``alias`` (restores its own node and facts). False if none recorded."""
        if not self._graph.has_merge(alias):
            return False
        return self._write(lambda: merging.unmerge(self._graph, alias))

    # ------------------------------------------------------------------- reads
    def get_entity(self, entity_id: str) -> Entity | None:
        """The entity ``entity_id`` (following merges), or ``None``."""
        graph = self._graph
        eid = graph.resolve(entity_id)
        return graph.entities_of([eid]).get(eid)

    def find_entities(self, text: str, limit: int = 10) -> list[Entity]:
        """Entities whose name or an alias matches ``text``: exact first, then by the share of words in common."""
        key = entity_id(text)
        if not key:
            return []
        graph = self._graph
        found: list[str] = [key] if graph.has(key) else []
        found.extend(sorted(graph.names_for(key) - set(found)))
        if len(found) < limit:
            words = set(key.split())
            scored = []
            for eid, _ in graph.name_candidates(words, limit=_CANDIDATES):
                if eid in found:
                    continue
                names = [eid, *(entity_id(a) for a in graph.entity(eid).aliases)]
                best = max(len(words & set(n.split())) / max(len(set(n.split())), 1) for n in names)
                if best > 0:
                    scored.append((-best, eid))
            found.extend(eid for _, eid in sorted(scored))
        found = found[:limit]
        entities = graph.entities_of(found)
        return [entities[eid] for eid in found]

    def entities(self) -> Iterator[Entity]:
        """Every entity, in insertion order."""
        return self._graph.iter_entities()

    def facts(self) -> Iterator[Fact]:
        """Every fact with its provenance, in insertion order."""
        return self._graph.iter_facts()

    def get_fact(self, fact_id: str) -> Fact | None:
        """The fact with id ``fact_id``, or ``None`` (an index lookup)."""
        return self._graph.fact_by_id(fact_id)

    def neighbors(self, entity_id: str, direction: Direction = "both", relation: str | None = None) -> list[Fact]:
        """Facts that touch ``entity_id`` (as subject for ``out``, object for ``in``); only those of ``relation``
        when given (an index lookup on a SQLite file)."""
        if direction not in ("out", "in", "both"):
            raise InputError(f"direction must be 'out', 'in' or 'both', got {direction!r}")
        eid = self._graph.resolve(entity_id)
        return list(self._graph.iter_incident(eid, direction, relation))

    def subgraph(self, seeds: Iterable[str], hops: int = 2, limit: int = 500) -> Subgraph:
        """All facts within ``hops`` of the seeds (edges walked both ways, breadth first), at most ``limit``."""
        with self._snapshot():
            return self._subgraph(seeds, hops, limit)

    def _subgraph(self, seeds: Iterable[str], hops: int, limit: int) -> Subgraph:
        graph = self._graph
        sub = Subgraph()
        frontier: deque[str] = deque()
        depth: dict[str, int] = {}
        for seed in seeds:
            eid = graph.resolve(seed)
            if eid not in depth and graph.has(eid):
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
        with self._snapshot():
            return self._paths(source, target, max_hops, limit)

    def _paths(self, source: str, target: str, max_hops: int, limit: int) -> list[Path]:
        graph = self._graph
        src, dst = graph.resolve(source), graph.resolve(target)
        if not graph.has(src) or not graph.has(dst):
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
        return self._graph.merge_list()

    def stats(self) -> dict[str, int]:
        """Counts: ``entities``, ``facts``, ``relations``, ``documents``, ``provenances``, ``merges`` (kept up to
        date by every write on a SQLite file: reading them reads a few rows)."""
        return self._graph.counts()

    def relations(self) -> dict[str, int]:
        """Facts per relation name, sorted by name (a small table on a SQLite file)."""
        return self._graph.relation_counts()

    def degree(self, entity_id: str) -> int:
        """Facts touching ``entity_id`` (a self-loop counts twice; 0 when unknown), without reading them."""
        return self._graph.degree(self._graph.resolve(entity_id))

    def degrees(self, entity_ids: Iterable[str]) -> dict[str, int]:
        """:meth:`degree` of each of ``entity_ids`` that is an entity (ids as stored, merges not followed)."""
        return self._graph.degrees(entity_ids)

    def top_degrees(self, limit: int = 10) -> list[tuple[Entity, int]]:
        """The ``limit`` entities with the most facts, with their degrees, most first (an index scan on a file)."""
        top = self._graph.top_degrees(limit)
        entities = self._graph.entities_of(eid for eid, _ in top)
        return [(entities[eid], d) for eid, d in top if eid in entities]

    def degree_counts(self) -> dict[int, int]:
        """How many entities have each degree (one pass over the entities' degrees, not over the facts)."""
        return self._graph.degree_counts()

    def facts_between(self, entity_ids: Iterable[str]) -> list[Fact]:
        """The facts whose two ends are both among ``entity_ids`` (ids as stored), in insertion order."""
        return self._graph.facts_between(entity_ids)

    def match_names(self, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        """The entities each token key names (see :mod:`kgllm.stores.names`): ``{key: {entity id: method}}``, method
        ``exact`` (its id or name) or ``alias``; keys naming nothing are left out. One indexed query on a file."""
        return self._graph.token_matches(keys)

    def name_candidates(self, words: Iterable[str], prefix: bool = False, any_word: bool = True,
                        limit: int | None = None) -> list[tuple[str, list[str]]]:
        """``(entity id, name keys)`` of entities with a name holding one of ``words`` (``any_word=False``: all of
        them; ``prefix``: a word starting so), most facts first when ``limit`` cuts: candidates to rank (from the
        full-text index of a file; every entity of a graph in memory)."""
        return self._graph.name_candidates(words, prefix=prefix, any_word=any_word, limit=limit)

    def neighbors_page(self, entity_id: str, direction: Direction = "both", relations: Iterable[str] = (),
                       offset: int = 0, limit: int = 50) -> tuple[int, list[Fact]]:
        """How many facts touch ``entity_id`` (of ``relations`` when given), and those from ``offset`` to
        ``offset + limit`` ordered by relation, subject and object: a page costs its size, not the entity's degree."""
        if direction not in ("out", "in", "both"):
            raise InputError(f"direction must be 'out', 'in' or 'both', got {direction!r}")
        eid = self._graph.resolve(entity_id)
        return self._graph.neighbors_page(eid, direction, sorted(set(relations)), offset, limit)

    def document_facts(self, doc_id: str) -> list[Fact]:
        """The facts carrying a provenance of ``doc_id``, by subject, object and id (an index lookup on a file)."""
        return self._graph.doc_facts(doc_id)

    def search_names(self, words: Iterable[str], prefix: bool = True, any_word: bool = False,
                     limit: int = 100) -> list[tuple[Entity, int]]:
        """The ``limit`` best-connected entities with a name holding ``words`` (see :meth:`name_candidates`), with
        their degrees: what a search box ranks (one full-text query on a file)."""
        return self._graph.search_names(words, prefix=prefix, any_word=any_word, limit=limit)

    def get_entities(self, entity_ids: Iterable[str]) -> dict[str, Entity]:
        """The entities among ``entity_ids`` (ids as stored, merges not followed), by id; a few queries on a file."""
        return self._graph.entities_of(entity_ids)

    def query(self, cypher: str, params: dict[str, Any] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Run a read-only Cypher query (see the class documentation) and return at most ``limit`` rows."""
        return run_query(self._graph, cypher, params or {}, limit)

    def _snapshot(self) -> ContextManager[Any]:
        """Reads in the block see one committed state of the file."""
        return self._db.snapshot() if self._db is not None else contextlib.nullcontext()

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
        """Read a graph file: a SQLite file opens durable (:meth:`open`, nothing is loaded); a JSON file is read
        whole.

        Errors name the file and what was wrong.
        """
        if is_sqlite_file(path):
            return cls.open(path)
        data = read_graph(path)
        store = cls()
        try:
            store.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{path}: corrupt graph file: {exc!r}") from exc
        store._path = PathLib(path)
        return store

    @classmethod
    def open(cls, path: str | os.PathLike[str], create: bool = False, busy_timeout: float = 60.0) -> "MemoryStore":
        """Open (``create``: or make, at its first write) the durable SQLite graph file ``path``.

        Nothing is loaded: every read queries the file's indexes. Every write is committed to the file as one
        transaction of what it changed; a second writing process waits up to ``busy_timeout`` seconds for the
        first's transaction.
        """
        db = SqliteFile(path, create=create, busy_timeout=busy_timeout)
        store = cls()
        store._db, store._path, store._graph = db, PathLib(path), SqlGraph(db)
        return store

    def close(self) -> None:
        """Close the SQLite file of a durable store (its writes are committed already); idempotent."""
        if self._db is not None:
            self._db.close()
