"""Catching a durable store's view up with another process's commits by reading only the rows they changed.

Every commit to a SQLite graph file logs the keys it wrote (table ``changes``, the last
:data:`~kgllm.stores.memory.sqlite.CHANGES_KEPT` commits). :func:`catch_up` reads those
rows in one read transaction and applies them to the in-memory graph: a reader that
stays open (a server) follows a job's writes at the cost of what they changed, not
of the graph. When the log does not reach back far enough it returns ``False`` and
the caller loads the whole file.
"""

from __future__ import annotations

import json

from kgllm.stores.ledger import document_from_dict, run_from_dict
from kgllm.stores.memory.graph import NxGraph
from kgllm.stores.memory.sqlite import DOCUMENT_COLUMNS, SqliteFile, merge_from_record
from kgllm.types import Provenance

__all__ = ["catch_up"]


def catch_up(db: SqliteFile, graph: NxGraph, revision: int) -> int | None:
    """Apply the commits after ``revision`` to ``graph``; the new revision, or ``None`` if a full load is needed."""
    with db.snapshot():
        found = db.changes_since(revision)
        if found is None:
            return None
        current, keys = found
        if not keys:
            return current
        by_kind: dict[str, list[str]] = {}
        for kind, key in keys:
            by_kind.setdefault(kind, []).append(key)
        nodes = {eid: db.row("SELECT name, type, aliases FROM entities WHERE id = ?", eid)
                 for eid in by_kind.get("n", ())}
        facts = {}
        for raw in by_kind.get("f", ()):
            s, o, fid = json.loads(raw)
            facts[(s, o, fid)] = db.row("SELECT r, c, p FROM facts WHERE id = ?", fid)
        merges = db.rows("SELECT record FROM merges ORDER BY seq") if "m" in by_kind else None
        docs = {d: db.row(f"SELECT {db.document_columns} FROM documents WHERE doc_id = ?", d)
                for d in by_kind.get("d", ())}
        runs = [db.row("SELECT record FROM runs WHERE run_id = ?", r) for r in by_kind.get("r", ())]
    g = graph.g
    for eid, row in nodes.items():
        if row is not None:
            graph.set_node(eid, {"name": row[0], "type": row[1], "aliases": json.loads(row[2])})
    for key, row in facts.items():
        s, o, fid = key
        if row is None:
            if g.has_edge(*key):
                graph.remove_fact(graph.edge_fact(s, o, g.edges[key]))
        elif s in g and o in g:
            if g.has_edge(*key):
                graph.remove_fact(graph.edge_fact(s, o, g.edges[key]))
            graph.load_fact(s, o, fid, row[0], float(row[1]), [Provenance(**d) for d in json.loads(row[2])])
    for eid, row in nodes.items():
        if row is None and eid in g:
            graph.delete_node(eid)
    if merges is not None:
        graph.canonical.clear()
        graph.merges.clear()
        graph.undo.clear()
        for (record,) in merges:
            m, undo = merge_from_record(record)
            graph.canonical[m.alias] = m.canonical
            graph.record_merge(m, undo)
    for doc_id, row in docs.items():
        graph.put_document(document_from_dict(dict(zip(DOCUMENT_COLUMNS.split(", "), row))) if row else None, doc_id)
    for row in runs:
        if row is not None:
            graph.put_run(run_from_dict(json.loads(row[0])))
    graph.changes += 1
    return current
