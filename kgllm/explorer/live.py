"""The graph the explorer serves, kept current: reloaded when its file changes, re-indexed when it is written.

A :class:`LiveGraph` hands every request a :class:`Snapshot`: the store plus what the explorer derives from
it (the search index, degrees, the relation histogram, a reasoner). Deriving happens once per revision of
the graph, not per request:

* a store given in process (a :class:`~kgllm.stores.memory.MemoryStore`) is re-indexed when its
  ``revision()`` changes (reading it costs nothing);
* a graph file (JSON, or any file :meth:`kgllm.KnowledgeGraph.load` opens, such as SQLite) is re-opened when
  its modification time or size changes (a job wrote it). The check is one ``stat`` every
  ``check_interval`` seconds; the new graph is loaded and indexed in a background thread while requests
  keep the old snapshot, then swapped in at once. A file caught half-written (not valid yet) is retried at
  its next change, and the old graph stays served;
* a server store (Neo4j) is live by itself: reads go to the server; only the statistics are cached, per
  ``revision()``.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta
>>> store = MemoryStore()
>>> live = LiveGraph(store)
>>> live.snapshot().index.search("oslo")
[]
>>> _ = store.upsert(GraphDelta(facts=[Fact("ada lindqvist", "lives_in", "oslo")]))
>>> [e.id for e, _ in live.snapshot().index.search("oslo")]
['oslo']
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kgllm.errors import KgllmError
from kgllm.explorer.search import SearchIndex
from kgllm.stores.base import GraphStore

__all__ = ["LiveGraph", "Snapshot", "GraphStats"]

log = logging.getLogger("kgllm.explorer")


@dataclass(frozen=True)
class GraphStats:
    """Degrees and the relation histogram of one revision of the graph."""

    degrees: Counter = field(default_factory=Counter)
    relations: Counter = field(default_factory=Counter)

    @classmethod
    def of(cls, store: GraphStore) -> "GraphStats":
        """Count by one pass over the facts."""
        degrees: Counter = Counter()
        relations: Counter = Counter()
        for fact in store.facts():
            degrees[fact.subject] += 1
            degrees[fact.object] += 1
            relations[fact.relation] += 1
        return cls(degrees, relations)


@dataclass
class Snapshot:
    """One revision of the served graph and what the explorer derived from it.

    ``index`` is ``None`` for server stores (their own search is used); ``stats`` is computed on first use.
    """

    store: GraphStore
    revision: Any
    index: SearchIndex | None
    reasoner_factory: Callable[[GraphStore], Any]
    _stats: GraphStats | None = None
    _stats_revision: Any = None
    _reasoner: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ask_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stats(self) -> GraphStats:
        """Degrees and relation counts (one pass over the facts, on first use; for a server store, again
        whenever its revision moved)."""
        with self._lock:
            revision = self.store.revision() if self.index is None else self.revision
            if self._stats is None or revision != self._stats_revision:
                self._stats, self._stats_revision = GraphStats.of(self.store), revision
            return self._stats

    @property
    def reasoner(self) -> Any:
        """The reasoner over this revision's store, made on first use by the factory."""
        with self._lock:
            if self._reasoner is None:
                self._reasoner = self.reasoner_factory(self.store)
            return self._reasoner

    def ask(self, question: str, on_token: Callable[[str], None] | None = None) -> Any:
        """The reasoner's answer to ``question``, one question at a time: the reasoner builds its retrieval
        indexes lazily and is not safe to call from several threads at once."""
        with self._ask_lock:
            return self.reasoner.ask(question, on_token=on_token)

    def degree(self, entity_id: str) -> int | None:
        """Facts touching ``entity_id`` when known without a query (in-process stores), else ``None``."""
        return self.index.degree(entity_id) if self.index is not None else None


def _in_process(store: GraphStore) -> bool:
    from kgllm.stores.memory import MemoryStore

    return isinstance(store, MemoryStore)


def _load_file(path: Path) -> GraphStore:
    from kgllm.graph import KnowledgeGraph

    return KnowledgeGraph.load(path).store


