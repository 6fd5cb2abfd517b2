"""The memory store's graph file: the whole graph as one JSON dict, optionally gzip-compressed.

``{"format": "kgllm-graph", "version": 1, "entities": [...], "facts": [...], "merges": [...],
"documents": [...], "runs": [...]}`` (the last two, the ledger, optional when reading)
where each merge carries its undo record (the alias's node and facts and what the
merge changed), so :meth:`~kgllm.stores.memory.MemoryStore.unmerge` works after a
load. Files are written atomically (a temporary file renamed over the target)
with the permissions a new file gets under the process umask.

JSON is the export and import format; the durable store is a SQLite file
(:mod:`~kgllm.stores.memory.sqlite`). :func:`save_sqlite` exports a graph as a
new SQLite file, and :func:`migrate_to_sqlite` converts a JSON graph file in
place (the CLI does so at the first write to one), keeping the JSON beside it.

Examples
--------
>>> import os, tempfile
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta
>>> store = MemoryStore()
>>> _ = store.upsert(GraphDelta(facts=[Fact("ada lindqvist", "born_in", "tromso")]))
>>> with tempfile.TemporaryDirectory() as tmp:
...     store.save(os.path.join(tmp, "g.json.gz"))
...     MemoryStore.load(os.path.join(tmp, "g.json.gz")).stats()["facts"]
1
"""

from __future__ import annotations

import fcntl
import filecmp
import gzip
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kgllm.errors import InputError, NotFoundError, StoreError
from kgllm.stores.delta import FORMAT_NAME, FORMAT_VERSION, dedupe_provenance, fact_from_dict, fact_to_dict
from kgllm.stores.ledger import document_from_dict, document_to_dict, run_from_dict, run_to_dict
from kgllm.stores.memory.graph import NxGraph
from kgllm.stores.memory.sqlgraph import SqlGraph
from kgllm.stores.memory.sqlite import SqliteFile, is_sqlite_file
from kgllm.stores.merge import Undo
from kgllm.types import Merge

__all__ = ["graph_to_dict", "graph_from_dict", "save", "save_sqlite", "read_graph", "migrate_to_sqlite",
           "backup_name", "file_stamp"]


def graph_to_dict(graph: NxGraph | SqlGraph) -> dict[str, Any]:
    """The whole graph as a JSON-able dict (entities and facts in insertion order, merges oldest first)."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "entities": [{"id": e.id, "name": e.name, "type": e.type, "aliases": list(e.aliases)}
                     for e in graph.iter_entities()],
        "facts": [fact_to_dict(f) for f in graph.iter_facts()],
        "merges": [
            {
                "merge": {"alias": m.alias, "canonical": m.canonical, "method": m.method, "score": m.score,
                          "doc_id": m.doc_id},
                "node": undo.node,
                "facts": [fact_to_dict(f) for f in undo.facts],
                "changes": undo.changes,
            }
            for m, undo in graph.undo_items()
        ],
        "documents": [document_to_dict(d) for d in graph.document_list()],
        "runs": [run_to_dict(r) for r in graph.run_list()],
    }


def graph_from_dict(graph: NxGraph | SqlGraph, data: dict[str, Any]) -> None:
    """Add a graph in :func:`graph_to_dict` shape to ``graph`` as it is (no merging of names or facts)."""
    for e in data["entities"]:
        graph.set_node(e["id"], {"name": e["name"], "type": e["type"], "aliases": list(e["aliases"])})
    for f in data["facts"]:
        fact = fact_from_dict(f)
        graph.put_fact(fact.with_provenance(dedupe_provenance(fact.provenance)))
    for item in data["merges"]:
        m = Merge(**item["merge"])
        graph.merge_map()[m.alias] = m.canonical
        graph.record_merge(m, Undo(item["node"], [fact_from_dict(f) for f in item["facts"]], item.get("changes")))
    for d in data.get("documents", ()):
        graph.put_document(document_from_dict(d))
    for r in data.get("runs", ()):
        graph.put_run(run_from_dict(r))
    graph.touch()  # a load is a write even when the graph is empty


def _new_file_mode(target: Path) -> int:
    """The mode to give the file: the target's if it exists, else what the umask leaves of 0666."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def save(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the graph dict ``data`` to ``path`` atomically (gzip-compressed when it ends in ``.gz``)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(data, ensure_ascii=False).encode()
    if target.suffix == ".gz":
        raw = gzip.compress(raw, mtime=0)
    mode = _new_file_mode(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)  # created 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_graph(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The graph dict of the JSON graph file ``path`` (format and version checked).

    Raises
    ------
    NotFoundError
        ``path`` does not exist.
    InputError
        ``path`` is not a regular file, not JSON, not a kgllm graph or of another version.
    """
    source = Path(path)
    if not source.exists():
        raise NotFoundError(f"graph file not found: {source}")
    if not source.is_file():
        raise InputError(f"{source}: not a regular file")
    raw = source.read_bytes()
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        data = json.loads(raw.decode("utf-8"))
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{source}: not a kgllm graph file (expected JSON): {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise InputError(f"{source}: not a kgllm graph file (missing format {FORMAT_NAME!r})")
    if data.get("version") != FORMAT_VERSION:
        raise InputError(f"{source}: graph format version {data.get('version')} is not supported "
                         f"(this kgllm reads version {FORMAT_VERSION})")
    return data


# ------------------------------------------------------------------------------------ SQLite snapshots
def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(tmp: Path) -> None:
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
        p.unlink(missing_ok=True)


def _sqlite_snapshot(data: dict[str, Any], target: Path, mode: int) -> Path:
    """A new SQLite graph file holding ``data``, in ``target``'s folder (a hidden temporary name), fsynced."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        db = SqliteFile(tmp, create=True)
        try:
            graph = SqlGraph(db)
            with db.transaction():
                graph.begin()
                try:
                    graph_from_dict(graph, data)
                except (KeyError, TypeError, ValueError) as exc:
                    raise StoreError(f"{target}: corrupt graph: {exc!r}") from exc
                graph.finish()
        finally:
            db.close()  # the last connection: SQLite checkpoints the WAL into the file and removes it
        os.chmod(tmp, mode)
        _fsync(tmp)
    except BaseException:
        _discard(tmp)
        raise
    return tmp


