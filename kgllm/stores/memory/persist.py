"""The memory store's graph file: the whole graph as one JSON dict, optionally gzip-compressed.

``{"format": "kgllm-graph", "version": 1, "entities": [...], "facts": [...], "merges": [...]}``
where each merge carries its undo record (the alias's node and facts and what the
merge changed), so :meth:`~kgllm.stores.memory.MemoryStore.unmerge` works after a
load. Files are written atomically (a temporary file renamed over the target)
with the permissions a new file gets under the process umask.

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

import gzip
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgllm.errors import InputError, NotFoundError, StoreError
from kgllm.stores.delta import FORMAT_NAME, FORMAT_VERSION, dedupe_provenance, fact_from_dict, fact_to_dict
from kgllm.stores.memory.graph import NxGraph
from kgllm.stores.merge import Undo
from kgllm.types import Merge

if TYPE_CHECKING:
    from kgllm.stores.memory.store import MemoryStore

__all__ = ["graph_to_dict", "graph_from_dict", "save", "load_into"]


def graph_to_dict(graph: NxGraph) -> dict[str, Any]:
    """The whole graph as a JSON-able dict (entities and facts in insertion order, merges oldest first)."""
    g = graph.g
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "entities": [{"id": eid, "name": n["name"], "type": n["type"], "aliases": list(n["aliases"])}
                     for eid, n in g.nodes(data=True)],
        "facts": [fact_to_dict(graph.edge_fact(s, o, data)) for s, o, data in g.edges(data=True)],
        "merges": [
            {
                "merge": {"alias": m.alias, "canonical": m.canonical, "method": m.method, "score": m.score,
                          "doc_id": m.doc_id},
                "node": graph.undo[m.alias].node,
                "facts": [fact_to_dict(f) for f in graph.undo[m.alias].facts],
                "changes": graph.undo[m.alias].changes,
            }
            for m in graph.merges.values()
        ],
    }


def graph_from_dict(graph: NxGraph, data: dict[str, Any]) -> None:
    """Add a graph in :func:`graph_to_dict` shape to ``graph`` as it is (no merging of names or facts)."""
    for e in data["entities"]:
        graph.set_node(e["id"], {"name": e["name"], "type": e["type"], "aliases": list(e["aliases"])})
    for f in data["facts"]:
        fact = fact_from_dict(f)
        graph.put_fact(fact.with_provenance(dedupe_provenance(fact.provenance)))
    for item in data["merges"]:
        m = Merge(**item["merge"])
        graph.canonical[m.alias] = m.canonical
        graph.record_merge(m, Undo(item["node"], [fact_from_dict(f) for f in item["facts"]], item.get("changes")))
    graph.changes += 1  # a load is a write even when the graph is empty


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


def load_into(store: "MemoryStore", path: str | os.PathLike[str]) -> None:
    """Read a graph file written by :func:`save` into the empty ``store``.

    Raises
    ------
    NotFoundError
        ``path`` does not exist.
    InputError
        ``path`` is not a regular file, not JSON, not a kgllm graph or of another version.
    StoreError
        The file is a kgllm graph but its content is corrupt.
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
    try:
        store.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"{source}: corrupt graph file: {exc!r}") from exc
