"""The graph of a SQLite file, read and written where it lies: :class:`SqlGraph`.

:class:`SqlGraph` offers the same methods as the in-memory :class:`~kgllm.stores.memory.graph.NxGraph`
(the :class:`~kgllm.stores.merge.GraphAccess` the merge algorithm writes through, and the reads
:class:`~kgllm.stores.memory.MemoryStore` answers from), each one a few indexed queries on the file
(:mod:`~kgllm.stores.memory.schema`). Writes happen inside a write transaction of the
:class:`~kgllm.stores.memory.sqlite.SqliteFile`, between :meth:`SqlGraph.begin` and :meth:`SqlGraph.finish`;
counts that many facts change at once (degrees, facts per relation and per document, totals) are added
up in memory and written by :meth:`~SqlGraph.finish`.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from typing import Any, Callable, Iterable, Iterator

from kgllm.stores.base import Direction
from kgllm.stores.ledger import DocumentRecord, RunRecord, document_from_dict, run_from_dict, run_to_dict
from kgllm.stores.memory.schema import index_entity, unindex_entity
from kgllm.stores.memory.sqlreads import IndexReads, entity_row
from kgllm.stores.memory.sqlite import DOCUMENT_COLUMNS, SqliteFile, merge_from_record, merge_record
from kgllm.stores.merge import Node, Undo
from kgllm.stores.names import fts_query
from kgllm.types import Entity, Fact, Merge, Provenance, fact_id

__all__ = ["SqlGraph", "StoredDocument"]

_FACT = "s, r, o, c, p"
_LISTED = DOCUMENT_COLUMNS.replace(", text", "")


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _fact(row: Any) -> Fact:
    s, r, o, c, p = row
    return Fact(s, r, o, float(c), tuple(Provenance(**d) for d in json.loads(p)))


_entity = entity_row


class StoredDocument(DocumentRecord):
    """A ledger row listed without its text, which ``loader(doc_id)`` reads when the text is first asked for.

    Equal to the :class:`~kgllm.stores.ledger.DocumentRecord` with the same fields.
    """

    def __init__(self, doc_id: str, source: str, content_hash: str, facts: int = 0, ingested_at: str = "",
                 text: str = "", loader: Callable[[str], str] | None = None) -> None:
        object.__setattr__(self, "_loader", loader)
        super().__init__(doc_id, source, content_hash, facts, ingested_at, text)

    @property  # type: ignore[override]
    def text(self) -> str:
        value = self.__dict__.get("_text")
        if value is None:
            loader = self.__dict__.get("_loader")
            value = loader(self.doc_id) if loader is not None else ""
            object.__setattr__(self, "_text", value)
        return value

    @text.setter
    def text(self, value: str) -> None:  # the dataclass __init__ sets it; "" with a loader: not read yet
        if value or self.__dict__.get("_loader") is None:
            object.__setattr__(self, "_text", value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DocumentRecord):
            return NotImplemented
        return (self.doc_id, self.source, self.content_hash, self.facts, self.ingested_at, self.text) == (
            other.doc_id, other.source, other.content_hash, other.facts, other.ingested_at, other.text)

    __hash__ = None  # type: ignore[assignment]


class SqlGraph(IndexReads):
    """A graph in the SQLite file ``db``: the merge algorithm's access and the memory store's reads."""

    def __init__(self, db: SqliteFile) -> None:
        self.db = db
        self._merged: dict[str, str] | None = None
        self._merged_revision = -1
        self._degree: Counter = Counter()
        self._relations: Counter = Counter()
        self._doc_counts: Counter = Counter()
        self._counts: Counter = Counter()
        self._changed = False
        # what this write read or wrote (rows are written through; these save reading them again)
        self._nodes: dict[str, tuple[int, Node] | None] = {}
        self._facts: dict[str, tuple[Fact, str] | None] = {}

    # --------------------------------------------------------------- transactions
    @property
    def _w(self) -> sqlite3.Connection:
        return self.db.con()

    def begin(self) -> None:
        """Start a write (inside the file's write transaction)."""
        if self._merged_revision != self.db.revision():
            self._merged = None
        self._degree, self._relations, self._doc_counts, self._counts = Counter(), Counter(), Counter(), Counter()
        self._changed = False
        self._nodes, self._facts = {}, {}

    def finish(self) -> bool:
        """Write the counts the write changed and bump the revision when anything changed; True if it did."""
        con = self._w
        con.executemany("UPDATE entities SET degree = degree + ? WHERE id = ?",
                        [(n, eid) for eid, n in self._degree.items() if n])
        for table, key, counts in (("relations", "r", self._relations), ("doc_counts", "doc_id", self._doc_counts)):
            con.executemany(f"INSERT INTO {table} VALUES (?, ?) ON CONFLICT({key}) DO UPDATE SET n = n + excluded.n",
                            [(k, n) for k, n in counts.items() if n])
            if any(n < 0 for n in counts.values()):
                con.execute(f"DELETE FROM {table} WHERE n <= 0")
        con.executemany("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = ?",
                        [(n, k) for k, n in self._counts.items() if n])
        changed = self._changed
        if changed:
            con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'")
        self._merged_revision = self.db.revision()
        self._degree, self._relations, self._doc_counts, self._counts = Counter(), Counter(), Counter(), Counter()
        self._nodes, self._facts = {}, {}
        return changed

    def abort(self) -> None:
        """Forget what a failed write left in memory (the transaction is rolled back)."""
        self._merged, self._merged_revision = None, -1
        self._nodes, self._facts = {}, {}

    def prefetch(self, eids: Iterable[str], fids: Iterable[str]) -> None:
        """Read the entities ``eids`` and facts ``fids`` a write is about to look at, a few hundred per query."""
        if len(self._nodes) + len(self._facts) > 400_000:  # bounded: rows are written through, this only saves reads
            self._nodes, self._facts = {}, {}
        con = self._w
        todo = [e for e in dict.fromkeys(eids) if e not in self._nodes]
        for i in range(0, len(todo), 500):
            part = todo[i:i + 500]
            self._nodes.update(dict.fromkeys(part))
            for rowid, eid, name, type_, aliases in con.execute(
                    f"SELECT rowid, id, name, type, aliases FROM entities WHERE id IN ({','.join('?' * len(part))})",
                    part):
                self._nodes[eid] = (rowid, {"id": eid, "name": name, "type": type_, "aliases": json.loads(aliases)})
        todo = [f for f in dict.fromkeys(fids) if f not in self._facts]
        for i in range(0, len(todo), 500):
            part = todo[i:i + 500]
            self._facts.update(dict.fromkeys(part))
            for row in con.execute(f"SELECT {_FACT}, id FROM facts WHERE id IN ({','.join('?' * len(part))})", part):
                self._facts[row[5]] = (_fact(row[:5]), row[4])

    def _node_row(self, eid: str) -> tuple[int, Node] | None:
        if eid not in self._nodes:
            row = self._w.execute("SELECT rowid, name, type, aliases FROM entities WHERE id = ?", (eid,)).fetchone()
            self._nodes[eid] = None if row is None else (
                row[0], {"id": eid, "name": row[1], "type": row[2], "aliases": json.loads(row[3])})
        return self._nodes[eid]

    def _fact_row(self, fid: str) -> tuple[Fact, str] | None:
        if fid not in self._facts:
            row = self._w.execute(f"SELECT {_FACT} FROM facts WHERE id = ?", (fid,)).fetchone()
            self._facts[fid] = None if row is None else (_fact(row), row[4])
        return self._facts[fid]

    def touch(self) -> None:
        """Count the write as a change (it bumps the revision) even if it changed no row."""
        self._changed = True

    # ------------------------------------------------------------ GraphAccess
    def merge_map(self) -> dict[str, str]:
        if self._merged is None:
            self._merged = dict(self.db.rows("SELECT alias, canonical FROM merges"))
        return self._merged

    def node(self, eid: str) -> Node | None:
        if not self.db.writing:
            row = self.db.row("SELECT name, type, aliases FROM entities WHERE id = ?", eid)
            return None if row is None else {"id": eid, "name": row[0], "type": row[1], "aliases": json.loads(row[2])}
        found = self._node_row(eid)
        return None if found is None else {**found[1], "aliases": list(found[1]["aliases"])}

    def set_node(self, eid: str, node: Node) -> None:
        con, aliases = self._w, list(node["aliases"])
        found = self._node_row(eid)
        new = {"id": eid, "name": node["name"], "type": node["type"], "aliases": aliases}
        if found is None:
            rowid = con.execute("INSERT INTO entities(id, name, type, aliases) VALUES (?, ?, ?, ?)",
                                (eid, node["name"], node["type"], _json(aliases))).lastrowid
            index_entity(con, rowid, eid, node["name"], aliases)
            self._counts["entities"] += 1
        else:
            rowid, old = found
            con.execute("UPDATE entities SET name = ?, type = ?, aliases = ? WHERE id = ?",
                        (node["name"], node["type"], _json(aliases), eid))
            if (old["name"], old["aliases"]) != (node["name"], aliases):
                unindex_entity(con, rowid, eid)
                index_entity(con, rowid, eid, node["name"], aliases)
        self._nodes[eid] = (rowid, new)
        self._changed = True

    def delete_node(self, eid: str) -> None:
        for f in self.incident(eid):
            self.remove_fact(f)
        con = self._w
        found = self._node_row(eid)
        if found is not None:
            unindex_entity(con, found[0], eid)
            con.execute("DELETE FROM entities WHERE id = ?", (eid,))
            self._counts["entities"] -= 1
            self._degree.pop(eid, None)
            self._nodes[eid] = None
            self._changed = True

    def incident(self, eid: str, direction: Direction = "both") -> list[Fact]:
        return list(self.iter_incident(eid, direction))

    def fact(self, subject: str, relation: str, object: str) -> Fact | None:
        fid = fact_id(subject, relation, object)
        if self.db.writing:
            row = self._fact_row(fid)
            found = None if row is None else row[0]
        else:
            found = self.fact_by_id(fid)
        return found if found is not None and (found.subject, found.object) == (subject, object) else None

    def put_fact(self, fact: Fact) -> None:
        con, fid, prov = self._w, fact.id, list(fact.provenance)
        found = self._fact_row(fid)
        old = None if found is None else (found[1],)
        p = _json([x.to_dict() for x in prov])
        self._facts[fid] = (fact, p)
        if old is None:
            con.execute("INSERT INTO facts(id, s, o, r, c, p) VALUES (?, ?, ?, ?, ?, ?)",
                        (fid, fact.subject, fact.object, fact.relation, float(fact.confidence), p))
            self._degree[fact.subject] += 1
            self._degree[fact.object] += 1
            self._relations[fact.relation] += 1
            self._counts["facts"] += 1
            before: set[str] = set()
        else:
            con.execute("UPDATE facts SET c = ?, p = ? WHERE id = ?", (float(fact.confidence), p, fid))
            old_prov = json.loads(old[0])
            self._counts["provenances"] -= len(old_prov)
            before = {d["doc_id"] for d in old_prov}
        self._counts["provenances"] += len(prov)
        after = {x.doc_id for x in prov}
        if after != before:
            for d in after - before:
                con.execute("INSERT INTO fact_docs VALUES (?, ?)", (d, fid))
                self._doc_counts[d] += 1
            for d in before - after:
                con.execute("DELETE FROM fact_docs WHERE doc_id = ? AND fact = ?", (d, fid))
                self._doc_counts[d] -= 1
        self._changed = True

    def remove_fact(self, fact: Fact) -> None:
        con = self._w
        found = self._fact_row(fact.id)
        if found is None:
            return
        (s, r, o), p = (found[0].subject, found[0].relation, found[0].object), found[1]
        self._facts[fact.id] = None
        con.execute("DELETE FROM facts WHERE id = ?", (fact.id,))
        docs = {d["doc_id"] for d in json.loads(p)}
        con.execute("DELETE FROM fact_docs WHERE fact = ?", (fact.id,))
        self._degree[s] -= 1
        self._degree[o] -= 1
        self._relations[r] -= 1
        self._doc_counts.subtract(docs)
        self._counts["facts"] -= 1
        self._counts["provenances"] -= len(json.loads(p))
        self._changed = True

    def record_merge(self, merge: Merge, undo: Undo) -> None:
        con = self._w
        seq = con.execute("SELECT coalesce(max(seq), 0) + 1 FROM merges").fetchone()[0]
        con.execute("INSERT OR REPLACE INTO merges(alias, seq, record, canonical) VALUES (?, ?, ?, ?)",
                    (merge.alias, seq, merge_record(merge, undo), merge.canonical))
        self._changed = True

    def set_undo(self, alias: str, undo: Undo) -> None:
        """Replace the undo record of the recorded merge of ``alias``."""
        row = self._w.execute("SELECT record FROM merges WHERE alias = ?", (alias,)).fetchone()
        if row is not None:
            merge, _ = merge_from_record(row[0])
            self._w.execute("UPDATE merges SET record = ? WHERE alias = ?", (merge_record(merge, undo), alias))
            self._changed = True

    def pop_merge(self, alias: str) -> tuple[Merge, Undo] | None:
        con = self._w
        row = con.execute("SELECT record FROM merges WHERE alias = ?", (alias,)).fetchone()
        if row is None:
            return None
        con.execute("DELETE FROM merges WHERE alias = ?", (alias,))
        self._changed = True
        return merge_from_record(row[0])

    # ------------------------------------------------------------------ ledger
    def put_document(self, record: DocumentRecord | None, doc_id: str = "") -> None:
        """Write (or, with ``None``, delete) the ledger row of a document."""
        con = self._w
        con.execute("DELETE FROM documents WHERE doc_id = ?", (record.doc_id if record is not None else doc_id,))
        if record is not None:
            con.execute(f"INSERT INTO documents({DOCUMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                        (record.doc_id, record.source, record.content_hash, record.facts, record.ingested_at,
                         record.text))
        self._changed = True

    def put_run(self, run: RunRecord) -> None:
        """Write a run record."""
        self._w.execute("INSERT INTO runs(run_id, job, record) VALUES (?, ?, ?) ON CONFLICT(run_id) DO UPDATE "
                        "SET job = excluded.job, record = excluded.record", (run.run_id, run.job, _json(run_to_dict(run))))
        self._changed = True

    def document(self, doc_id: str) -> DocumentRecord | None:
        row = self.db.row(f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE doc_id = ?", doc_id)
        return None if row is None else document_from_dict(dict(zip(DOCUMENT_COLUMNS.split(", "), row)))

    def document_list(self) -> list[DocumentRecord]:
        """Every ledger row sorted by id, texts left in the file until read (see :class:`StoredDocument`)."""
        return [StoredDocument(*row, loader=self._text_of)
                for row in self.db.rows(f"SELECT {_LISTED} FROM documents ORDER BY doc_id")]

    def _text_of(self, doc_id: str) -> str:
        row = self.db.row("SELECT text FROM documents WHERE doc_id = ?", doc_id)
        return row[0] if row else ""

    def run_list(self) -> list[RunRecord]:
        return [run_from_dict(json.loads(r)) for (r,) in self.db.rows("SELECT record FROM runs ORDER BY rowid")]

    def knows_document(self, doc_id: str) -> bool:
        """Whether a ledger row or a fact's provenance names ``doc_id``."""
        return self.db.row("SELECT 1 FROM documents WHERE doc_id = ? UNION ALL SELECT 1 FROM fact_docs "
                           "WHERE doc_id = ? LIMIT 1", doc_id, doc_id) is not None

    def doc_facts(self, doc_id: str) -> list[Fact]:
        """The facts carrying a provenance of ``doc_id``, by subject, object and id."""
        rows = self.db.rows(f"SELECT {_FACT}, f.id FROM fact_docs d JOIN facts f ON f.id = d.fact WHERE d.doc_id = ? "
                            "ORDER BY f.s, f.o, f.id", doc_id)
        return [_fact(r[:5]) for r in rows]

    def doc_fact_count(self, doc_id: str) -> int:
        return int(self.db.row("SELECT count(*) FROM fact_docs WHERE doc_id = ?", doc_id)[0])

    # ------------------------------------------------------------------- reads
    def resolve(self, eid: str) -> str:
        """The id ``eid`` denotes now (merges followed, cycle-safe)."""
        con, seen = self.db.con(), set()
        while eid not in seen:
            seen.add(eid)
            row = con.execute("SELECT canonical FROM merges WHERE alias = ?", (eid,)).fetchone()
            if row is None:
                break
            eid = row[0]
        return eid

    def has(self, eid: str) -> bool:
        return self.db.row("SELECT 1 FROM entities WHERE id = ?", eid) is not None

    def entity(self, eid: str) -> Entity:
        """The entity of node ``eid`` (which must exist)."""
        row = self.db.row("SELECT name, type, aliases FROM entities WHERE id = ?", eid)
        if row is None:
            raise KeyError(eid)
        return _entity(eid, *row)

    def iter_entities(self) -> Iterator[Entity]:
        for row in self.db.con().execute("SELECT id, name, type, aliases FROM entities ORDER BY rowid"):
            yield _entity(*row)

    def iter_facts(self) -> Iterator[Fact]:
        for row in self.db.con().execute(f"SELECT {_FACT} FROM facts ORDER BY rowid"):
            yield _fact(row)

    def fact_by_id(self, fid: str) -> Fact | None:
        row = self.db.row(f"SELECT {_FACT} FROM facts WHERE id = ?", fid)
        return None if row is None else _fact(row)

    def iter_incident(self, eid: str, direction: Direction = "both", relation: str | None = None) -> Iterator[Fact]:
        """Facts touching ``eid`` (of ``relation`` when given): out-facts then in-facts, each in insertion order
        (a self-loop once when both)."""
        con = self.db.con()
        rel = "" if relation is None else " AND r = ?"
        extra = () if relation is None else (relation,)
        if direction in ("out", "both"):
            for row in con.execute(f"SELECT {_FACT} FROM facts WHERE s = ?{rel} ORDER BY rowid", (eid, *extra)):
                yield _fact(row)
        if direction in ("in", "both"):
            loop = " AND s != o" if direction == "both" else ""
            for row in con.execute(f"SELECT {_FACT} FROM facts WHERE o = ?{rel}{loop} ORDER BY rowid", (eid, *extra)):
                yield _fact(row)

    def degree(self, eid: str) -> int:
        """Facts touching ``eid`` (a self-loop twice); 0 for an unknown id."""
        row = self.db.row("SELECT degree FROM entities WHERE id = ?", eid)
        return (int(row[0]) if row else 0) + (self._degree.get(eid, 0) if self.db.writing else 0)

    def merge_list(self) -> list[Merge]:
        return [merge_from_record(r)[0] for (r,) in self.db.rows("SELECT record FROM merges ORDER BY seq")]

    def has_merge(self, alias: str) -> bool:
        return self.db.row("SELECT 1 FROM merges WHERE alias = ?", alias) is not None

    def undo_items(self) -> list[tuple[Merge, Undo]]:
        """Every merge with its undo record, oldest first."""
        return [merge_from_record(r) for (r,) in self.db.rows("SELECT record FROM merges ORDER BY seq")]
