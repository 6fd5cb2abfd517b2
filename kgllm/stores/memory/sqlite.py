"""The memory store's durable file: one SQLite database (WAL mode) written by change, not whole.

A :class:`~kgllm.stores.memory.MemoryStore` opened on a SQLite file keeps its
networkx graph as the working view and commits every write (``upsert``,
``ingest_document``, ``retract_document``, ``unmerge``, runs) as **one SQLite
transaction of exactly the rows it changed** (entities, facts with their
provenance, merge records with their undo data, ledger rows): a write costs the
size of the change, not of the graph, and a process killed at any moment leaves
the file at the last committed write. Opening the file loads the whole graph.

Tables: ``meta`` (``format``, ``version``, ``revision``), ``entities``, ``facts``
(provenance as JSON), ``merges`` (ordered by ``seq``), ``documents`` (the ledger)
and ``runs``. Row order (``rowid``) is the graph's insertion order.

Readers in other processes see committed state only. :func:`file_revision` reads
the ``revision`` counter, which every committed write increases: a reader that
holds a store compares it (or calls :meth:`~kgllm.stores.memory.MemoryStore.refresh`)
to know when to reload.

Examples
--------
>>> import os, tempfile
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = os.path.join(tmp, "g.sqlite")
...     store = MemoryStore.open(path, create=True)
...     _ = store.upsert(GraphDelta(facts=[Fact("ada", "born_in", "tromso")]))
...     store.close()
...     MemoryStore.open(path).stats()["facts"], file_revision(path)
(1, 1)
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator

from kgllm.errors import InputError, NotFoundError, StoreError
from kgllm.stores.delta import FORMAT_NAME, FORMAT_VERSION, fact_from_dict, fact_to_dict
from kgllm.stores.ledger import RunRecord, document_from_dict, lock_message, run_from_dict, run_to_dict
from kgllm.stores.memory.graph import Journal, NxGraph
from kgllm.stores.merge import Undo
from kgllm.types import Merge, Provenance

__all__ = ["SqliteFile", "is_sqlite_file", "wants_sqlite", "file_revision", "SQLITE_SUFFIXES", "CHANGES_KEPT",
           "merge_from_record"]

MAGIC = b"SQLite format 3\x00"
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
"""Suffixes that make a new graph file a SQLite store (``.json`` / ``.json.gz`` stay JSON)."""

DOCUMENT_COLUMNS = "doc_id, source, content_hash, facts, ingested_at, text"
"""The columns of the ``documents`` table, in the order :class:`~kgllm.stores.ledger.DocumentRecord` lists them."""

CHANGES_KEPT = 10_000
"""Writes whose changed keys the ``changes`` table keeps, so a reader catches up by reading only those rows."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities(id TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
                                    aliases TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS facts(id TEXT PRIMARY KEY, s TEXT NOT NULL, o TEXT NOT NULL, r TEXT NOT NULL,
                                 c REAL NOT NULL, p TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS merges(alias TEXT PRIMARY KEY, seq INTEGER NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, content_hash TEXT NOT NULL,
                                     facts INTEGER NOT NULL, ingested_at TEXT NOT NULL, text TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS runs(run_id TEXT PRIMARY KEY, job TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes(revision INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS changes_revision ON changes(revision);
"""


def is_sqlite_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an existing SQLite database (by its first bytes, whatever its name)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == MAGIC
    except OSError:
        return False


def wants_sqlite(path: str | os.PathLike[str]) -> bool:
    """Whether a graph file at ``path`` is (or, when new, will be) a SQLite store.

    >>> wants_sqlite("graph.sqlite"), wants_sqlite("graph.db"), wants_sqlite("graph.json")
    (True, True, False)
    """
    p = Path(path)
    if p.exists():
        return is_sqlite_file(p)
    return p.suffix.lower() in SQLITE_SUFFIXES


def file_revision(path: str | os.PathLike[str]) -> int:
    """The committed-write counter of a SQLite graph file (0 when new); cheap, for readers that poll."""
    con = sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True, timeout=30.0)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row[0]) if row else 0
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot read the graph file's revision: {exc}") from exc
    finally:
        con.close()


def merge_from_record(record: str) -> tuple[Merge, Undo]:
    """A merge and its undo record from a ``merges`` row's JSON."""
    item = json.loads(record)
    return Merge(**item["merge"]), Undo(item["node"], [fact_from_dict(f) for f in item["facts"]], item.get("changes"))


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class SqliteFile:
    """One open SQLite graph file: load it into an :class:`NxGraph`, commit journals, take the write lock.

    Parameters
    ----------
    path : path-like
        The database file.
    create : bool
        Create the file when missing (else :class:`~kgllm.errors.NotFoundError`).
    busy_timeout : float
        Seconds a write waits for another process's write transaction before
        :class:`~kgllm.errors.StoreError` is raised.
    """

    def __init__(self, path: str | os.PathLike[str], create: bool = False, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise NotFoundError(f"graph file not found: {self.path}")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.is_file():
            raise InputError(f"{self.path}: not a regular file")
        elif not is_sqlite_file(self.path) and self.path.stat().st_size > 0:
            raise InputError(f"{self.path}: not a kgllm graph file (expected a SQLite database)")
        self.busy_timeout = busy_timeout
        self._mutex = threading.RLock()
        existed = self.path.exists() and self.path.stat().st_size > 0
        try:
            self._con = sqlite3.connect(os.fspath(self.path), timeout=busy_timeout, isolation_level=None,
                                        check_same_thread=False)
            made = self._con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
            if not made and existed:
                raise InputError(f"{self.path}: not a kgllm graph file (a SQLite database without kgllm's tables)")
            if not made:
                self._con.execute("PRAGMA journal_mode=WAL")
                with self.transaction():
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            self._con.execute(stmt)
                    self._con.executemany("INSERT INTO meta VALUES (?, ?)", [
                        ("format", FORMAT_NAME), ("version", str(FORMAT_VERSION)), ("revision", "0")])
            self._con.execute("PRAGMA synchronous=NORMAL")  # WAL: durable against process crashes
            #: whether the documents table has its ``text`` column (a file written before documents kept their
            #: text has not: it reads as "" and is added by the first write, so reading never writes)
            self.has_text = "text" in {row[1] for row in self._con.execute("PRAGMA table_info(documents)")}
            meta = dict(self._con.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("format") != FORMAT_NAME:
                raise InputError(f"{self.path}: not a kgllm graph file (missing format {FORMAT_NAME!r})")
            if meta.get("version") != str(FORMAT_VERSION):
                raise InputError(f"{self.path}: graph format version {meta.get('version')} is not supported "
                                 f"(this kgllm reads version {FORMAT_VERSION})")
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a kgllm graph file: {exc}") from exc
        except BaseException:
            with contextlib.suppress(Exception):
                self._con.close()
            raise

    # ------------------------------------------------------------ transactions
    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._mutex:
            self._con.close()

    def revision(self) -> int:
        """The committed-write counter, as this connection sees it now."""
        with self._mutex:
            try:
                row = self._con.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
            except sqlite3.OperationalError:  # a new file, before its tables are made
                return 0
            return int(row[0]) if row else 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[int]:
        """A write transaction (``BEGIN IMMEDIATE``: one writer at a time across processes); yields the revision.

        Committed when the block ends, rolled back on an exception. Another process's
        write transaction is waited for up to ``busy_timeout`` seconds, then
        :class:`~kgllm.errors.StoreError` says so.
        """
        with self._mutex:
            try:
                self._con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(lock_message("write", str(self.path), f"another process: {exc}")) from exc
            try:
                yield self.revision()
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._con.execute("ROLLBACK")
                raise
            try:
                self._con.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._con.execute("ROLLBACK")
                raise StoreError(f"{self.path}: commit failed, nothing was written: {exc}") from exc

    # --------------------------------------------------------------- reading
    @property
    def document_columns(self) -> str:
        """The ``documents`` columns to select, in :data:`DOCUMENT_COLUMNS` order (``''`` for a missing text)."""
        return DOCUMENT_COLUMNS if self.has_text else DOCUMENT_COLUMNS.replace(", text", ", ''")

    def load(self, graph: NxGraph) -> int:
        """Read the whole file into the empty ``graph`` (one consistent snapshot); returns its revision."""
        with self._mutex:
            own = self._con.in_transaction
            if not own:
                self._con.execute("BEGIN")
            try:
                rev = self.revision()
                for eid, name, type_, aliases in self._con.execute(
                        "SELECT id, name, type, aliases FROM entities ORDER BY rowid"):
                    graph.set_node(eid, {"name": name, "type": type_, "aliases": json.loads(aliases)})
                for fid, s, o, r, c, p in self._con.execute("SELECT id, s, o, r, c, p FROM facts ORDER BY rowid"):
                    if s not in graph.g or o not in graph.g:
                        raise ValueError(f"fact {fid} of {s!r} and {o!r}: an end is not among the entities")
                    graph.load_fact(s, o, fid, r, float(c), [Provenance(**d) for d in json.loads(p)])
                for (record,) in self._con.execute("SELECT record FROM merges ORDER BY seq"):
                    m, undo = merge_from_record(record)
                    graph.canonical[m.alias] = m.canonical
                    graph.record_merge(m, undo)
                for row in self._con.execute(
                        f"SELECT {self.document_columns} FROM documents ORDER BY doc_id"):
                    graph.put_document(document_from_dict(dict(zip(DOCUMENT_COLUMNS.split(", "), row))))
                for (record,) in self._con.execute("SELECT record FROM runs ORDER BY rowid"):
                    graph.put_run(run_from_dict(json.loads(record)))
            except (KeyError, TypeError, ValueError, sqlite3.DatabaseError) as exc:
                raise StoreError(f"{self.path}: corrupt graph file: {exc!r}") from exc
            finally:
                if not own:
                    self._con.execute("COMMIT")
            return rev

    def changes_since(self, revision: int) -> tuple[int, list[tuple[str, str]]] | None:
        """The current revision and the ``(kind, key)`` rows written after ``revision`` (inside a read transaction),
        or ``None`` when the log no longer reaches back that far (the reader must load the whole file)."""
        con = self._con
        current = self.revision()
        if current == revision:
            return current, []
        oldest = con.execute("SELECT min(revision) FROM changes").fetchone()[0]
        if oldest is None or oldest > revision + 1 or current < revision:
            return None
        rows = con.execute("SELECT DISTINCT kind, key FROM changes WHERE revision > ? AND revision <= ?",
                           (revision, current)).fetchall()
        return current, [(k, v) for k, v in rows]

    def row(self, sql: str, *params: Any) -> Any:
        """One row of a query on this connection (for :mod:`~kgllm.stores.memory.refresh`)."""
        return self._con.execute(sql, params).fetchone()

    def rows(self, sql: str, *params: Any) -> list[Any]:
        """Every row of a query on this connection."""
        return self._con.execute(sql, params).fetchall()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every query in the block sees one committed state."""
        with self._mutex:
            if self._con.in_transaction:  # inside a write transaction: already one state
                yield
                return
            self._con.execute("BEGIN")
            try:
                yield
            finally:
                self._con.execute("COMMIT")

    # --------------------------------------------------------------- writing
    def write(self, graph: NxGraph, journal: Journal) -> int:
        """Write the rows ``journal`` names as ``graph`` holds them now (inside :meth:`transaction`).

        Returns the new revision (increased by one when anything was written).
        """
        con = self._con
        if not (journal.nodes or journal.facts or journal.merges or journal.documents or journal.runs):
            return self.revision()
        g = graph.g
        con.executemany("DELETE FROM entities WHERE id = ?", [(e,) for e in journal.nodes if e in journal.moved_nodes])
        con.executemany(
            "INSERT INTO entities(id, name, type, aliases) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "name = excluded.name, type = excluded.type, aliases = excluded.aliases",
            [(e, g.nodes[e]["name"], g.nodes[e]["type"], _json(list(g.nodes[e]["aliases"])))
             for e in journal.nodes if e in g])
        con.executemany("DELETE FROM entities WHERE id = ?", [(e,) for e in journal.nodes if e not in g])
        keys = list(journal.facts)
        con.executemany("DELETE FROM facts WHERE id = ?",
                        [(k[2],) for k in keys if k in journal.moved_facts or not g.has_edge(*k)])
        rows = []
        for k in keys:
            if g.has_edge(*k):
                d = g.edges[k]
                rows.append((k[2], k[0], k[1], d["relation"], float(d["confidence"]),
                             _json([p.to_dict() for p in d["provenance"]])))
        con.executemany("INSERT INTO facts(id, s, o, r, c, p) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE "
                        "SET s = excluded.s, o = excluded.o, r = excluded.r, c = excluded.c, p = excluded.p", rows)
        for alias in sorted(journal.merges):
            self._write_merge(graph, alias, journal.moved_merges)
        for doc_id in sorted(journal.documents):
            d = graph.documents.get(doc_id)
            con.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            if d is not None and not self.has_text:  # inside the write transaction: another writer may have added it
                if "text" not in {row[1] for row in con.execute("PRAGMA table_info(documents)")}:
                    con.execute("ALTER TABLE documents ADD COLUMN text TEXT NOT NULL DEFAULT ''")
                self.has_text = True
            if d is not None:
                con.execute(f"INSERT INTO documents({DOCUMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                            (d.doc_id, d.source, d.content_hash, d.facts, d.ingested_at, d.text))
        for run_id in sorted(journal.runs):
            self._write_run(graph.runs[run_id])
        con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'")
        revision = self.revision()
        log = [("n", e) for e in journal.nodes] + [("f", _json(list(k))) for k in journal.facts] + \
            [("m", a) for a in journal.merges] + [("d", d) for d in journal.documents] + [("r", r) for r in journal.runs]
        con.executemany("INSERT INTO changes(revision, kind, key) VALUES (?, ?, ?)",
                        [(revision, kind, key) for kind, key in log])
        con.execute("DELETE FROM changes WHERE revision <= ?", (revision - CHANGES_KEPT,))
        return revision

    def _write_merge(self, graph: NxGraph, alias: str, moved: set[str]) -> None:
        m = graph.merges.get(alias)
        if m is None:
            self._con.execute("DELETE FROM merges WHERE alias = ?", (alias,))
            return
        undo = graph.undo[alias]
        record = _json({"merge": {"alias": m.alias, "canonical": m.canonical, "method": m.method,
                                  "score": m.score, "doc_id": m.doc_id},
                        "node": undo.node, "facts": [fact_to_dict(f) for f in undo.facts], "changes": undo.changes})
        if alias not in moved:  # only the undo data changed: keep the merge's place in the order
            cur = self._con.execute("UPDATE merges SET record = ? WHERE alias = ?", (record, alias))
            if cur.rowcount:
                return
        seq = self._con.execute("SELECT coalesce(max(seq), 0) + 1 FROM merges").fetchone()[0]
        self._con.execute("INSERT OR REPLACE INTO merges(alias, seq, record) VALUES (?, ?, ?)", (alias, seq, record))

    def _write_run(self, run: RunRecord) -> None:
        self._con.execute("INSERT INTO runs(run_id, job, record) VALUES (?, ?, ?) ON CONFLICT(run_id) DO UPDATE "
                          "SET job = excluded.job, record = excluded.record",
                          (run.run_id, run.job, _json(run_to_dict(run))))

