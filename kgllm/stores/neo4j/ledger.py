"""The Neo4j store's ledger: document nodes written in the same transaction as their facts, runs, locks.

* ``KgllmDocument {doc_id, source, content_hash, facts, ingested_at, text}``: one per ingested
  document, written by :meth:`LedgerWrites.ingest_documents` in the transaction that
  retracts the document's old facts and writes its new ones (a crash leaves both or neither);
* ``KgllmRun {run_id, job, started_at, record}``: one per job run (``record`` is JSON);
* ``KgllmLock {name, holder, token, acquired_at}``: a named lock; a holder on this host
  whose process is gone (killed) is replaced.

See :mod:`kgllm.stores.ledger` for the contract shared with the memory store.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from dataclasses import replace
from typing import Any, Iterator, Sequence

from kgllm.errors import InputError, NotFoundError, StoreError
from kgllm.stores import merge as merging
from kgllm.stores.base import UpsertResult
from kgllm.stores.delta import fact_from_dict, validate_delta
from kgllm.stores.ledger import (
    RUN_STATUSES, DocumentRecord, RunRecord, document_from_dict, document_to_dict, lock_holder, lock_message,
    new_run_id, record_ids,
    run_from_dict, run_to_dict, utc_now,
)
from kgllm.stores.neo4j.records import DOCUMENT_LABEL, ENTITY, LOCK_LABEL, MERGE_LABEL, RUN_LABEL, bump_revision
from kgllm.stores.neo4j.txgraph import TxGraph
from kgllm.stores.neo4j.writes import Writes, _entities_tx, _facts_tx, _merge_tx, _retract_tx
from kgllm.types import GraphDelta, fact_id

__all__ = ["LedgerWrites"]

_DOC_FIELDS = "d.doc_id AS doc_id, d.source AS source, d.content_hash AS content_hash, d.facts AS facts, " \
              "d.ingested_at AS ingested_at, coalesce(d.text, '') AS text"


class LedgerWrites(Writes):
    """Ledger methods of :class:`~kgllm.stores.neo4j.Neo4jStore` (same behaviour as the memory store's)."""

    def ingest_document(self, record: DocumentRecord, delta: GraphDelta) -> UpsertResult:
        """Replace document ``record.doc_id`` (old facts retracted, ``delta`` and the ledger node written) in one
        transaction; ``record.facts`` is recomputed."""
        return self.ingest_documents([record], delta)

    def ingest_documents(self, records: Sequence[DocumentRecord], delta: GraphDelta) -> UpsertResult:
        """:meth:`ingest_document` for several documents whose facts are in one ``delta`` (one transaction)."""
        validate_delta(delta)
        record_ids(records)
        return self._run("ingest documents", lambda tx: _ingest_tx(tx, records, delta), write=True)

    def document(self, doc_id: str) -> DocumentRecord | None:
        """The ledger node of ``doc_id``, or ``None``."""
        rows = self._read("read document", f"MATCH (d:{DOCUMENT_LABEL} {{doc_id: $id}}) RETURN {_DOC_FIELDS}",
                          id=doc_id)
        return document_from_dict(rows[0]) if rows else None

    def documents(self) -> list[DocumentRecord]:
        """Every ledger node, sorted by document id."""
        rows = self._read("list documents", f"MATCH (d:{DOCUMENT_LABEL}) RETURN {_DOC_FIELDS} ORDER BY d.doc_id")
        return [document_from_dict(r) for r in rows]

    def retract_document(self, doc_id: str) -> int:
        """Remove every provenance from ``doc_id`` and its ledger node; facts left without one go, and entities
        they orphan. Returns the number of facts removed; :class:`~kgllm.errors.NotFoundError` when nothing
        mentions ``doc_id``."""

        def work(tx: Any) -> int:
            if not _known_tx(tx, doc_id):
                raise NotFoundError(f"document {doc_id!r} is not in the graph (kgllm docs list shows the documents)")
            removed = _retract_tx(tx, doc_id)
            tx.run(f"MATCH (d:{DOCUMENT_LABEL} {{doc_id: $id}}) DELETE d", id=doc_id).consume()
            bump_revision(tx)
            return removed

        return self._run("retract document", work, write=True)

    def from_dict(self, data: dict[str, Any]) -> None:
        """Add a graph in the memory store's ``to_dict`` shape as it is, its ledger and runs included."""
        super().from_dict(data)
        docs, runs = list(data.get("documents", ())), list(data.get("runs", ()))
        if docs or runs:
            def work(tx: Any) -> None:
                tx.run(f"UNWIND $rows AS row MERGE (d:{DOCUMENT_LABEL} {{doc_id: row.doc_id}}) SET d += row",
                       rows=[document_to_dict(document_from_dict(d)) for d in docs]).consume()
                tx.run(f"UNWIND $rows AS row MERGE (r:{RUN_LABEL} {{run_id: row.run_id}}) "
                       "SET r.job = row.job, r.started_at = row.started_at, r.record = row.record",
                       rows=[{"run_id": r["run_id"], "job": r["job"], "started_at": r["started_at"],
                              "record": json.dumps(run_to_dict(run_from_dict(r)), ensure_ascii=False)}
                             for r in runs]).consume()
                bump_revision(tx)

            self._run("import ledger", work, write=True)

    def clear(self) -> None:
        """Delete every entity, fact, merge record and ledger node (locks and schema kept)."""
        super().clear()
        self._run("clear ledger", lambda tx: tx.run(
            f"MATCH (n) WHERE n:{DOCUMENT_LABEL} OR n:{RUN_LABEL} DELETE n").consume(), write=True)

    # --------------------------------------------------------------------- runs
    def begin_run(self, job: str) -> RunRecord:
        """Record the start of a run of ``job`` (status ``running``) and return it."""
        if not job:
            raise InputError("begin_run needs a job name")
        run = RunRecord(new_run_id(), job, utc_now(), None, "running")
        self._put_run(run)
        return run

    def end_run(self, run: RunRecord) -> None:
        """Write the final state of ``run`` (``ended_at`` set to now when empty)."""
        if run.status not in RUN_STATUSES:
            raise InputError(f"run status must be one of {', '.join(RUN_STATUSES)}, got {run.status!r}")
        self._put_run(run if run.ended_at or run.status == "running" else replace(run, ended_at=utc_now()))

    def _put_run(self, run: RunRecord) -> None:
        self._run("record run", lambda tx: tx.run(
            f"MERGE (r:{RUN_LABEL} {{run_id: $id}}) SET r.job = $job, r.started_at = $start, r.record = $rec",
            id=run.run_id, job=run.job, start=run.started_at,
            rec=json.dumps(run_to_dict(run), ensure_ascii=False)).consume(), write=True)

    def runs(self, job: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Recorded runs (of ``job`` when given), newest first, at most ``limit``."""
        rows = self._read("list runs", f"MATCH (r:{RUN_LABEL}) WHERE $job IS NULL OR r.job = $job "
                                       "RETURN r.record AS rec ORDER BY r.started_at DESC, r.run_id DESC LIMIT $n",
                          job=job, n=int(limit))
        return [run_from_dict(json.loads(r["rec"])) for r in rows]

    # -------------------------------------------------------------------- locks
    @contextlib.contextmanager
    def lock(self, name: str, timeout: float = 0.0) -> Iterator[None]:
        """Hold the named lock (a ``KgllmLock`` node) for the block; wait up to ``timeout`` seconds for it.

        Raises :class:`~kgllm.errors.StoreError` naming the holder when it is not released in time.
        """
        token = uuid.uuid4().hex
        me = lock_holder()
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            holder = self._run("take lock", lambda tx: _take_lock_tx(tx, name, token, me), write=True)
            if holder is None:
                break
            if time.monotonic() >= deadline:
                raise StoreError(lock_message(name, self.uri or "the Neo4j store", holder))
            time.sleep(0.1)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self._run("release lock", lambda tx: tx.run(
                    f"MATCH (l:{LOCK_LABEL} {{name: $name, token: $token}}) DELETE l",
                    name=name, token=token).consume(), write=True)


def _ingest_tx(tx: Any, records: Sequence[DocumentRecord], delta: GraphDelta) -> UpsertResult:
    for r in records:
        _retract_tx(tx, r.doc_id)
    merged = TxGraph(tx).merge_map()
    merges = list(delta.merges)
    if merges:
        ids = sorted({eid for m in merges for eid in (m.alias, m.canonical, merging.follow_merges(merged, m.alias),
                                                        merging.follow_merges(merged, m.canonical))})
        have = {r["id"] for r in tx.run(f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}}) RETURN n.id AS id",
                                        ids=ids)}
        merges = merging.drop_dangling_merges(delta, merged, have.__contains__).merges

    def resolve(eid: str) -> str:
        return merging.follow_merges(merged, eid)

    added_e = _entities_tx(tx, list(delta.entities), resolve) if delta.entities else 0
    e = f = p = 0
    if delta.facts:
        e, f, p = _facts_tx(tx, list(delta.facts), resolve)
    applied = sum(_merge_tx(tx, m) for m in merges)
    final = TxGraph(tx).merge_map()
    now = utc_now()
    rows = []
    for r in records:
        ids = {fact_id(merging.follow_merges(final, x.subject), x.relation, merging.follow_merges(final, x.object))
               for x in delta.facts if any(pv.doc_id == r.doc_id for pv in x.provenance)}
        rows.append({"doc_id": r.doc_id, "source": r.source, "content_hash": r.content_hash, "facts": len(ids),
                     "ingested_at": r.ingested_at or now, "text": r.text})
    tx.run(f"UNWIND $rows AS row MERGE (d:{DOCUMENT_LABEL} {{doc_id: row.doc_id}}) "
           "SET d.source = row.source, d.content_hash = row.content_hash, d.facts = row.facts, "
           "d.ingested_at = row.ingested_at, d.text = row.text", rows=rows).consume()
    bump_revision(tx)
    return UpsertResult(added_e + e, f, p, applied)


def _known_tx(tx: Any, doc_id: str) -> bool:
    if tx.run(f"MATCH (d:{DOCUMENT_LABEL} {{doc_id: $id}}) RETURN count(d) AS n", id=doc_id).single()["n"]:
        return True
    if tx.run(f"MATCH (:{ENTITY})-[r]->(:{ENTITY}) WHERE $id IN r.pdocs RETURN r LIMIT 1", id=doc_id).single():
        return True
    for rec in tx.run(f"MATCH (m:{MERGE_LABEL}) RETURN m.facts AS f"):
        if any(p.doc_id == doc_id for f in json.loads(rec["f"]) for p in fact_from_dict(f).provenance):
            return True
    return False


def _take_lock_tx(tx: Any, name: str, token: str, me: str) -> str | None:
    """Take lock ``name`` if free (or held by a dead process on this host); else return its holder."""
    rec = tx.run(f"MERGE (l:{LOCK_LABEL} {{name: $name}}) RETURN l.holder AS holder, l.token AS token",
                 name=name).single()
    holder = rec["holder"]
    if holder and rec["token"] != token and not _dead_here(holder):
        return holder
    tx.run(f"MATCH (l:{LOCK_LABEL} {{name: $name}}) SET l.holder = $me, l.token = $token, l.acquired_at = $at",
           name=name, me=me, token=token, at=utc_now()).consume()
    return None


def _dead_here(holder: str) -> bool:
    """Whether ``holder`` (``pid N on HOST``) names a process of this host that no longer runs."""
    parts = holder.split()
    if len(parts) != 4 or parts[0] != "pid" or parts[2] != "on" or parts[3] != socket.gethostname():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False
