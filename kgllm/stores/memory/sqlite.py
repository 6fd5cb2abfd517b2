"""The memory store's durable file: one SQLite database (WAL mode), queried where it lies, written by change.

A :class:`~kgllm.stores.memory.MemoryStore` opened on a SQLite file reads the file's
indexed tables for every answer (counts, entities, adjacency, provenance, names; see
:mod:`~kgllm.stores.memory.schema`) and commits every write (``upsert``,
``ingest_document``, ``retract_document``, ``unmerge``, runs) as **one SQLite
transaction of the rows it changed**: opening costs nothing, a read costs what it
reads, a write the size of the change, and a process killed at any moment leaves the
file at the last committed write.

:class:`SqliteFile` holds the connections: one for writing (``BEGIN IMMEDIATE``: one
writer at a time across processes), and one per reading thread, so threads read at once
and see committed state only (another process's commits included). A file opened with
``create=True`` that does not exist yet is made by the first write: until then it reads
as an empty graph, and a command that ends before writing leaves no file behind.
:func:`file_revision` reads the ``revision`` counter, which every committed write
increases.

Examples
--------
>>> import os, tempfile
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = os.path.join(tmp, "g.sqlite")
...     store = MemoryStore.open(path, create=True)
...     made_before_write = os.path.exists(path)
...     _ = store.upsert(GraphDelta(facts=[Fact("ada", "born_in", "tromso")]))
...     store.close()
...     made_before_write, MemoryStore.open(path).stats()["facts"], file_revision(path)
(False, 1, 1)
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
from kgllm.stores.delta import FORMAT_NAME, fact_from_dict, fact_to_dict
from kgllm.stores.ledger import lock_message
from kgllm.stores.memory.schema import LAYOUT_VERSION, create, upgrade
from kgllm.stores.merge import Undo
from kgllm.types import Merge

__all__ = ["SqliteFile", "is_sqlite_file", "wants_sqlite", "file_revision", "SQLITE_SUFFIXES", "DOCUMENT_COLUMNS",
           "merge_from_record", "merge_record"]

MAGIC = b"SQLite format 3\x00"
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
"""Suffixes that make a new graph file a SQLite store (``.json`` / ``.json.gz`` stay JSON)."""

DOCUMENT_COLUMNS = "doc_id, source, content_hash, facts, ingested_at, text"
"""The columns of the ``documents`` table, in the order :class:`~kgllm.stores.ledger.DocumentRecord` lists them."""


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


def merge_record(merge: Merge, undo: Undo) -> str:
    """The JSON of a ``merges`` row (what :func:`merge_from_record` reads)."""
    return json.dumps({"merge": {"alias": merge.alias, "canonical": merge.canonical, "method": merge.method,
                                 "score": merge.score, "doc_id": merge.doc_id},
                       "node": undo.node, "facts": [fact_to_dict(f) for f in undo.facts], "changes": undo.changes},
                      ensure_ascii=False, separators=(",", ":"))


class SqliteFile:
    """One SQLite graph file: its connections, write transactions and read snapshots.

    Parameters
    ----------
    path : path-like
        The database file.
    create : bool
        Make the file at the first write when it is missing (else :class:`~kgllm.errors.NotFoundError`).
    busy_timeout : float
        Seconds a write waits for another process's write transaction before
        :class:`~kgllm.errors.StoreError` is raised.
    """

    def __init__(self, path: str | os.PathLike[str], create: bool = False, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._mutex = threading.RLock()
        self._writer: int | None = None
        self._local = threading.local()
        self._cons: list[sqlite3.Connection] = []
        self._generation = 0
        self._write_con: sqlite3.Connection | None = None
        self._empty: sqlite3.Connection | None = None
        self.pending = False
        if not self.path.exists():
            if not create:
                raise NotFoundError(f"graph file not found: {self.path}")
            self.pending = True  # made by the first write
            return
        if not self.path.is_file():
            raise InputError(f"{self.path}: not a regular file")
        if not is_sqlite_file(self.path) and self.path.stat().st_size > 0:
            raise InputError(f"{self.path}: not a kgllm graph file (expected a SQLite database)")
        self._open(made_here=self.path.stat().st_size == 0)

    # ------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(os.fspath(self.path), timeout=self.busy_timeout, isolation_level=None,
                              check_same_thread=False)
        con.execute("PRAGMA cache_size=-16000")
        with self._mutex:
            self._cons.append(con)
        return con

    def _open(self, made_here: bool) -> None:
        """Open the write connection; make the tables of a new (empty) file, upgrade a version 1 file."""
        try:
            con = self._connect()
            self._write_con = con
            made = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
            if not made and not made_here:
                raise InputError(f"{self.path}: not a kgllm graph file (a SQLite database without kgllm's tables)")
            if not made:
                con.execute("PRAGMA journal_mode=WAL")
                with self.transaction() as c:
                    create(c, FORMAT_NAME)
            con.execute("PRAGMA synchronous=NORMAL")  # WAL: durable against process crashes
            meta = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('format', 'version')").fetchall())
            if meta.get("format") != FORMAT_NAME:
                raise InputError(f"{self.path}: not a kgllm graph file (missing format {FORMAT_NAME!r})")
            if meta.get("version") == "1":
                self._upgrade()
            elif meta.get("version") != str(LAYOUT_VERSION):
                raise InputError(f"{self.path}: graph file layout version {meta.get('version')} is not supported "
                                 f"(this kgllm reads versions 1 and {LAYOUT_VERSION})")
        except sqlite3.DatabaseError as exc:
            self.close()
            raise InputError(f"{self.path}: not a kgllm graph file: {exc}") from exc
        except BaseException:
            self.close()
            raise

    def _upgrade(self) -> None:
        try:
            with self.transaction() as con:
                if con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0] == "1":
                    upgrade(con)  # another process may have upgraded it while this one waited
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path} was written by an older kgllm and needs a one-time upgrade of its "
                             f"indexes, which failed ({exc}); open it once with write access") from exc

    def _create(self) -> None:
        """Make the file of a pending store (its first write)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.pending = False
        self._generation += 1
        self._open(made_here=True)

    def con(self) -> sqlite3.Connection:
        """The connection this thread reads with: inside its own write transaction the writing one (it sees
        what the transaction wrote), else a connection of its own that sees committed state."""
        if self._writer == threading.get_ident() and self._write_con is not None:
            return self._write_con
        if self.pending:
            with self._mutex:
                if self._empty is None:  # reads of a file not made yet: an empty graph
                    self._empty = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                    create(self._empty, FORMAT_NAME)
                return self._empty
        local = self._local
        con = getattr(local, "con", None)
        if con is None or local.generation != self._generation:
            con = self._connect()
            con.execute("PRAGMA query_only=ON")
            local.con, local.generation = con, self._generation
        return con

    def close(self) -> None:
        """Close every connection (idempotent); the file's writes are committed already."""
        with self._mutex:
            for con in self._cons + ([self._empty] if self._empty is not None else []):
                with contextlib.suppress(sqlite3.Error):
                    con.close()
            self._cons, self._empty, self._write_con = [], None, None
            self._generation += 1

    # ------------------------------------------------------------ transactions
    def revision(self) -> int:
        """The committed-write counter, as this thread's connection sees it now."""
        row = self.con().execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row[0]) if row else 0

    @property
    def writing(self) -> bool:
        """Whether this thread is inside a write transaction."""
        return self._writer == threading.get_ident()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``: one writer at a time across processes); yields the connection.

        Committed when the block ends, rolled back on an exception. Another process's
        write transaction is waited for up to ``busy_timeout`` seconds, then
        :class:`~kgllm.errors.StoreError` says so. The file of a pending store is made first.
        """
        with self._mutex:
            if self.pending:
                self._create()
            con = self._write_con
            if con is None:
                raise StoreError(f"{self.path}: the graph file is closed")
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(lock_message("write", str(self.path), f"another process: {exc}")) from exc
            self._writer = threading.get_ident()
            try:
                yield con
            except BaseException:
                self._writer = None
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise
            self._writer = None
            try:
                con.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise StoreError(f"{self.path}: commit failed, nothing was written: {exc}") from exc

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction on this thread's connection: every query in the block sees one committed state."""
        con = self.con()
        if con.in_transaction or con is self._empty:
            yield con
            return
        con.execute("BEGIN")
        try:
            yield con
        finally:
            with contextlib.suppress(sqlite3.Error):
                con.execute("COMMIT")

    def rows(self, sql: str, *params: Any) -> list[Any]:
        """Every row of a query on this thread's connection."""
        return self.con().execute(sql, params).fetchall()

    def row(self, sql: str, *params: Any) -> Any:
        """The first row of a query on this thread's connection (``None`` when there is none)."""
        return self.con().execute(sql, params).fetchone()
