"""The document ledger and run records: what was ingested, from where, with which content, and by which runs.

Every store (the memory store, durable on a SQLite file, and the Neo4j store) keeps,
next to the facts and **in the same transaction** as them:

* one :class:`DocumentRecord` per ingested document (id, source, content hash, facts
  it produced, when), written by :meth:`ingest_document` together with the document's
  facts, so a crash leaves both or neither;
* one :class:`RunRecord` per job run (:meth:`begin_run` / :meth:`end_run`).

The store methods (on :class:`~kgllm.stores.memory.MemoryStore` and
:class:`~kgllm.stores.neo4j.Neo4jStore`)::

    store.ingest_document(record, delta) -> UpsertResult   # one transaction: retract old facts, write delta + row
    store.document(doc_id) -> DocumentRecord | None
    store.documents() -> list[DocumentRecord]              # sorted by doc_id
    store.retract_document(doc_id) -> int                  # drops the row too; NotFoundError if unknown
    store.begin_run(job) -> RunRecord
    store.end_run(run) -> None
    store.runs(job=None, limit=50) -> list[RunRecord]      # newest first
    store.lock(name, timeout) -> context manager           # cross-process; StoreError naming the holder's pid

:func:`canonical_dump` prints a store's whole content in one canonical text (sorted,
without timestamps) so two stores built differently can be compared.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta, Provenance
>>> store = MemoryStore()
>>> rec = DocumentRecord("d1", "notes/a.txt", content_hash("Ada was born in Tromso."))
>>> delta = GraphDelta(facts=[Fact("ada", "born_in", "tromso", provenance=(Provenance("d1"),))])
>>> store.ingest_document(rec, delta).facts_added
1
>>> [(d.doc_id, d.facts) for d in store.documents()]
[('d1', 1)]
>>> store.retract_document("d1"), store.documents()
(1, [])
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Sequence

from kgllm.errors import InputError

__all__ = ["DocumentRecord", "RunRecord", "RUN_STATUSES", "content_hash", "utc_now", "new_run_id",
           "document_to_dict", "document_from_dict", "run_to_dict", "run_from_dict", "canonical_dump",
           "lock_message"]

RUN_STATUSES = ("running", "ok", "failed", "interrupted")
"""The values :attr:`RunRecord.status` takes."""


@dataclass(frozen=True)
class DocumentRecord:
    """One ingested document in the ledger.

    ``facts`` is recomputed by the store from what was written (the number of facts
    that carry a provenance of ``doc_id``); ``ingested_at`` is ISO-8601 UTC and set by
    the store when empty. ``text`` is the document's text as ingested (``""`` when it was
    not kept): answers read and cite its sentences, not only those a fact came from.

    >>> DocumentRecord("d1", "a.txt", "sha256:00").facts
    0
    """

    doc_id: str
    source: str
    content_hash: str
    facts: int = 0
    ingested_at: str = ""
    text: str = field(default="", repr=False)


@dataclass(frozen=True)
class RunRecord:
    """One run of a job: start, end, status (one of :data:`RUN_STATUSES`), counts and per-document errors.

    >>> r = RunRecord("r1", "nightly", "2026-01-01T00:00:00Z", None, "running")
    >>> r.status, r.counts, r.errors
    ('running', {}, ())
    """

    run_id: str
    job: str
    started_at: str
    ended_at: str | None
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    errors: tuple[dict[str, str], ...] = ()


def content_hash(text: str | bytes) -> str:
    """``sha256:<hex>`` of ``text`` (UTF-8 encoded when a string): the ledger's change detector.

    >>> content_hash("abc")[:15]
    'sha256:ba7816bf'
    """
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def utc_now() -> str:
    """Now as ISO-8601 UTC with microseconds and a ``Z``, e.g. ``2026-11-29T11:00:00.000000Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_run_id() -> str:
    """A unique run id that sorts by time: ``<UTC timestamp>-<8 hex>``."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:8]


def document_to_dict(d: DocumentRecord) -> dict[str, Any]:
    """A ledger row as a JSON-able dict (inverse :func:`document_from_dict`)."""
    return asdict(d)


def document_from_dict(d: dict[str, Any]) -> DocumentRecord:
    """Inverse of :func:`document_to_dict`.

    >>> r = DocumentRecord("d1", "a.txt", "sha256:00", 2, "2026-01-01T00:00:00Z", "Ada was born in Oslo.")
    >>> document_from_dict(document_to_dict(r)) == r
    True
    """
    return DocumentRecord(str(d["doc_id"]), str(d["source"]), str(d["content_hash"]), int(d["facts"]),
                          str(d["ingested_at"]), str(d.get("text") or ""))


def run_to_dict(r: RunRecord) -> dict[str, Any]:
    """A run record as a JSON-able dict (inverse :func:`run_from_dict`)."""
    return {"run_id": r.run_id, "job": r.job, "started_at": r.started_at, "ended_at": r.ended_at,
            "status": r.status, "counts": dict(r.counts), "errors": [dict(e) for e in r.errors]}


def run_from_dict(d: dict[str, Any]) -> RunRecord:
    """Inverse of :func:`run_to_dict`.

    >>> r = RunRecord("r1", "j", "t0", "t1", "ok", {"documents": 2}, ({"doc_id": "d", "error": "bad"},))
    >>> run_from_dict(run_to_dict(r)) == r
    True
    """
    return RunRecord(str(d["run_id"]), str(d["job"]), str(d["started_at"]), d.get("ended_at"), str(d["status"]),
                     {str(k): int(v) for k, v in (d.get("counts") or {}).items()},
                     tuple({str(k): str(v) for k, v in e.items()} for e in (d.get("errors") or ())))


def lock_message(name: str, where: str, holder: str) -> str:
    """The message of the :class:`~kgllm.errors.StoreError` a second writer gets.

    >>> lock_message("build", "g.sqlite", "pid 42 on host1")
    "g.sqlite is being written by another process (pid 42 on host1; lock 'build'); try again when it has finished"
    """
    return (f"{where} is being written by another process ({holder}; lock {name!r}); "
            "try again when it has finished")


def lock_holder() -> str:
    """This process as a lock holder: ``pid N on HOST``."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