class LiveGraph:
    """Serve ``store`` (or the graph file ``path``, re-opened when it changes) as current snapshots.

    Parameters
    ----------
    store : GraphStore, optional
        The graph; opened from ``path`` when omitted.
    path : str or Path, optional
        The graph file behind ``store``, watched for changes.
    reasoner_factory : callable, optional
        ``factory(store)`` returns the object whose ``ask(question, on_token=...)`` answers questions
        (default: a graph-only :class:`~kgllm.Reasoner`).
    check_interval : float
        Seconds between two looks at the file's modification time.
    loader : callable, optional
        ``loader(path)`` opens the file (default: :meth:`kgllm.KnowledgeGraph.load`).
    warm : bool
        Prepare the reasoner's retrieval indexes (and models) ahead of the first question: in the
        background at start, and before a reloaded graph is swapped in.
    """

    def __init__(self, store: GraphStore | None = None, path: str | os.PathLike[str] | None = None,
                 reasoner_factory: Callable[[GraphStore], Any] | None = None, check_interval: float = 0.5,
                 loader: Callable[[Path], GraphStore] | None = None, warm: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self.loader = loader or _load_file
        self.check_interval = check_interval
        self.reasoner_factory = reasoner_factory or _graph_only_reasoner
        if store is None:
            if self.path is None:
                raise KgllmError("LiveGraph needs a store or a graph file")
            self._stamp = self._file_stamp()
            store = self.loader(self.path)
        else:
            self._stamp = self._file_stamp()
        self._lock = threading.Lock()
        self._loading = False
        self._checked = time.monotonic()
        self.reloads = 0
        self._retired: GraphStore | None = None
        self.last_error: str | None = None
        self.warm = warm
        self._snap = self._snapshot_of(store)
        if warm:
            threading.Thread(target=_warm, args=(self._snap,), name="kgllm-explorer-warm", daemon=True).start()

    # ------------------------------------------------------------------ snapshots
    def _snapshot_of(self, store: GraphStore, previous: Snapshot | None = None) -> Snapshot:
        if _in_process(store):
            snap = Snapshot(store, store.revision(), SearchIndex.of(store), self.reasoner_factory)
            if previous is not None and previous.store is store:
                snap._reasoner = previous._reasoner  # its retriever re-reads the store when the revision moves
            return snap
        return Snapshot(store, None, None, self.reasoner_factory)

    def snapshot(self) -> Snapshot:
        """The current snapshot (re-indexed if the in-process store was written; file checked for changes)."""
        snap = self._snap
        if snap.index is not None:
            revision = snap.store.revision()
            if revision != snap.revision:
                with self._lock:
                    if self._snap is snap:
                        self._snap = self._snapshot_of(snap.store, snap)
                snap = self._snap
        if self.path is not None and time.monotonic() - self._checked >= self.check_interval:
            self._check_file()
        return snap

    @property
    def store(self) -> GraphStore:
        """The store currently served."""
        return self._snap.store

    # ------------------------------------------------------------------ the file
    def _file_stamp(self) -> tuple:
        if self.path is None:
            return ()
        stamp = []
        for p in (self.path, Path(f"{self.path}-wal")):
            try:
                st = p.stat()
                stamp.append((st.st_mtime_ns, st.st_size))
            except OSError:
                stamp.append(None)
        return tuple(stamp)

    def _check_file(self) -> None:
        self._checked = time.monotonic()
        stamp = self._file_stamp()
        with self._lock:
            if stamp == self._stamp or self._loading or stamp[0] is None:
                return
            self._loading = True
        threading.Thread(target=self._reload, args=(stamp,), name="kgllm-explorer-reload", daemon=True).start()

    def _reload(self, stamp: tuple) -> None:
        old = self._snap.store
        try:
            assert self.path is not None
            store = self.loader(self.path)
            snap = self._snapshot_of(store)
            if self.warm:
                _warm(snap)
        except Exception as exc:  # a half-written file: keep serving the old graph, retry at the next change
            self.last_error = f"{self.path}: {exc}"
            log.warning("could not reload %s (still serving the previous graph): %s", self.path, exc)
            with self._lock:
                self._stamp, self._loading = stamp, False
            return
        with self._lock:
            self._snap, self._stamp, self._loading = snap, stamp, False
            self.reloads += 1
            self.last_error = None
        # Requests still reading the replaced store finish on it; it is closed at the next reload.
        retired, self._retired = self._retired, (old if old is not store else None)
        close = getattr(retired, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # closing a long-replaced store is best effort
                pass

    def reload_now(self) -> None:
        """Re-open the file at once (blocking), whatever its modification time says."""
        if self.path is not None:
            with self._lock:
                self._loading = True
            self._reload(self._file_stamp())


def _warm(snap: Snapshot) -> None:
    """Build the reasoner and run its retrieval once, so that the first real question is fast."""
    try:
        with snap._ask_lock:
            retriever = getattr(snap.reasoner, "retriever", None)
            if retriever is None:
                return
            some = next(iter(snap.index.entities.values()), None) if snap.index is not None else None
            retriever.retrieve(f"What is known about {some.name}?" if some is not None else "What is known?")
    except Exception as exc:  # warming is an optimisation: a failure shows up again on the first question
        log.warning("could not prepare the reasoner: %s", exc)


def _graph_only_reasoner(store: GraphStore) -> Any:
    from kgllm.reason.reasoner import Reasoner

    return Reasoner(store, llm=None)
