"""The memory store's ledger: documents ingested with their facts in one write, retraction, runs, locks.

Mixed into :class:`~kgllm.stores.memory.MemoryStore`; every write goes through the
store's ``_write`` (one SQLite transaction on a durable store). See
:mod:`kgllm.stores.ledger` for the records and the contract.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence, TypeVar

from kgllm.errors import InputError, NotFoundError
from kgllm.stores import merge as merging
from kgllm.stores.base import UpsertResult
from kgllm.stores.delta import validate_delta
from kgllm.stores.ledger import RUN_STATUSES, DocumentRecord, RunRecord, new_run_id, record_ids, utc_now
from kgllm.stores.locks import file_lock, local_lock
from kgllm.types import GraphDelta

if TYPE_CHECKING:
    from kgllm.stores.memory.graph import NxGraph
    from kgllm.stores.memory.sqlgraph import SqlGraph

__all__ = ["LedgerMethods"]

T = TypeVar("T")


class LedgerMethods:
    """Ledger methods of the memory store (needs ``_graph``, ``_write``, ``_upsert`` and ``_path``)."""

    _graph: "NxGraph | SqlGraph"
    _path: Path | None

    def _write(self, fn: Callable[[], T]) -> T:  # pragma: no cover - provided by MemoryStore
        raise NotImplementedError

    def _upsert(self, delta: GraphDelta) -> UpsertResult:  # pragma: no cover - provided by MemoryStore
        raise NotImplementedError

    # ---------------------------------------------------------------- documents
    def ingest_document(self, record: DocumentRecord, delta: GraphDelta) -> UpsertResult:
        """Replace document ``record.doc_id``: retract its previous facts, write ``delta`` and its ledger row.

        One transaction on a durable store (a crash leaves both or neither).
        ``record.facts`` is recomputed (facts carrying a provenance of the document)
        and ``ingested_at`` is set to now when empty.

        >>> from kgllm.stores.memory import MemoryStore
        >>> from kgllm.types import Fact, Provenance
        >>> store = MemoryStore()
        >>> old = GraphDelta(facts=[Fact("ada", "born_in", "oslo", provenance=(Provenance("d1"),))])
        >>> new = GraphDelta(facts=[Fact("ada", "born_in", "tromso", provenance=(Provenance("d1"),))])
        >>> _ = store.ingest_document(DocumentRecord("d1", "a.txt", "sha256:1"), old)
        >>> _ = store.ingest_document(DocumentRecord("d1", "a.txt", "sha256:2"), new)
        >>> [f.as_line() for f in store.facts()], store.document("d1").content_hash
        (['ada --born_in--> tromso'], 'sha256:2')
        """
        return self.ingest_documents([record], delta)

    def ingest_documents(self, records: Sequence[DocumentRecord], delta: GraphDelta) -> UpsertResult:
        """:meth:`ingest_document` for several documents whose facts are in one ``delta`` (one transaction)."""
        validate_delta(delta)
        ids = record_ids(records)

        def work() -> UpsertResult:
            graph = self._graph
            for doc_id in ids:
                if graph.knows_document(doc_id):
                    self._retract(doc_id)
            result = self._upsert(merging.drop_dangling_merges(delta, graph.merge_map(), graph.has))
            now = utc_now()
            for r in records:
                graph.put_document(replace(r, facts=graph.doc_fact_count(r.doc_id), ingested_at=r.ingested_at or now))
            return result

        return self._write(work)

    def document(self, doc_id: str) -> DocumentRecord | None:
        """The ledger row of ``doc_id`` with the document's text, or ``None``."""
        return self._graph.document(doc_id)

    def documents(self) -> list[DocumentRecord]:
        """Every ledger row, sorted by document id (on a SQLite file each text is read when first asked for)."""
        return self._graph.document_list()

    def retract_document(self, doc_id: str) -> int:
        """Remove every provenance from ``doc_id`` and its ledger row; facts left without one go, and entities
        they orphan.

        Returns
        -------
        int
            Number of facts removed.

        Raises
        ------
        NotFoundError
            No ledger row, fact or merge record mentions ``doc_id``.
        """
        if not self._knows(doc_id):
            raise NotFoundError(f"document {doc_id!r} is not in the graph (kgllm docs list shows the documents)")
        return self._write(lambda: self._retract(doc_id))

    def _knows(self, doc_id: str) -> bool:
        graph = self._graph
        return graph.knows_document(doc_id) or any(
            any(p.doc_id == doc_id for f in u.facts for p in f.provenance) for _, u in graph.undo_items())

    def _retract(self, doc_id: str) -> int:
        graph = self._graph
        removed = 0
        touched: set[str] = set()
        for fact in graph.doc_facts(doc_id):
            kept = [p for p in fact.provenance if p.doc_id != doc_id]
            if kept:
                graph.put_fact(fact.with_provenance(kept))
            else:
                graph.remove_fact(fact)
                touched.update((fact.subject, fact.object))
                removed += 1
        for eid in sorted(touched):
            if graph.has(eid) and graph.degree(eid) == 0:
                graph.delete_node(eid)
        for merge, undo in graph.undo_items():
            kept_facts = merging.strip_document(undo.facts, doc_id)
            if kept_facts != undo.facts:
                graph.set_undo(merge.alias, merging.Undo(undo.node, kept_facts, undo.changes))
        if graph.document(doc_id) is not None:
            graph.put_document(None, doc_id)
        return removed

    # --------------------------------------------------------------------- runs
    def begin_run(self, job: str) -> RunRecord:
        """Record the start of a run of ``job`` (status ``running``) and return it."""
        if not job:
            raise InputError("begin_run needs a job name")
        run = RunRecord(new_run_id(), job, utc_now(), None, "running")
        self._write(lambda: self._graph.put_run(run))
        return run

    def end_run(self, run: RunRecord) -> None:
        """Write the final state of ``run`` (``ended_at`` set to now when empty)."""
        if run.status not in RUN_STATUSES:
            raise InputError(f"run status must be one of {', '.join(RUN_STATUSES)}, got {run.status!r}")
        final = run if run.ended_at or run.status == "running" else replace(run, ended_at=utc_now())
        self._write(lambda: self._graph.put_run(final))

    def runs(self, job: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Recorded runs (of ``job`` when given), newest first, at most ``limit``."""
        found = [r for r in self._graph.run_list() if job is None or r.job == job]
        found.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
        return found[:limit]

    @contextlib.contextmanager
    def lock(self, name: str, timeout: float = 0.0) -> Iterator[None]:
        """Hold the cross-process lock ``name`` on this store's file (see :func:`~kgllm.stores.locks.file_lock`).

        A store without a file locks within this process only.
        """
        if self._path is not None:
            with file_lock(self._path, name, timeout):
                yield
        else:
            with local_lock(f"memory store {id(self):x}", name, timeout):
                yield

