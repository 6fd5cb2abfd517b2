"""Graph store on a Neo4j server (5.x), with the same observable behaviour as the memory store.

Layout in the database
----------------------
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
  order and the JSON undo record, as in :meth:`MemoryStore.to_dict`.

Read-only Cypher given to :meth:`Neo4jStore.query` is rewritten so that it sees what
the memory store's ``grand-cypher`` sees: every node pattern gets the ``Entity`` label
(merge records stay invisible) and ``==`` means ``=``. Whole nodes come back as
dicts of ``id``, ``name``, ``type``, ``aliases`` and relationships as dicts of
``id``, ``relation``, ``confidence``.

Examples
--------
The connection needs a server (see :mod:`kgllm.testing`), so only the query
rewriting is shown here:

>>> from kgllm.stores.neo4j import rewrite_cypher
>>> rewrite_cypher('MATCH (a)-[r:born_in]->(b {name: "Paris (x)"}) WHERE a.name == "A" RETURN count(b)')
'MATCH (a:Entity)-[r:born_in]->(b:Entity {name: "Paris (x)"}) WHERE a.name = "A" RETURN count(b)'

Use with a server::

    store = Neo4jStore.connect("bolt://127.0.0.1:7687", auth=("neo4j", "secret-pw"))
    store.upsert(delta)
    store.close()
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import deque
from typing import Any, Callable, Iterable, Iterator, TypeVar

from kgllm.errors import InputError, StoreError
from kgllm.stores.base import Direction, UpsertResult
from kgllm.stores.memory import (
    FORMAT_NAME,
    FORMAT_VERSION,
    _WRITE_CLAUSE,
    _STRING_LITERAL,
    _bind_params,
    _fact_from_dict,
    _fact_to_dict,
    _legacy_changes,
    _validate_delta,
    dry_run_merges,
    follow_merges,
)
from kgllm.types import Entity, Fact, GraphDelta, Merge, Path, Provenance, Subgraph, entity_id, fact_id

__all__ = ["Neo4jStore", "rewrite_cypher"]

T = TypeVar("T")

ENTITY = "Entity"
MERGE_LABEL = "KgllmMerge"
FULLTEXT_INDEX = "kgllm_entity_search"
_SCHEMA = (
    f"CREATE CONSTRAINT kgllm_entity_id IF NOT EXISTS FOR (n:{ENTITY}) REQUIRE n.id IS UNIQUE",
    f"CREATE CONSTRAINT kgllm_merge_alias IF NOT EXISTS FOR (m:{MERGE_LABEL}) REQUIRE m.alias IS UNIQUE",
    f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} IF NOT EXISTS FOR (n:{ENTITY}) ON EACH [n.search]",
)
_FACT_RETURN = ("s.id AS s, r.relation AS r, o.id AS o, r.confidence AS c, r.prov AS prov, "
                "r.pkeys AS pkeys, r.pdocs AS pdocs")


# --------------------------------------------------------------- helpers
def _pkey(p: Provenance) -> str:
    return json.dumps(list(p.key()), ensure_ascii=False)


def _pjson(p: Provenance) -> str:
    return json.dumps(p.to_dict(), ensure_ascii=False)


def _search_text(eid: str, name: str, aliases: Iterable[str]) -> str:
    keys = dict.fromkeys([eid, entity_id(name), *(entity_id(a) for a in aliases)])
    return "\n".join(k for k in keys if k)


def _fact_from_row(row: dict[str, Any]) -> Fact:
    prov = tuple(Provenance.from_dict(json.loads(p)) for p in (row["prov"] or []))
    return Fact(row["s"], row["r"], row["o"], float(row["c"]), prov)


def _entity_from_props(props: dict[str, Any]) -> Entity:
    return Entity(props["id"], props["name"], props.get("type") or "", tuple(props.get("aliases") or ()))


def _node_dict(props: dict[str, Any]) -> dict[str, Any]:
    return {"id": props["id"], "name": props["name"], "type": props.get("type") or "",
            "aliases": list(props.get("aliases") or [])}


def _merge_entity_into(node: dict[str, Any], eid: str, entity: Entity) -> bool:
    """Fold ``entity`` into the existing ``node`` exactly as the memory store does; True if changed."""
    names = [entity.name, *entity.aliases] if eid != entity.id or entity.name != node["name"] else list(entity.aliases)
    new = [a for a in dict.fromkeys(names) if a and a != node["name"] and a not in node["aliases"]]
    changed = False
    if new:
        node["aliases"] = node["aliases"] + new
        changed = True
    if entity.type and not node["type"]:
        node["type"] = entity.type
        changed = True
    return changed


def _new_node(eid: str, entity: Entity) -> dict[str, Any]:
    aliases = [a for a in dict.fromkeys(entity.aliases) if a and a != entity.name]
    return {"id": eid, "name": entity.name, "type": entity.type, "aliases": aliases}


def _dedupe_provenance(provs: Iterable[Provenance]) -> list[Provenance]:
    out: dict[tuple, Provenance] = {}
    for p in provs:
        out.setdefault(p.key(), p)
    return list(out.values())


_NODE_PATTERN = re.compile(
    r"(?<![\w$`.\]])\(\s*(?P<var>[A-Za-z_][A-Za-z0-9_]*|`[^`]*`)?(?P<rest>\s*(?::\s*(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]*`)\s*)*"
    r"(?:\{[^{}()]*\})?\s*)\)")


def rewrite_cypher(cypher: str) -> str:
    """Turn memory-store Cypher (grand-cypher dialect) into equivalent Neo4j Cypher.

    Node patterns get the ``Entity`` label and ``==`` becomes ``=``; string
    literals are left alone.

    Parameters
    ----------
    cypher : str
        A read-only query as accepted by :meth:`MemoryStore.query`.

    Returns
    -------
    str
        The query to send to Neo4j.

    Examples
    --------
    >>> rewrite_cypher("MATCH (a) WHERE a.name == 'x == (y)' RETURN COUNT(a)")
    "MATCH (a:Entity) WHERE a.name = 'x == (y)' RETURN COUNT(a)"
    >>> rewrite_cypher("MATCH ()-[r]->(:PERSON) RETURN r")
    'MATCH (:Entity)-[r]->(:Entity:PERSON) RETURN r'
    """
    strings: list[str] = []

    def hide(match: re.Match[str]) -> str:
        strings.append(match.group())
        return f"\x00{len(strings) - 1}\x00"

    text = _STRING_LITERAL.sub(hide, cypher)
    text = text.replace("==", "=")
    text = _NODE_PATTERN.sub(lambda m: f"({m.group('var') or ''}:{ENTITY}{m.group('rest')})", text)
    return re.sub("\x00(\\d+)\x00", lambda m: strings[int(m.group(1))], text)


def _plain(value: Any) -> Any:
    """Neo4j values as the memory store returns them (plain dicts and lists)."""
    from neo4j.graph import Node, Path as NeoPath, Relationship

    if isinstance(value, Node):
        return _node_dict(dict(value)) if value.get("id") is not None else dict(value)
    if isinstance(value, Relationship):
        return {"id": value.get("id"), "relation": value.get("relation"), "confidence": value.get("confidence")}
    if isinstance(value, NeoPath):
        return [_plain(r) for r in value.relationships]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class _Work:
    """The slice of the graph one merge/unmerge transaction reads, changed in Python, then written back."""

    def __init__(self, tx: Any) -> None:
        self.tx = tx
        self.nodes: dict[str, dict[str, Any] | None] = {}
        self.facts: dict[str, dict[str, Any] | None] = {}  # id -> {s, r, o, c, prov: list[Provenance]}
        self.dirty_nodes: set[str] = set()
        self.deleted_nodes: set[str] = set()
        self.dirty_facts: set[str] = set()
        self.merges: dict[str, str] | None = None
        self.gone: dict[str, tuple[str, str]] = {}  # removed fact id -> (subject, object)

    # reads
    def merge_map(self) -> dict[str, str]:
        if self.merges is None:
            rows = self.tx.run(f"MATCH (m:{MERGE_LABEL}) RETURN m.alias AS a, m.canonical AS c")
            self.merges = {r["a"]: r["c"] for r in rows}
        return self.merges

    def resolve(self, eid: str) -> str:
        return follow_merges(self.merge_map(), eid)

    def node(self, eid: str) -> dict[str, Any] | None:
        if eid not in self.nodes:
            rec = self.tx.run(f"MATCH (n:{ENTITY} {{id: $id}}) RETURN n", id=eid).single()
            self.nodes[eid] = _node_dict(dict(rec["n"])) if rec else None
        return self.nodes[eid]

    def fact(self, s: str, r: str, o: str) -> dict[str, Any] | None:
        fid = fact_id(s, r, o)
        if fid not in self.facts:
            rec = self.tx.run(
                f"MATCH (s:{ENTITY} {{id: $s}})-[r]->(o:{ENTITY} {{id: $o}}) WHERE r.id = $fid RETURN {_FACT_RETURN}",
                s=s, o=o, fid=fid).single()
            self.facts[fid] = None if rec is None else {
                "s": s, "r": r, "o": o, "c": float(rec["c"]),
                "prov": list(_fact_from_row(rec.data()).provenance)}
        return self.facts[fid]

    def incident(self, eid: str) -> list[Fact]:
        """Facts touching ``eid``: out-facts then in-facts (a self-loop once), as in the memory store."""
        facts = [f for f, _ in Neo4jStore._incident_many(self.tx, [eid])[eid]]
        for f in facts:
            self.facts[f.id] = {"s": f.subject, "r": f.relation, "o": f.object, "c": f.confidence,
                                "prov": list(f.provenance)}
        return facts

    # changes (in memory until flush)
    def add_entity(self, entity: Entity) -> int:
        eid = self.resolve(entity.id)
        node = self.node(eid)
        if node is not None:
            if _merge_entity_into(node, eid, entity):
                self.dirty_nodes.add(eid)
            return 0
        self.nodes[eid] = _new_node(eid, entity)
        self.dirty_nodes.add(eid)
        return 1

    def add_fact(self, fact: Fact) -> tuple[int, int]:
        data = self.fact(fact.subject, fact.relation, fact.object)
        if data is not None:
            known = {p.key() for p in data["prov"]}
            new = _dedupe_provenance(p for p in fact.provenance if p.key() not in known)
            data["prov"].extend(new)
            data["c"] = max(data["c"], fact.confidence)
            self.dirty_facts.add(fact.id)
            return 0, len(new)
        prov = _dedupe_provenance(fact.provenance)
        self.facts[fact.id] = {"s": fact.subject, "r": fact.relation, "o": fact.object,
                               "c": fact.confidence, "prov": prov}
        self.dirty_facts.add(fact.id)
        return 1, len(prov)

    def remove_fact(self, fid: str) -> None:
        data = self.facts.get(fid)
        if data is not None:
            self.facts[fid] = None
            self.dirty_facts.add(fid)
            self.gone[fid] = (data["s"], data["o"])

    def delete_node(self, eid: str) -> None:
        """Delete a node and (as DETACH DELETE will) every fact touching it."""
        self.nodes[eid] = None
        self.deleted_nodes.add(eid)
        self.dirty_nodes.discard(eid)
        for fid, data in self.facts.items():
            if data is not None and eid in (data["s"], data["o"]):
                self.facts[fid] = None
                self.dirty_facts.discard(fid)

    def flush(self) -> None:
        tx = self.tx
        if self.deleted_nodes:
            tx.run(f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}}) DETACH DELETE n",
                   ids=sorted(self.deleted_nodes)).consume()
        gone = self.gone
        drop = [{"id": fid, "s": gone[fid][0], "o": gone[fid][1]}
                for fid in sorted(self.dirty_facts) if self.facts.get(fid) is None and fid in gone]
        if drop:
            tx.run(f"UNWIND $rows AS row MATCH (s:{ENTITY} {{id: row.s}})-[r]->(o:{ENTITY} {{id: row.o}}) "
                   "WHERE r.id = row.id DELETE r", rows=drop).consume()
        rows = [self.nodes[eid] for eid in sorted(self.dirty_nodes) if self.nodes.get(eid) is not None]
        _write_nodes(tx, rows)
        facts = [self.facts[fid] for fid in sorted(self.dirty_facts) if self.facts.get(fid) is not None]
        _write_facts_full(tx, facts)


def _write_nodes(tx: Any, nodes: list[dict[str, Any]]) -> None:
    if not nodes:
        return
    rows = [{**n, "search": _search_text(n["id"], n["name"], n["aliases"])} for n in nodes]
    tx.run(f"UNWIND $rows AS row MERGE (n:{ENTITY} {{id: row.id}}) "
           "SET n.name = row.name, n.type = row.type, n.aliases = row.aliases, n.search = row.search",
           rows=rows).consume()


def _write_facts_full(tx: Any, facts: list[dict[str, Any]]) -> None:
    """Create or overwrite facts (endpoints must exist) in one UNWIND."""
    if not facts:
        return
    rows = [{"id": fact_id(f["s"], f["r"], f["o"]), "s": f["s"], "o": f["o"], "r": f["r"], "c": float(f["c"]),
             "keys": [_pkey(p) for p in f["prov"]], "prov": [_pjson(p) for p in f["prov"]],
             "docs": [p.doc_id for p in f["prov"]]} for f in facts]
    tx.run(f"UNWIND $rows AS row MATCH (s:{ENTITY} {{id: row.s}}) MATCH (o:{ENTITY} {{id: row.o}}) "
           "MERGE (s)-[r:$(row.r)]->(o) "
           "SET r.id = row.id, r.relation = row.r, r.confidence = row.c, "
           "r.pkeys = row.keys, r.prov = row.prov, r.pdocs = row.docs", rows=rows).consume()


class Neo4jStore:
    """A :class:`~kgllm.stores.base.GraphStore` on a Neo4j 5 server, over Bolt.

    Behaves like :class:`~kgllm.stores.memory.MemoryStore` (upsert idempotency,
    provenance merging, merges with undo, retraction, searches, traversals,
    statistics, read-only Cypher). Orders that the memory store leaves to
    insertion order (``entities()``, ``facts()``, ``neighbors()``) are unspecified here.

    Parameters
    ----------
    driver : neo4j.Driver, optional
        An open driver; :meth:`connect` makes one. ``__init__`` does no I/O.
    uri : str
        The server's URI, named in error messages.
    database : str, optional
        Database name (default: the server's default database).
    batch_size : int
        Facts (or entities) written per transaction by :meth:`upsert`.
    retry_timeout : float
        Seconds during which transient errors and lost connections are retried
        (exponential backoff) before :class:`~kgllm.errors.StoreError` is raised.
    query_timeout : float
        Transaction timeout in seconds of :meth:`query`.
    """

    def __init__(self, driver: Any = None, uri: str = "", database: str | None = None, batch_size: int = 1000,
                 retry_timeout: float = 30.0, query_timeout: float = 30.0) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        self._driver = driver
        self.uri = uri
        self.database = database
        self.batch_size = batch_size
        self.retry_timeout = retry_timeout
        self.query_timeout = query_timeout
        self.on_batch: Callable[[str, int, int], None] | None = None
        """Called after each committed upsert batch with (kind, done, total); for progress and tests."""

    # ----------------------------------------------------------- connection
    @classmethod
    def connect(cls, uri: str, auth: tuple[str, str] | None = None, database: str | None = None,
                batch_size: int = 1000, *, retry_timeout: float = 30.0, query_timeout: float = 30.0,
                connection_timeout: float = 5.0) -> "Neo4jStore":
        """Open a driver, check the server answers and create the constraints and indexes.

        Parameters
        ----------
        uri : str
            ``bolt://HOST:PORT`` or ``neo4j://HOST:PORT``.
        auth : tuple of (str, str), optional
            ``(user, password)``; ``None`` for a server without authentication.
        database : str, optional
            Database name; default the server's default.
        batch_size : int
            Facts per write transaction.
        retry_timeout, query_timeout : float
            See :class:`Neo4jStore`.
        connection_timeout : float
            Seconds to wait for a TCP connection.

        Returns
        -------
        Neo4jStore
            A connected store; call :meth:`close` when done.

        Raises
        ------
        StoreError
            The server cannot be reached (the message names the URI) or refused the credentials.
        """
        try:
            import neo4j
        except ImportError as exc:  # pragma: no cover - dependency missing
            raise StoreError("the Neo4j store needs the neo4j driver: pip install 'neo4j>=5.20'") from exc
        try:
            driver = neo4j.GraphDatabase.driver(uri, auth=auth, connection_timeout=connection_timeout,
                                                max_transaction_retry_time=retry_timeout,
                                                connection_acquisition_timeout=max(connection_timeout, 10.0),
                                                notifications_min_severity="OFF")
        except (neo4j.exceptions.ConfigurationError, ValueError) as exc:
            raise StoreError(f"invalid Neo4j URI {uri!r}: {exc}") from exc
        store = cls(driver, uri, database, batch_size, retry_timeout, query_timeout)
        try:
            store.ensure_schema()
        except BaseException:
            driver.close()
            raise
        return store

    def ensure_schema(self) -> None:
        """Create the uniqueness constraints and the full-text index if missing, and wait for them."""

        def work(tx: Any) -> None:
            for statement in _SCHEMA:
                tx.run(statement).consume()

        self._run("create schema", work, write=True)
        self._run("await indexes", lambda tx: tx.run("CALL db.awaitIndexes(300)").consume(), write=False)

    def close(self) -> None:
        """Close the driver and its connections."""
        if self._driver is not None:
            self._driver.close()

    def __enter__(self) -> "Neo4jStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Neo4jStore({self.uri!r}, database={self.database!r})"

    def _run(self, operation: str, work: Callable[[Any], T], *, write: bool, timeout: float | None = None) -> T:
        """Run ``work(tx)`` in one transaction, retrying transient failures until ``retry_timeout``."""
        import neo4j
        from neo4j import exceptions as nx

        if self._driver is None:
            raise StoreError(f"{operation}: the Neo4j store is not connected (use Neo4jStore.connect)")
        deadline = time.monotonic() + self.retry_timeout
        delay = 0.05
        mode = neo4j.WRITE_ACCESS if write else neo4j.READ_ACCESS
        while True:
            try:
                with self._driver.session(database=self.database, default_access_mode=mode) as session:
                    tx = session.begin_transaction(timeout=timeout)
                    try:
                        result = work(tx)
                        tx.commit()
                        return result
                    finally:
                        if not tx.closed():
                            tx.close()
            except (InputError, StoreError):
                raise
            except nx.AuthError as exc:
                raise StoreError(f"Neo4j at {self.uri}: {operation}: authentication failed: {exc}") from exc
            except (nx.ServiceUnavailable, nx.SessionExpired, nx.IncompleteCommit, nx.TransientError,
                    ConnectionError) as exc:
                retryable = not isinstance(exc, nx.Neo4jError) or exc.is_retryable()
                if not retryable or time.monotonic() + delay > deadline:
                    raise StoreError(f"Neo4j at {self.uri}: {operation} failed "
                                     f"(retried for {self.retry_timeout:g}s): {type(exc).__name__}: {exc}") from exc
                time.sleep(delay * (1 + random.random() * 0.2))
                delay = min(delay * 2, 2.0)
            except nx.ClientError as exc:
                raise InputError(f"Neo4j rejected {operation}: {exc.message or exc}") from exc
            except (nx.Neo4jError, nx.DriverError, OSError) as exc:
                raise StoreError(f"Neo4j at {self.uri}: {operation} failed: {type(exc).__name__}: {exc}") from exc

    # --------------------------------------------------------------- writes
    def _merge_map(self) -> dict[str, str]:
        return self._run("read merges", lambda tx: {
            r["a"]: r["c"] for r in tx.run(f"MATCH (m:{MERGE_LABEL}) RETURN m.alias AS a, m.canonical AS c")},
            write=False)

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
        _validate_delta(delta)
        merged = self._merge_map()
        if delta.merges:
            self._check_merges(delta, merged)

        def resolve(eid: str) -> str:
            return follow_merges(merged, eid)

        added_e = added_f = added_p = applied = 0
        n_ent, n_fact = len(delta.entities), len(delta.facts)
        for start in range(0, n_ent, self.batch_size):
            batch = delta.entities[start:start + self.batch_size]
            added_e += self._run("write entities", lambda tx, b=batch: self._entities_tx(tx, b, resolve), write=True)
            if self.on_batch:
                self.on_batch("entities", start + len(batch), n_ent)
        for start in range(0, n_fact, self.batch_size):
            batch = delta.facts[start:start + self.batch_size]
            e, f, p = self._run("write facts", lambda tx, b=batch: self._facts_tx(tx, b, resolve), write=True)
            added_e, added_f, added_p = added_e + e, added_f + f, added_p + p
            if self.on_batch:
                self.on_batch("facts", start + len(batch), n_fact)
        for merge in delta.merges:
            applied += self._run("apply merge", lambda tx, m=merge: self._merge_tx(tx, m), write=True)
        return UpsertResult(added_e, added_f, added_p, applied)

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
        dry_run_merges(delta, dict(existing), nodes)

    def _entities_tx(self, tx: Any, batch: list[Entity], resolve: Callable[[str], str]) -> int:
        ids = sorted({resolve(e.id) for e in batch})
        nodes = {r["n"]["id"]: _node_dict(dict(r["n"]))
                 for r in tx.run(f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}}) RETURN n", ids=ids)}
        dirty: dict[str, dict[str, Any]] = {}
        added = 0
        for entity in batch:
            eid = resolve(entity.id)
            node = nodes.get(eid)
            if node is None:
                nodes[eid] = dirty[eid] = _new_node(eid, entity)
                added += 1
            elif _merge_entity_into(node, eid, entity):
                dirty[eid] = node
        _write_nodes(tx, list(dirty.values()))
        return added

    def _facts_tx(self, tx: Any, batch: list[Fact], resolve: Callable[[str], str]) -> tuple[int, int, int]:
        rows: dict[str, dict[str, Any]] = {}
        for fact in batch:
            s, o = resolve(fact.subject), resolve(fact.object)
            fid = fact_id(s, fact.relation, o)
            row = rows.get(fid)
            if row is None:
                rows[fid] = {"id": fid, "s": s, "o": o, "r": fact.relation, "c": float(fact.confidence),
                             "prov": _dedupe_provenance(fact.provenance)}
            else:  # the same fact twice in a batch: one row, as applying both in turn would give
                row["prov"] = _dedupe_provenance([*row["prov"], *fact.provenance])
                row["c"] = max(row["c"], float(fact.confidence))
        ends = sorted({eid for row in rows.values() for eid in (row["s"], row["o"])})
        created = tx.run(
            f"UNWIND $rows AS row MERGE (n:{ENTITY} {{id: row.id}}) "
            "ON CREATE SET n.name = row.id, n.type = '', n.aliases = [], n.search = row.search",
            rows=[{"id": eid, "search": _search_text(eid, eid, ())} for eid in ends]).consume().counters.nodes_created
        fact_rows = []
        for row in rows.values():
            prov = row.pop("prov")
            row.update(keys=[_pkey(p) for p in prov], prov=[_pjson(p) for p in prov], docs=[p.doc_id for p in prov])
            fact_rows.append(row)
        rec = tx.run(
            f"UNWIND $rows AS row MATCH (s:{ENTITY} {{id: row.s}}) MATCH (o:{ENTITY} {{id: row.o}}) "
            "MERGE (s)-[r:$(row.r)]->(o) "
            "WITH r, row, r.id IS NULL AS created, coalesce(r.pkeys, []) AS known "
            "WITH r, row, created, known, [i IN range(0, size(row.keys) - 1) WHERE NOT row.keys[i] IN known] AS idx "
            "SET r.id = row.id, r.relation = row.r, "
            "r.confidence = CASE WHEN created OR row.c > r.confidence THEN row.c ELSE r.confidence END, "
            "r.pkeys = known + [i IN idx | row.keys[i]], "
            "r.prov = coalesce(r.prov, []) + [i IN idx | row.prov[i]], "
            "r.pdocs = coalesce(r.pdocs, []) + [i IN idx | row.docs[i]] "
            "RETURN sum(CASE WHEN created THEN 1 ELSE 0 END) AS f, sum(size(idx)) AS p",
            rows=fact_rows).single()
        facts_added, prov_added = rec["f"] or 0, rec["p"] or 0
        return created, facts_added, prov_added

    def _merge_tx(self, tx: Any, merge: Merge) -> int:
        w = _Work(tx)
        merged = w.merge_map()
        alias, canonical = w.resolve(merge.alias), w.resolve(merge.canonical)
        if merge.alias in merged or alias == canonical or w.node(alias) is None:
            return 0
        if w.node(canonical) is None:
            raise InputError(f"merge target {canonical!r} is not in the graph: {merge!r}")
        original = w.incident(alias)
        attrs = dict(w.node(alias))  # type: ignore[arg-type]
        attrs["aliases"] = list(attrs["aliases"])
        node = w.node(canonical)
        assert node is not None
        aliases_before, type_before = list(node["aliases"]), node["type"]
        merged[merge.alias] = merge.canonical
        w.delete_node(alias)
        w.add_entity(Entity(alias, attrs["name"], attrs["type"], tuple(attrs["aliases"])))
        changes: dict[str, Any] = {
            "aliases": [a for a in node["aliases"] if a not in aliases_before],
            "type": node["type"] != type_before,
            "facts": [],
        }
        for f in original:
            s = canonical if f.subject == alias else f.subject
            o = canonical if f.object == alias else f.object
            rewritten = Fact(s, f.relation, o, f.confidence, f.provenance)
            before = w.fact(s, f.relation, o)
            created = before is None
            keys_before = set() if before is None else {p.key() for p in before["prov"]}
            confidence_before = None if before is None else before["c"]
            w.add_fact(rewritten)
            data = w.fact(s, f.relation, o)
            assert data is not None
            changes["facts"].append({
                "s": s, "r": f.relation, "o": o, "created": created, "c": confidence_before,
                "p": [list(p.key()) for p in data["prov"] if p.key() not in keys_before],
            })
        w.flush()
        seq = tx.run(f"MATCH (m:{MERGE_LABEL}) RETURN coalesce(max(m.seq), 0) + 1 AS seq").single()["seq"]
        tx.run(f"CREATE (m:{MERGE_LABEL} {{alias: $alias, canonical: $canonical, method: $method, score: $score, "
               "doc_id: $doc_id, seq: $seq, node: $node, facts: $facts, changes: $changes})",
               alias=merge.alias, canonical=merge.canonical, method=merge.method, score=float(merge.score),
               doc_id=merge.doc_id, seq=seq, node=json.dumps(attrs, ensure_ascii=False),
               facts=json.dumps([_fact_to_dict(f) for f in original], ensure_ascii=False),
               changes=json.dumps(changes, ensure_ascii=False)).consume()
        return 1

    def unmerge(self, alias: str) -> bool:
        """Undo the merge of ``alias`` (restores its own node and facts); False if none recorded."""
        return self._run("unmerge", lambda tx: self._unmerge_tx(tx, alias), write=True)

    def _unmerge_tx(self, tx: Any, alias: str) -> bool:
        rec = tx.run(f"MATCH (m:{MERGE_LABEL} {{alias: $alias}}) RETURN m", alias=alias).single()
        if rec is None:
            return False
        m = dict(rec["m"])
        tx.run(f"MATCH (m:{MERGE_LABEL} {{alias: $alias}}) DELETE m", alias=alias).consume()
        w = _Work(tx)
        w.merge_map().pop(alias, None)
        attrs = json.loads(m["node"])
        original = [_fact_from_dict(f) for f in json.loads(m["facts"])]
        changes = json.loads(m["changes"]) if m.get("changes") else None
        canonical = w.resolve(m["canonical"])
        if changes is None:
            changes = _legacy_changes(alias, canonical, attrs, original)
        for c in changes["facts"]:
            s, o = w.resolve(c["s"]), w.resolve(c["o"])
            data = w.fact(s, c["r"], o)
            if data is None:
                continue
            added = {tuple(k) for k in c["p"]}
            data["prov"] = [p for p in data["prov"] if p.key() not in added]
            w.dirty_facts.add(fact_id(s, c["r"], o))
            if c["created"]:
                if not data["prov"]:
                    w.remove_fact(fact_id(s, c["r"], o))
            elif c["c"] is not None:
                data["c"] = c["c"]
        node = w.node(canonical)
        if node is not None:
            dropped = set(changes["aliases"])
            node["aliases"] = [a for a in node["aliases"] if a not in dropped]
            if changes["type"]:
                node["type"] = ""
            w.dirty_nodes.add(canonical)
        w.nodes[alias] = {"id": attrs["id"] if "id" in attrs else alias, "name": attrs["name"],
                          "type": attrs.get("type", ""), "aliases": list(attrs.get("aliases", []))}
        w.deleted_nodes.discard(alias)
        w.dirty_nodes.add(alias)
        for f in original:
            s = alias if f.subject == alias else w.resolve(f.subject)
            o = alias if f.object == alias else w.resolve(f.object)
            for eid in (s, o):
                if w.node(eid) is None:
                    w.nodes[eid] = _new_node(eid, Entity(eid, eid))
                    w.dirty_nodes.add(eid)
            w.add_fact(Fact(s, f.relation, o, f.confidence, f.provenance))
        w.flush()
        return True

    def retract_document(self, doc_id: str) -> int:
        """Remove every provenance from ``doc_id``; facts left without one go, and so do entities they orphan.

        Returns
        -------
        int
            Number of facts removed.
        """
        return self._run("retract document", lambda tx: self._retract_tx(tx, doc_id), write=True)

    def _retract_tx(self, tx: Any, doc_id: str) -> int:
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
        for rec in list(tx.run(f"MATCH (m:{MERGE_LABEL}) RETURN m.alias AS a, m.facts AS f")):
            original = [_fact_from_dict(f) for f in json.loads(rec["f"])]
            kept = [f.with_provenance(p for p in f.provenance if p.doc_id != doc_id) for f in original]
            kept = [f for f in kept if f.provenance]
            if kept != original:
                facts = json.dumps([_fact_to_dict(f) for f in kept], ensure_ascii=False)
                tx.run(f"MATCH (m:{MERGE_LABEL} {{alias: $a}}) SET m.facts = $f", a=rec["a"], f=facts).consume()
        return len(drop)

    # ---------------------------------------------------------------- reads
    def _read(self, operation: str, cypher: str, **params: Any) -> list[dict[str, Any]]:
        return self._run(operation, lambda tx: [r.data() for r in tx.run(cypher, params)], write=False)

    def _resolve_read(self, tx: Any, eid: str) -> str:
        seen = set()
        while eid not in seen:
            seen.add(eid)
            rec = tx.run(f"MATCH (m:{MERGE_LABEL} {{alias: $id}}) RETURN m.canonical AS c", id=eid).single()
            if rec is None:
                break
            eid = rec["c"]
        return eid

    def get_entity(self, entity_id: str) -> Entity | None:
        """The entity ``entity_id`` (following merges), or ``None``."""

        def work(tx: Any) -> Entity | None:
            eid = self._resolve_read(tx, entity_id)
            rec = tx.run(f"MATCH (n:{ENTITY} {{id: $id}}) RETURN n", id=eid).single()
            return _entity_from_props(dict(rec["n"])) if rec else None

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
        exact = sorted(eid for eid, props in candidates.items() if eid not in found
                       and key in {entity_id(n) for n in [props["name"], *(props.get("aliases") or [])]})
        found.extend(exact)
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
        return [_entity_from_props(candidates[eid]) for eid in found[:limit]]

    def entities(self) -> Iterator[Entity]:
        """Every entity (order unspecified)."""
        rows = self._read("list entities", f"MATCH (n:{ENTITY}) RETURN n.id AS id, n.name AS name, "
                                           "n.type AS type, n.aliases AS aliases")
        for r in rows:
            yield _entity_from_props(r)

    def facts(self) -> Iterator[Fact]:
        """Every fact with its provenance (order unspecified)."""
        rows = self._read("list facts", f"MATCH (s:{ENTITY})-[r]->(o:{ENTITY}) RETURN {_FACT_RETURN}")
        for r in rows:
            yield _fact_from_row(r)

    def get_fact(self, fact_id: str) -> Fact | None:
        """The fact with id ``fact_id`` or ``None`` (a scan of the relationships)."""
        rows = self._read("get fact", f"MATCH (s:{ENTITY})-[r]->(o:{ENTITY}) WHERE r.id = $fid "
                                      f"RETURN {_FACT_RETURN} LIMIT 1", fid=fact_id)
        return _fact_from_row(rows[0]) if rows else None

    @staticmethod
    def _incident_many(tx: Any, ids: list[str]) -> dict[str, list[tuple[Fact, dict[str, Any]]]]:
        """For each id: its out-facts then in-facts (self-loops once), with the other end's node."""
        out: dict[str, list[tuple[Fact, dict[str, Any]]]] = {eid: [] for eid in ids}
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
            out[eid].append((_fact_from_row(row), other, not fwd, fid))  # type: ignore[arg-type]
        for eid in out:
            out[eid].sort(key=lambda item: (item[2], item[3]))  # type: ignore[index]
            out[eid] = [(f, other) for f, other, _, _ in out[eid]]  # type: ignore[misc]
        return out

    def neighbors(self, entity_id: str, direction: Direction = "both") -> list[Fact]:
        """Facts touching ``entity_id`` (as subject for ``out``, object for ``in``; order unspecified)."""
        if direction not in ("out", "in", "both"):
            raise InputError(f"direction must be 'out', 'in' or 'both', got {direction!r}")

        def work(tx: Any) -> list[Fact]:
            eid = self._resolve_read(tx, entity_id)
            facts = [f for f, _ in self._incident_many(tx, [eid])[eid]]
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
            resolved = [self._resolve_read(tx, s) for s in seeds]
            known = {r["n"]["id"]: _entity_from_props(dict(r["n"])) for r in tx.run(
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
                    incident.update(self._incident_many(tx, [eid, *level]))
                for fact, other_props in incident[eid]:
                    if fact.id in seen_facts:
                        continue
                    if len(sub.facts) >= limit:
                        return sub
                    seen_facts.add(fact.id)
                    sub.facts.append(fact)
                    other = other_props["id"]
                    known.setdefault(other, _entity_from_props(other_props))
                    if other not in depth:
                        depth[other] = depth[eid] + 1
                        frontier.append(other)
                        sub.entities[other] = known[other]
            return sub

        return self._run("subgraph", work, write=False)

    def paths(self, source: str, target: str, max_hops: int = 3, limit: int = 20) -> list[Path]:
        """Simple paths between two entities, shortest first, edges walked both ways."""

        def work(tx: Any) -> list[Path]:
            src, dst = self._resolve_read(tx, source), self._resolve_read(tx, target)
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
                        facts.append(_fact_from_row({"s": s, "r": rel, "o": o, "c": c, "prov": prov}))
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

        def work(tx: Any) -> dict[str, int]:
            entities = tx.run(f"MATCH (n:{ENTITY}) RETURN count(n) AS n").single()["n"]
            rec = tx.run(f"MATCH (:{ENTITY})-[r]->(:{ENTITY}) RETURN count(r) AS f, count(DISTINCT r.relation) AS r, "
                         "sum(size(r.pkeys)) AS p").single()
            docs = tx.run(f"MATCH (:{ENTITY})-[r]->(:{ENTITY}) UNWIND r.pdocs AS d "
                          "RETURN count(DISTINCT d) AS d").single()["d"]
            merges = tx.run(f"MATCH (m:{MERGE_LABEL}) RETURN count(m) AS m").single()["m"]
            return {"entities": entities, "facts": rec["f"], "relations": rec["r"], "documents": docs,
                    "provenances": rec["p"] or 0, "merges": merges}

        return self._run("stats", work, write=False)

    def query(self, cypher: str, params: dict[str, Any] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Run a read-only Cypher query (memory-store dialect) and return at most ``limit`` rows as dicts.

        Runs in a READ transaction with timeout ``query_timeout``.

        Raises
        ------
        InputError
            The query writes, has a syntax error, misses a parameter or timed out.
        """
        params = dict(params or {})
        _bind_params(cypher, params)  # same parameter checks as the memory store
        if _WRITE_CLAUSE.search(_STRING_LITERAL.sub('""', cypher)):
            raise InputError(f"only read-only Cypher is allowed; this query writes: {cypher!r}")
        text = rewrite_cypher(cypher)

        def work(tx: Any) -> list[dict[str, Any]]:
            rows = []
            result = tx.run(text, params)
            for record in result:
                if len(rows) >= limit:
                    break
                rows.append({k: _plain(v) for k, v in zip(record.keys(), record.values())})
            return rows

        try:
            return self._run("query", work, write=False, timeout=self.query_timeout)
        except InputError as exc:
            raise InputError(f"Cypher query failed: {exc}\n  query: {cypher}") from exc

    # ------------------------------------------------------------ migration
    def clear(self) -> None:
        """Delete every entity, fact and merge record (schema kept)."""

        def work(tx: Any) -> None:
            tx.run(f"MATCH (m:{MERGE_LABEL}) DELETE m").consume()
            while tx.run(f"MATCH (n:{ENTITY}) WITH n LIMIT 10000 DETACH DELETE n RETURN count(*) AS n").single()["n"]:
                pass

        self._run("clear", work, write=True)

    def to_dict(self) -> dict[str, Any]:
        """The whole graph in the memory store's :meth:`~MemoryStore.to_dict` shape (orders unspecified)."""
        merges = self._read("list merges", f"MATCH (m:{MERGE_LABEL}) RETURN m.alias AS alias, m.canonical AS canonical, "
                                           "m.method AS method, m.score AS score, m.doc_id AS doc_id, m.node AS node, "
                                           "m.facts AS facts, m.changes AS changes ORDER BY m.seq")
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "entities": [{"id": e.id, "name": e.name, "type": e.type, "aliases": list(e.aliases)}
                         for e in self.entities()],
            "facts": [_fact_to_dict(f) for f in self.facts()],
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
        }

    def from_dict(self, data: dict[str, Any]) -> None:
        """Add a graph in :meth:`to_dict` shape as it is (for migration into an empty store).

        Entities and facts are written in batches of ``batch_size``; merge records
        keep their undo information.
        """
        entities = [{"id": e["id"], "name": e["name"], "type": e.get("type", ""), "aliases": list(e["aliases"])}
                    for e in data["entities"]]
        for start in range(0, len(entities), self.batch_size):
            batch = entities[start:start + self.batch_size]
            self._run("import entities", lambda tx, b=batch: _write_nodes(tx, b), write=True)
            if self.on_batch:
                self.on_batch("entities", start + len(batch), len(entities))
        facts = []
        for f in data["facts"]:
            fact = _fact_from_dict(f)
            facts.append({"s": fact.subject, "r": fact.relation, "o": fact.object, "c": fact.confidence,
                          "prov": _dedupe_provenance(fact.provenance)})
        for start in range(0, len(facts), self.batch_size):
            batch = facts[start:start + self.batch_size]

            def work(tx: Any, b: list[dict[str, Any]] = batch) -> None:
                ends = sorted({eid for f in b for eid in (f["s"], f["o"])})
                tx.run(f"UNWIND $rows AS row MERGE (n:{ENTITY} {{id: row.id}}) "
                       "ON CREATE SET n.name = row.id, n.type = '', n.aliases = [], n.search = row.search",
                       rows=[{"id": eid, "search": _search_text(eid, eid, ())} for eid in ends]).consume()
                _write_facts_full(tx, b)

            self._run("import facts", work, write=True)
            if self.on_batch:
                self.on_batch("facts", start + len(batch), len(facts))
        records = data.get("merges", [])

        def write_merges(tx: Any) -> None:
            base = tx.run(f"MATCH (m:{MERGE_LABEL}) RETURN coalesce(max(m.seq), 0) AS s").single()["s"]
            rows = [{**item["merge"], "score": float(item["merge"].get("score", 1.0)),
                     "doc_id": item["merge"].get("doc_id", ""), "seq": base + i + 1,
                     "node": json.dumps(item["node"], ensure_ascii=False),
                     "facts": json.dumps(item["facts"], ensure_ascii=False),
                     "changes": json.dumps(item["changes"], ensure_ascii=False) if item.get("changes") is not None
                     else None}
                    for i, item in enumerate(records)]
            tx.run(f"UNWIND $rows AS row MERGE (m:{MERGE_LABEL} {{alias: row.alias}}) "
                   "SET m.canonical = row.canonical, m.method = row.method, m.score = row.score, "
                   "m.doc_id = row.doc_id, m.seq = row.seq, m.node = row.node, m.facts = row.facts, "
                   "m.changes = row.changes", rows=rows).consume()

        if records:
            self._run("import merges", write_merges, write=True)
