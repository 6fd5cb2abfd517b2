"""Copy a whole graph between stores (memory file <-> Neo4j), losslessly.

Everything moves: entities with their aliases, facts with every provenance, and
merges with their undo records (so :meth:`unmerge` still works on the copy).

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.stores.migrate import copy_store
>>> from kgllm.types import Fact, GraphDelta, Merge, Provenance
>>> src = MemoryStore()
>>> _ = src.upsert(GraphDelta(facts=[Fact("a", "r", "b", provenance=(Provenance("d1"),)),
...                                  Fact("a2", "r", "c", provenance=(Provenance("d2"),))],
...                           merges=[Merge("a2", "a", "alias")]))
>>> dst = MemoryStore()
>>> copy_store(src, dst)
{'entities': 3, 'facts': 2, 'merges': 1}
>>> dst.to_dict() == src.to_dict() and dst.unmerge("a2")
True
"""

from __future__ import annotations

import json
import sys
from typing import Any

from kgllm.errors import InputError, StoreError

__all__ = ["copy_store"]


def copy_store(src: Any, dst: Any, progress: bool = False) -> dict[str, int]:
    """Copy every entity, fact (with all provenances) and merge (with undo data) from ``src`` into ``dst``.

    Both stores must offer ``to_dict()`` / ``from_dict()`` in the memory store's
    format (:class:`~kgllm.stores.memory.MemoryStore` and
    :class:`~kgllm.stores.neo4j.Neo4jStore` do). ``dst`` must be empty, so the
    copy is exact rather than a merge of two graphs.

    Parameters
    ----------
    src : GraphStore
        The store to read.
    dst : GraphStore
        An empty store to fill.
    progress : bool
        Print what is being copied to standard error.

    Returns
    -------
    dict
        Counts copied: ``entities``, ``facts``, ``merges``.

    Raises
    ------
    InputError
        ``dst`` is not empty, or ``src`` is ``dst``.
    StoreError
        A store cannot export or import whole graphs.
    """
    if src is dst:
        raise InputError("copy_store: source and destination are the same store")
    for role, store, method in (("source", src, "to_dict"), ("destination", dst, "from_dict")):
        if not callable(getattr(store, method, None)):
            raise StoreError(f"copy_store: the {role} {type(store).__name__} has no {method}()")
    counts = dst.stats()
    if counts.get("entities") or counts.get("facts") or counts.get("merges"):
        raise InputError(f"copy_store: the destination is not empty ({counts['entities']} entities, "
                         f"{counts['facts']} facts, {counts['merges']} merges); copy into an empty store")
    # A JSON round trip: the copy shares no mutable object with the source.
    data = json.loads(json.dumps(src.to_dict(), ensure_ascii=False))
    done = {"entities": len(data["entities"]), "facts": len(data["facts"]), "merges": len(data["merges"])}
    hooked = progress and hasattr(dst, "on_batch") and dst.on_batch is None
    if progress:
        print(f"copying {done['entities']} entities, {done['facts']} facts, {done['merges']} merges "
              f"from {type(src).__name__} to {type(dst).__name__}", file=sys.stderr)
    if hooked:
        dst.on_batch = lambda kind, n, total: print(f"  {kind}: {n}/{total}", file=sys.stderr)
    try:
        dst.from_dict(data)
    finally:
        if hooked:
            dst.on_batch = None
    if progress:
        print("copy done", file=sys.stderr)
    return done