def canonical_dump(store: Any) -> str:
    """The store's whole content as one canonical text: equal for stores holding the same graph and ledger.

    Sorted entities (id, name, type, sorted aliases), facts with sorted provenance,
    merges (alias, canonical, method, score, doc) and ledger rows without timestamps.
    Runs are left out (they differ between an interrupted and an uninterrupted build).

    >>> from kgllm.stores.memory import MemoryStore
    >>> from kgllm.types import Fact, GraphDelta
    >>> a, b = MemoryStore(), MemoryStore()
    >>> _ = a.upsert(GraphDelta(facts=[Fact("x", "r", "y"), Fact("y", "r", "z")]))
    >>> _ = b.upsert(GraphDelta(facts=[Fact("y", "r", "z"), Fact("x", "r", "y")]))
    >>> canonical_dump(a) == canonical_dump(b)
    True
    """
    lines: list[str] = []
    for e in sorted(store.entities(), key=lambda e: e.id):
        lines.append("E " + json.dumps([e.id, e.name, e.type, sorted(e.aliases)], ensure_ascii=False))
    for f in sorted(store.facts(), key=lambda f: (f.subject, f.relation, f.object)):
        prov = sorted(json.dumps(p.to_dict(), sort_keys=True, ensure_ascii=False) for p in f.provenance)
        lines.append("F " + json.dumps([f.subject, f.relation, f.object, round(f.confidence, 9), prov],
                                       ensure_ascii=False))
    for m in sorted(store.merges(), key=lambda m: m.alias):
        lines.append("M " + json.dumps([m.alias, m.canonical, m.method, m.score, m.doc_id], ensure_ascii=False))
    documents = getattr(store, "documents", None)
    for d in (documents() if callable(documents) else []):
        row = replace(d, ingested_at="")
        lines.append("D " + json.dumps(document_to_dict(row), sort_keys=True, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def record_ids(records: Sequence[DocumentRecord]) -> list[str]:
    """The ids of ``records`` for one ingest, checked: each a :class:`DocumentRecord` with an id, none twice.

    >>> record_ids([DocumentRecord("a", "a.txt", "h1"), DocumentRecord("b", "b.txt", "h2")])
    ['a', 'b']
    """
    if not all(isinstance(r, DocumentRecord) and r.doc_id for r in records):
        raise InputError(f"ingest_documents expects DocumentRecord objects with an id, got {list(records)!r}")
    ids = [r.doc_id for r in records]
    if len(set(ids)) != len(ids):
        raise InputError(f"a document id appears twice in one ingest: {sorted(i for i in ids if ids.count(i) > 1)}")
    return ids
