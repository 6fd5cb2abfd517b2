"""Run a job: extract only new or changed documents, retract changed and deleted ones, record the run.

A run holds the store's ``writer`` lock (a second job on the same store waits ``lock_timeout`` seconds, then
refuses with a message naming the holder), compares the sources' content hashes with the ledger, retracts the
documents that are gone, and ingests each new or changed document **in one transaction with its ledger row**
(:meth:`ingest_document`), in source order. Killed at any moment, a run leaves committed documents complete
and the rest untouched, and the next run picks up where it stopped: the graph ends as an uninterrupted run's.

A document that cannot be read or extracted is recorded in the run's errors and skipped (whatever it had
contributed before stays); ``fail_fast`` stops the run at the first one instead.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> (folder / "texts").mkdir()
>>> _ = (folder / "texts" / "a.txt").write_text("Claire Martin was born in Lyon.")
>>> _ = (folder / "job.yaml").write_text("sources:\\n  - folder: texts\\nstore: graph.sqlite\\n")
>>> job = Job.from_file(folder / "job.yaml")
>>> run = job.run()
>>> run.status, run.counts["new"], run.counts["facts"]
('ok', 1, 1)
>>> job.run().counts["unchanged"]  # nothing changed: nothing extracted
1
>>> [r.status for r in job.history()]
['ok', 'ok']
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from kgllm.errors import KgllmError, StoreError
from kgllm.jobs.logs import RunProgress, event
from kgllm.jobs.pipeline import DocResult, Finisher, combine
from kgllm.jobs.sources import Plan, Unit, owns, scan_sources
from kgllm.jobs.spec import JobSpec, load_spec, parse_spec
from kgllm.stores.ledger import DocumentRecord, RunRecord, utc_now
from kgllm.types import Document, GraphDelta

__all__ = ["Job", "LOCK_NAME"]

LOCK_NAME = "writer"
"""The store lock every job run holds while it writes."""


class Job:
    """A job spec bound to its store; :meth:`run` it, or ask its :meth:`status` and :meth:`history`.

    ``store`` (an open store) and ``extractor`` (any :class:`~kgllm.extract.base.Extractor`) replace what the
    spec names, for tests and embedding.
    """

    def __init__(self, spec: JobSpec, store: Any = None, extractor: Any = None) -> None:
        self.spec = spec
        self._store = store
        self._extractor = extractor
        self._finisher: Optional[Finisher] = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> "Job":
        """The job of a YAML spec file (validated: see :func:`~kgllm.jobs.spec.load_spec`)."""
        return cls(load_spec(path), **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: str | os.PathLike[str] = ".", **kwargs: Any) -> "Job":
        """The job of a spec given as a dict; relative paths are read relative to ``base``."""
        return cls(parse_spec(data, base=Path(base), default_name=str(data.get("name") or "job")), **kwargs)

    @property
    def name(self) -> str:
        """The job's name (the spec's ``name``, else the spec file's stem)."""
        return self.spec.name

    # ------------------------------------------------------------------------------------------- store
    @contextlib.contextmanager
    def open_store(self) -> Iterator[Any]:
        """The job's store (the one given to the constructor, or the spec's: a SQLite file, made when missing,
        or a Neo4j connection), closed after unless it was given."""
        if self._store is not None:
            yield self._store
            return
        settings = self.spec.store
        if settings.path is not None:
            from kgllm.stores.detect import check_graph_file
            from kgllm.stores.memory import MemoryStore

            if settings.path.is_file() and settings.path.stat().st_size:
                check_graph_file(settings.path)   # any other file is refused, saying what it holds
            settings.path.parent.mkdir(parents=True, exist_ok=True)
            store = MemoryStore.open(settings.path, create=True)
        else:
            from kgllm.stores.neo4j import Neo4jStore

            password = settings.password()
            store = Neo4jStore.connect(settings.uri, auth=(settings.user, password) if password else None,
                                       database=settings.database)
        try:
            yield store
        finally:
            store.close()

    # --------------------------------------------------------------------------------------------- run
    def run(self, progress: bool = False, fail_fast: Optional[bool] = None, lock_timeout: Optional[float] = None,
            stop: Optional[threading.Event] = None,
            on_document: Optional[Callable[[str, int], None]] = None) -> RunRecord:
        """Run the job once and return its record (status ``ok``, ``failed`` or ``interrupted``).

        Parameters
        ----------
        progress : bool
            Show a progress bar (documents, facts, rate, ETA) on stderr.
        fail_fast : bool, optional
            Stop at the first document that fails (default: the spec's ``fail_fast``).
        lock_timeout : float, optional
            Seconds to wait for another job writing the same store (default: the spec's ``lock_timeout``).
        stop : threading.Event, optional
            Set it to end the run after the document being written (status ``interrupted``).
        on_document : callable, optional
            Called with ``(doc_id, facts)`` after each document is committed.

        Raises
        ------
        StoreError
            Another process holds the store's writer lock (the message names it); nothing was done.
        """
        fail_fast = self.spec.fail_fast if fail_fast is None else fail_fast
        wait = self.spec.lock_timeout if lock_timeout is None else lock_timeout
        with self.open_store() as store:
            try:
                lock = store.lock(LOCK_NAME, wait)
                lock.__enter__()
            except StoreError as exc:
                event("run_refused", job=self.name, store=self.spec.store.where, reason=str(exc))
                raise
            try:
                refresh = getattr(store, "refresh", None)
                if callable(refresh):  # what was written while we waited for the lock (a run that finished)
                    refresh()
                return self._run(store, progress, fail_fast, stop, on_document)
            finally:
                lock.__exit__(None, None, None)

    def _run(self, store: Any, progress: bool, fail_fast: bool, stop: Optional[threading.Event],
             on_document: Optional[Callable[[str, int], None]]) -> RunRecord:
        for stale in store.runs(self.name, limit=1000):
            if stale.status == "running":  # its process died holding nothing: we hold the lock now
                store.end_run(replace(stale, status="interrupted", ended_at=utc_now()))
                event("run_marked_interrupted", job=self.name, run_id=stale.run_id)
        run = store.begin_run(self.name)
        started = time.perf_counter()
        counts: dict[str, int] = {"documents": 0, "facts": 0, "retracted_facts": 0, "failed": 0}
        errors: list[dict[str, str]] = []
        status = "ok"
        event("run_started", job=self.name, run_id=run.run_id, store=self.spec.store.where)
        try:
            plan = Plan(scan_sources(self.spec.sources, self.spec.base), {r.doc_id: r for r in store.documents()},
                        self.spec)
            counts.update(plan.counts())
            counts["documents"] = sum(plan.counts()[k] for k in ("new", "changed", "unchanged", "unreadable",
                                                                  "duplicate"))
            for unit, twin in plan.duplicates:
                event("document_duplicate", job=self.name, run_id=run.run_id, doc_id=unit.doc_id, same_as=twin)

            if self._finisher is not None:
                self._finisher.start()

            def fail(doc_id: str, error: str) -> None:
                errors.append({"doc_id": doc_id, "error": error})
                counts["failed"] += 1
                event("document_failed", level=30, job=self.name, run_id=run.run_id, doc_id=doc_id, error=error)
                if fail_fast:
                    raise _FailFast(f"{doc_id}: {error}")

            for unit in plan.failed:
                fail(unit.doc_id, unit.error or "unreadable")
            if plan.deleted:
                plan = self._rebuild(store, plan, run, counts, stop)
            # a text's place among the sources' texts (unreadable ones included, knowledge bases not), as
            # `kgllm build --batch-size` counts them: the same folder and settings give the same groups and graph
            position = {id(u): i for i, u in enumerate(u for u in plan.units if u.kind != "kb")}
            bar = RunProgress(len(plan.pending), enabled=progress)
            group: list[tuple[Unit, GraphDelta, str]] = []
            key: Any = None
            try:
                for unit, result in self._extracted(plan.pending):
                    # documents are written in groups fixed by their place in the sources (batch_size
                    # consecutive documents), one transaction each: a killed run's rerun groups them the same
                    next_key = ("kb", unit.doc_id) if unit.kind == "kb" else position[id(unit)] // self.spec.batch_size
                    if next_key != key and group:
                        self._commit(store, group, run, counts, bar, on_document)
                        group = []
                    key = next_key
                    if stop is not None and stop.is_set():
                        raise _Stopped()
                    if result.error is not None:
                        fail(unit.doc_id, result.error)
                        bar.advance()
                        continue
                    group.append((unit, result.delta, result.text))
                if group:
                    self._commit(store, group, run, counts, bar, on_document)
            finally:
                bar.close()
        except _FailFast:
            status = "failed"
        except (_Stopped, KeyboardInterrupt):
            status = "interrupted"
        except Exception as exc:  # noqa: BLE001 - recorded on the run, then raised
            errors.append({"doc_id": "", "error": f"{type(exc).__name__}: {exc}"})
            self._end(store, run, "failed", counts, errors, started)
            raise
        return self._end(store, run, status, counts, errors, started)

    def _rebuild(self, store: Any, plan: Plan, run: RunRecord, counts: dict[str, int],
                 stop: Optional[threading.Event]) -> Plan:
        """Documents were deleted: take the job's documents and their merges out of the store and plan them all
        again, so the graph ends as a fresh build of what the sources hold now.

        A deleted document may have shaped what stays: an entity's name or type, a merge, or a merge it kept from
        happening ("I. Brandt" fitting two people), so retracting its facts alone would not be enough. The merges
        go first, then the other documents, the deleted ones last: a run killed on the way finds deleted documents
        still in the ledger and rebuilds again. Documents that could not be read this time are kept as they are.
        """
        deleted = {r.doc_id for r in plan.deleted}
        kept = {u.doc_id for u in plan.failed}
        mine = {r.doc_id for r in plan.ledger.values()
                if owns(self.spec.sources, r.source, self.spec.base) and r.doc_id not in kept}
        event("rebuild_started", job=self.name, run_id=run.run_id, deleted=sorted(deleted), documents=len(mine))
        for merge in reversed(store.merges()):
            if merge.doc_id in mine:
                if stop is not None and stop.is_set():
                    raise _Stopped()
                store.unmerge(merge.alias)
        for doc_id in sorted(mine - deleted) + sorted(deleted):
            if stop is not None and stop.is_set():
                raise _Stopped()
            removed = store.retract_document(doc_id)
            if doc_id in deleted:
                counts["retracted_facts"] += removed
                event("document_retracted", job=self.name, run_id=run.run_id, doc_id=doc_id)
        fresh = Plan(plan.scan, {r.doc_id: r for r in store.documents()}, self.spec)
        counts["rebuilt"] = len(fresh.pending)
        return fresh

    def _end(self, store: Any, run: RunRecord, status: str, counts: dict[str, int], errors: list[dict[str, str]],
             started: float) -> RunRecord:
        final = replace(run, status=status, ended_at=utc_now(), counts=dict(counts), errors=tuple(errors))
        store.end_run(final)
        event("run_finished", job=self.name, run_id=run.run_id, status=status, counts=counts,
              errors=len(errors), seconds=round(time.perf_counter() - started, 3))
        return final

    def _commit(self, store: Any, group: list[tuple[Unit, GraphDelta, str]], run: RunRecord, counts: dict[str, int],
                bar: RunProgress, on_document: Optional[Callable[[str, int], None]]) -> None:
        """Resolve a group's documents together and write them with their ledger rows in one transaction."""
        records = [DocumentRecord(u.doc_id, u.source, u.content_hash, text=text) for u, _, text in group]
        if group[0][0].kind == "kb":
            delta = group[0][1]
        else:
            delta = self._finish(combine([d for _, d, _ in group]), store)
        if len(records) == 1 or not hasattr(store, "ingest_documents"):
            store.ingest_document(records[0], delta)
        else:
            store.ingest_documents(records, delta)
        if self._finisher is not None:
            self._finisher.written(store, delta)
        counts["facts"] += len(delta.facts)
        bar.advance(docs=len(group), facts=len(delta.facts))
        for unit, own, _ in group:
            event("document_ingested", job=self.name, run_id=run.run_id, doc_id=unit.doc_id, facts=len(own.facts))
            if on_document is not None:
                on_document(unit.doc_id, len(own.facts))

    def _extracted(self, pending: list[Unit]) -> Iterator[tuple[Unit, DocResult]]:
        """Each pending unit with its extraction (knowledge bases read as they are), in order; texts are loaded
        and extracted ``batch_size`` at a time."""
        size = self.spec.batch_size
        loaded: deque = deque()

        def feed() -> Iterator[list[Document]]:
            for i in range(0, len(pending), size):
                items: list[tuple[Unit, Any]] = []
                for unit in pending[i:i + size]:
                    try:
                        items.append((unit, unit.load()))
                    except (KgllmError, OSError, ValueError) as exc:
                        items.append((unit, DocResult(unit.doc_id, GraphDelta(), f"{type(exc).__name__}: {exc}")))
                loaded.append(items)
                yield [x for _, x in items if isinstance(x, Document)]

        executor = self._executor() if any(u.kind == "text" for u in pending) else None
        try:
            for results in (executor.map(feed()) if executor is not None else ([] for _ in feed())):
                by_id = {r.doc_id: r for r in results}
                for unit, x in loaded.popleft():
                    if isinstance(x, Document):
                        found = by_id.get(x.id) or DocResult(x.id, GraphDelta(), "the extractor lost it")
                        found.text = x.text
                        yield unit, found
                    else:
                        yield unit, x if isinstance(x, DocResult) else DocResult(unit.doc_id, x)
        finally:
            if executor is not None:
                executor.close()

    def _executor(self) -> Any:
        from kgllm.jobs.executors import LocalExecutor, make_executor

        if self._extractor is not None:
            return LocalExecutor(self._extractor)
        return make_executor(self.spec.executor, self.spec.extractor)

    def _finish(self, delta: GraphDelta, store: Any) -> GraphDelta:
        if self._finisher is None:
            self._finisher = Finisher(self.spec.extractor)
        return self._finisher.finish(delta, store)

    # ---------------------------------------------------------------------------------- status, history
    def history(self, limit: int = 20) -> list[RunRecord]:
        """The job's recorded runs, newest first."""
        with self.open_store() as store:
            return store.runs(self.name, limit=limit)

    def status(self) -> dict[str, Any]:
        """The job's state: store, schedule and next run, last run, documents in the ledger, pending changes."""
        with self.open_store() as store:
            runs = store.runs(self.name, limit=1)
            ledger = {r.doc_id: r for r in store.documents()}
            try:
                with store.lock(LOCK_NAME, 0):
                    writing = None
            except StoreError as exc:
                writing = str(exc)
        plan = Plan(scan_sources(self.spec.sources, self.spec.base), ledger, self.spec)
        mine = [r for r in ledger.values() if owns(self.spec.sources, r.source, self.spec.base)]
        return {
            "job": self.name, "spec": str(self.spec.file or ""), "store": self.spec.store.where,
            "executor": self.spec.executor.kind, "schedule": self.spec.schedule, "next_run": self.next_run(),
            "last_run": None if not runs else _run_dict(runs[0]), "writing": writing,
            "documents": len(mine), "facts": sum(r.facts for r in mine),
            "pending": plan.counts(),
        }

    def next_run(self) -> Optional[str]:
        """When the schedule fires next (ISO-8601 UTC), or ``None`` without a schedule."""
        if not self.spec.schedule:
            return None
        from datetime import datetime, timezone

        from apscheduler.triggers.cron import CronTrigger

        now = datetime.now(timezone.utc)
        nxt = CronTrigger.from_crontab(self.spec.schedule, timezone="UTC").get_next_fire_time(None, now)
        return nxt.strftime("%Y-%m-%dT%H:%M:%SZ") if nxt else None


def _run_dict(r: RunRecord) -> dict[str, Any]:
    from kgllm.stores.ledger import run_to_dict

    return run_to_dict(r)


class _FailFast(Exception):
    pass


class _Stopped(Exception):
    pass