def _replace(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` over ``target`` and make the rename durable (the folder fsynced)."""
    for p in (Path(f"{target}-wal"), Path(f"{target}-shm")):
        p.unlink(missing_ok=True)  # a stale WAL must never be applied to the new file
    os.replace(tmp, target)
    _fsync(target.parent, directory=True)


def save_sqlite(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the graph dict ``data`` as a new SQLite graph file renamed over ``path`` (atomic, fsynced)."""
    target = Path(path)
    tmp = _sqlite_snapshot(data, target, _new_file_mode(target))
    try:
        _replace(tmp, target)
    except BaseException:
        _discard(tmp)
        raise


def file_stamp(path: Path) -> tuple[int, ...]:
    """What tells a rewritten file from the one read (inode, size, modification time); ``()`` when gone."""
    try:
        st = path.stat()
    except OSError:
        return ()
    return st.st_ino, st.st_size, st.st_mtime_ns


def backup_name(path: str | os.PathLike[str]) -> Path:
    """Where :func:`migrate_to_sqlite` keeps the JSON: ``FILE.bak``, or the first free ``FILE.bak.N``.

    A backup that already holds exactly the file's bytes (an interrupted earlier migration) is reused.

    >>> backup_name("no/such/g.json").as_posix()
    'no/such/g.json.bak'
    """
    source = Path(path)
    n = 0
    while True:
        candidate = source.with_name(f"{source.name}.bak" + (f".{n}" if n else ""))
        if not candidate.exists() or (candidate.is_file() and source.exists() and _same_bytes(source, candidate)):
            return candidate
        n += 1


def _same_bytes(a: Path, b: Path) -> bool:
    if os.path.samefile(a, b):
        return True
    return a.stat().st_size == b.stat().st_size and filecmp.cmp(a, b, shallow=False)


def _keep(source: Path, backup: Path) -> bool:
    """Make ``backup`` hold ``source``'s bytes (a hard link, else an fsynced copy); False when it already did."""
    if backup.exists():
        return False
    try:
        os.link(source, backup)
    except OSError:
        fd, name = tempfile.mkstemp(prefix=f".{backup.name}.", suffix=".tmp", dir=backup.parent)
        os.close(fd)
        try:
            shutil.copy2(source, name)
            _fsync(Path(name))
            os.replace(name, backup)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
    _fsync(backup.parent, directory=True)
    return True


def migrate_to_sqlite(path: str | os.PathLike[str]) -> Path | None:
    """Convert the JSON graph file ``path`` in place into a SQLite graph file; returns where the JSON is kept.

    The SQLite file is written beside it under a temporary name and fsynced; the JSON is kept as
    :func:`backup_name` (a hard link or a copy) before the new file is renamed over ``path``. A failure or a
    crash at any point leaves ``path`` as the JSON it was (at worst with a backup beside it). Processes
    migrating the same file at once take turns (a lock on the JSON file); ``None`` when ``path`` is already
    a SQLite file (another process migrated it).

    Examples
    --------
    >>> import tempfile
    >>> from kgllm.stores.memory import MemoryStore
    >>> from kgllm.types import Fact, GraphDelta
    >>> store = MemoryStore()
    >>> _ = store.upsert(GraphDelta(facts=[Fact("ada lindqvist", "born_in", "tromso")]))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     store.save(f"{tmp}/g.json")
    ...     kept = migrate_to_sqlite(f"{tmp}/g.json")
    ...     migrated = MemoryStore.load(f"{tmp}/g.json")
    ...     kept.name, migrated.durable, migrated.stats()["facts"], MemoryStore.load(kept).durable
    ...     migrated.close()
    ('g.json.bak', True, 1, False)
    """
    source = Path(path)
    if is_sqlite_file(source):
        return None
    if not source.is_file():
        read_graph(source)  # raises the error that names what is wrong
    with open(source, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # released on close; a killed holder releases it too
        if is_sqlite_file(source) or not os.path.samestat(os.fstat(held.fileno()), os.stat(source)):
            return None  # another process migrated it while we waited
        data = read_graph(source)
        tmp = _sqlite_snapshot(data, source, source.stat().st_mode & 0o7777)
        backup = backup_name(source)
        made = False
        try:
            made = _keep(source, backup)
            _replace(tmp, source)
        except BaseException:
            _discard(tmp)
            if made and not is_sqlite_file(source):
                backup.unlink(missing_ok=True)
            raise
    return backup
