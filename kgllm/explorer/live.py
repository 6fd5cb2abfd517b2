"""The graph the explorer serves, kept current: queried live, reloaded only when its file is replaced.

A :class:`LiveGraph` hands every request a :class:`Snapshot`: the store plus what the explorer derives from
it (statistics, a reasoner; for a graph held in memory, the search index). How it follows changes depends
on the store:

* a SQLite graph file (``kgllm build``, ``import-kb`` and jobs write these) is opened once and queried
  where it lies: other processes' writes are seen as soon as they commit, with nothing to reload;
  searches, degrees and statistics come from the file's indexes. Only a file *replaced* by another
  (a new inode: ``kgllm convert`` over it, an in-place migration) is opened again;
* a JSON graph file is read whole and read again when its modification time or size changes (one
  ``stat`` every ``check_interval`` seconds; the new graph is loaded in a background thread while
  requests keep the old snapshot; a half-written file is retried at its next change);
* a store given in process is re-indexed when its ``revision()`` changes (in memory) or read live (on a file);
* a server store (Neo4j) is live by itself: only the statistics are cached, per ``revision()``.

Questions are answered by one reasoner shared by the request threads (its indexes are thread-safe); how
many run at once is bounded by the routes' worker limit.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta
>>> store = MemoryStore()
>>> live = LiveGraph(store)
>>> live.snapshot().search("oslo")
[]
>>> _ = store.upsert(GraphDelta(facts=[Fact("ada lindqvist", "lives_in", "oslo")]))
>>> [(e.id, degree) for e, _, degree in live.snapshot().search("oslo")]
[('oslo', 1)]
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
from kgllm.explorer.search import SearchIndex, search_store
from kgllm.stores.base import GraphStore
from kgllm.types import Entity

__all__ = ["LiveGraph", "Snapshot", "GraphStats"]

log = logging.getLogger("kgllm.explorer")


@dataclass(frozen=True)
class GraphStats:
    """Facts per relation, entities per degree and the best-connected entities of one revision of the graph."""

    relations: Counter = field(default_factory=Counter)
    degree_counts: dict[int, int] = field(default_factory=dict)
    hubs: list[tuple[Entity, int]] = field(default_factory=list)

    @classmethod
    def of(cls, store: GraphStore, top: int = 100) -> "GraphStats":
        """From the store's indexes when it has them (``relations``, ``degree_counts``, ``top_degrees``: a graph
        file, Neo4j), else by one pass over the facts."""
        if all(callable(getattr(store, m, None)) for m in ("relations", "degree_counts", "top_degrees")):
            return cls(Counter(store.relations()), store.degree_counts(),  # type: ignore[attr-defined]
                       store.top_degrees(top))  # type: ignore[attr-defined]
        degrees: Counter = Counter()
        relations: Counter = Counter()
        for fact in store.facts():
            degrees[fact.subject] += 1
            degrees[fact.object] += 1
            relations[fact.relation] += 1
        hubs = [(e, d) for eid, d in degrees.most_common(top) if (e := store.get_entity(eid)) is not None]
        return cls(relations, dict(Counter(degrees.values())), hubs)


@dataclass
class Snapshot:
    """One revision of the served graph and what the explorer derived from it.

    ``index`` is the search index of a graph held in memory; ``None`` when the store answers searches itself
    (a graph file, Neo4j). ``stats`` is computed on first use (and again when a live store's revision moved).
    """

    store: GraphStore
    revision: Any
    index: SearchIndex | None
    reasoner_factory: Callable[[GraphStore], Any]
    _stats: GraphStats | None = None
    _stats_revision: Any = None
    _reasoner: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stats(self) -> GraphStats:
        """Relation counts, degree distribution and hubs (once per revision of the graph)."""
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
        """The reasoner's answer to ``question``. Several threads may ask at once: the reasoner's indexes are
        thread-safe, and the routes bound how many questions run together."""
        return self.reasoner.ask(question, on_token=on_token)

    def search(self, text: str, limit: int = 20) -> list[tuple[Entity, float | None, int | None]]:
        """``(entity, score, degree)`` of the entities whose names match ``text``, best first."""
        if self.index is not None:
            return [(e, s, self.index.degree(e.id)) for e, s in self.index.search(text, limit)]
        if all(callable(getattr(self.store, m, None)) for m in ("search_names", "match_names", "degrees",
                                                                  "get_entities")):
            return list(search_store(self.store, text, limit))
        return [(e, None, None) for e in self.store.find_entities(text, limit=limit)]

    def degree(self, entity_id: str) -> int | None:
        """Facts touching ``entity_id`` when known without reading them, else ``None``."""
        if self.index is not None:
            return self.index.degree(entity_id)
        degree = getattr(self.store, "degree", None)
        return degree(entity_id) if callable(degree) else None


def _in_memory(store: GraphStore) -> bool:
    from kgllm.stores.memory import MemoryStore

    return isinstance(store, MemoryStore) and not store.durable


def _load_file(path: Path) -> GraphStore:
    from kgllm.stores.memory import MemoryStore

    return MemoryStore.load(path)  # a SQLite file is opened (nothing read), a JSON file read whole


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
        Seconds between two looks at the file (its identity for a SQLite file, its time and size for JSON).
    loader : callable, optional
        ``loader(path)`` opens the file (default: :meth:`kgllm.stores.memory.MemoryStore.load`).
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
        if _in_memory(store):
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
        """What tells that the file must be opened again: a SQLite file's identity (its writes are read live),
        a JSON file's time and size; ``(None,)`` while there is no file."""
        if self.path is None:
            return ()
        from kgllm.stores.memory.sqlite import is_sqlite_file

        try:
            st = self.path.stat()
        except OSError:
            return (None,)
        if is_sqlite_file(self.path):
            return ("sqlite", st.st_ino, st.st_dev)
        return ("json", st.st_mtime_ns, st.st_size)

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
        retriever = getattr(snap.reasoner, "retriever", None)
        if retriever is None:
            return
        if snap.index is not None:
            some = next(iter(snap.index.entities.values()), None)
        else:
            some = next((e for e, _ in snap.stats.hubs[:1]), None)
        retriever.retrieve(f"What is known about {some.name}?" if some is not None else "What is known?")
    except Exception as exc:  # warming is an optimisation: a failure shows up again on the first question
        log.warning("could not prepare the reasoner: %s", exc)


def _graph_only_reasoner(store: GraphStore) -> Any:
    from kgllm.reason.reasoner import Reasoner

    return Reasoner(store, llm=None)
