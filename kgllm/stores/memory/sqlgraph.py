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


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching itself (escape character ``!``)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _entity(eid: str, name: str, type_: str, aliases: str) -> Entity:
    return Entity(eid, name, type_, tuple(json.loads(aliases)))


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


class SqlGraph:
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
        return changed

    def abort(self) -> None:
        """Forget what a failed write left in memory (the transaction is rolled back)."""
        self._merged, self._merged_revision = None, -1

    def touch(self) -> None:
        """Count the write as a change (it bumps the revision) even if it changed no row."""
        self._changed = True

    # ------------------------------------------------------------ GraphAccess
    def merge_map(self) -> dict[str, str]:
        if self._merged is None:
            self._merged = dict(self.db.rows("SELECT alias, canonical FROM merges"))
        return self._merged

    def node(self, eid: str) -> Node | None:
        row = self.db.row("SELECT name, type, aliases FROM entities WHERE id = ?", eid)
        return None if row is None else {"id": eid, "name": row[0], "type": row[1], "aliases": json.loads(row[2])}

    def set_node(self, eid: str, node: Node) -> None:
        con, aliases = self._w, list(node["aliases"])
        row = con.execute("SELECT rowid, name, aliases FROM entities WHERE id = ?", (eid,)).fetchone()
        if row is None:
            rowid = con.execute("INSERT INTO entities(id, name, type, aliases) VALUES (?, ?, ?, ?)",
                                (eid, node["name"], node["type"], _json(aliases))).lastrowid
            index_entity(con, rowid, eid, node["name"], aliases)
            self._counts["entities"] += 1
        else:
            con.execute("UPDATE entities SET name = ?, type = ?, aliases = ? WHERE id = ?",
                        (node["name"], node["type"], _json(aliases), eid))
            if (row[1], json.loads(row[2])) != (node["name"], aliases):
                unindex_entity(con, row[0], eid)
                index_entity(con, row[0], eid, node["name"], aliases)
        self._changed = True

    def delete_node(self, eid: str) -> None:
        for f in self.incident(eid):
            self.remove_fact(f)
        con = self._w
        row = con.execute("SELECT rowid FROM entities WHERE id = ?", (eid,)).fetchone()
        if row is not None:
            unindex_entity(con, row[0], eid)
            con.execute("DELETE FROM entities WHERE id = ?", (eid,))
            self._counts["entities"] -= 1
            self._degree.pop(eid, None)
            self._changed = True

    def incident(self, eid: str, direction: Direction = "both") -> list[Fact]:
        return list(self.iter_incident(eid, direction))

    def fact(self, subject: str, relation: str, object: str) -> Fact | None:
        found = self.fact_by_id(fact_id(subject, relation, object))
        return found if found is not None and (found.subject, found.object) == (subject, object) else None

    def put_fact(self, fact: Fact) -> None:
        con, fid, prov = self._w, fact.id, list(fact.provenance)
        old = con.execute("SELECT p FROM facts WHERE id = ?", (fid,)).fetchone()
        p = _json([x.to_dict() for x in prov])
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
        con.executemany("INSERT INTO fact_docs VALUES (?, ?)", [(d, fid) for d in after - before])
        con.executemany("DELETE FROM fact_docs WHERE doc_id = ? AND fact = ?", [(d, fid) for d in before - after])
        self._doc_counts.update(after - before)
        self._doc_counts.subtract(before - after)
        self._changed = True

    def remove_fact(self, fact: Fact) -> None:
        con = self._w
        row = con.execute("SELECT s, o, r, p FROM facts WHERE id = ?", (fact.id,)).fetchone()
        if row is None:
            return
        s, o, r, p = row
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

    def existing(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` that are entities."""
        found: set[str] = set()
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            found.update(r[0] for r in self.db.rows(
                f"SELECT id FROM entities WHERE id IN ({','.join('?' * len(part))})", *part))
        return found

    def entity(self, eid: str) -> Entity:
        """The entity of node ``eid`` (which must exist)."""
        row = self.db.row("SELECT name, type, aliases FROM entities WHERE id = ?", eid)
        if row is None:
            raise KeyError(eid)
        return _entity(eid, *row)

    def entities_of(self, ids: Iterable[str]) -> dict[str, Entity]:
        """The entities among ``ids``, by id."""
        out: dict[str, Entity] = {}
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            for row in self.db.rows(f"SELECT id, name, type, aliases FROM entities WHERE id IN "
                                    f"({','.join('?' * len(part))})", *part):
                out[row[0]] = _entity(*row)
        return out

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

    def degrees(self, ids: Iterable[str]) -> dict[str, int]:
        """:meth:`degree` of each of ``ids`` that is an entity."""
        ids = list(dict.fromkeys(ids))
        out: dict[str, int] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            out.update(self.db.rows(f"SELECT id, degree FROM entities WHERE id IN ({','.join('?' * len(part))})",
                                    *part))
        return out

    def names_for(self, key: str) -> set[str]:
        """Entities with a name or alias whose :func:`~kgllm.types.entity_id` is ``key``."""
        return {r[0] for r in self.db.rows("SELECT DISTINCT eid FROM names WHERE key = ?", key)}

    def token_matches(self, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        """For each token key (see :mod:`kgllm.stores.names`) the entities named so: ``{key: {eid: method}}``,
        method ``exact`` (id or name) or ``alias``."""
        keys = [k for k in dict.fromkeys(keys) if k]
        out: dict[str, dict[str, str]] = {}
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            for key, eid, alias in self.db.rows(f"SELECT tokens, eid, min(alias) FROM names WHERE tokens IN "
                                                f"({','.join('?' * len(part))}) GROUP BY tokens, eid", *part):
                out.setdefault(key, {})[eid] = "alias" if alias else "exact"
        return out

    def name_candidates(self, words: Iterable[str], prefix: bool = False, any_word: bool = True,
                        limit: int | None = None) -> list[tuple[str, list[str]]]:
        """``(id, name keys)`` of entities whose names hold the words (full-text index; most facts first when
        ``limit`` cuts): candidates for ranking, a superset of those that share a whole word. A word without a
        letter or digit (``&``) cannot be in the index: names holding it are found by a scan."""
        words = list(dict.fromkeys(words))
        cut = f" ORDER BY e.degree DESC LIMIT {int(limit)}" if limit else ""
        query = fts_query(words, prefix=prefix, any_word=any_word)
        rows = self.db.rows("SELECT e.id, s.names FROM name_search s JOIN entities e ON e.rowid = s.rowid "
                            f"WHERE name_search MATCH ?{cut}", query) if query else []
        odd = [w for w in words if not any(ch.isalnum() for ch in w)]
        if odd and (any_word or not query):
            like = " OR ".join("(' ' || replace(s.names, char(10), ' ') || ' ') LIKE ? ESCAPE '!'" for _ in odd)
            pattern = [f"% {_like(w)}{'%' if prefix else ' %'}" for w in odd]
            seen = {r[0] for r in rows}
            rows += [r for r in self.db.rows("SELECT e.id, s.names FROM name_search s JOIN entities e ON "
                                             f"e.rowid = s.rowid WHERE {like}{cut}", *pattern) if r[0] not in seen]
        return [(eid, names.split("\n")) for eid, names in rows]

    def names_starting(self, key: str, limit: int) -> list[str]:
        """Entities with a name key that starts with ``key``, most facts first."""
        hi = key[:-1] + chr(ord(key[-1]) + 1) if key else ""
        rows = self.db.rows("SELECT n.eid FROM names n JOIN entities e ON e.id = n.eid WHERE n.key >= ? "
                            "AND n.key < ? GROUP BY n.eid ORDER BY max(e.degree) DESC LIMIT ?", key, hi, limit)
        return [r[0] for r in rows]

    def top_degrees(self, limit: int) -> list[tuple[str, int]]:
        """The ``limit`` entities with most facts and their degrees."""
        return [(r[0], int(r[1])) for r in self.db.rows(
            "SELECT id, degree FROM entities ORDER BY degree DESC, rowid LIMIT ?", limit)]

    def degree_counts(self) -> dict[int, int]:
        """How many entities have each degree."""
        return {int(d): int(n) for d, n in self.db.rows("SELECT degree, count(*) FROM entities GROUP BY degree")}

    def relation_counts(self) -> dict[str, int]:
        """Facts per relation."""
        return {r: int(n) for r, n in self.db.rows("SELECT r, n FROM relations ORDER BY r")}

    def counts(self) -> dict[str, int]:
        """The store's :meth:`~kgllm.stores.memory.MemoryStore.stats`."""
        with self.db.snapshot() as con:
            meta = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('entities', 'facts', 'provenances')"))
            one = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("relations", "doc_counts", "merges")]
        return {"entities": int(meta.get("entities", 0)), "facts": int(meta.get("facts", 0)), "relations": one[0],
                "documents": one[1], "provenances": int(meta.get("provenances", 0)), "merges": one[2]}

    def merge_list(self) -> list[Merge]:
        return [merge_from_record(r)[0] for (r,) in self.db.rows("SELECT record FROM merges ORDER BY seq")]

    def has_merge(self, alias: str) -> bool:
        return self.db.row("SELECT 1 FROM merges WHERE alias = ?", alias) is not None

    def undo_items(self) -> list[tuple[Merge, Undo]]:
        """Every merge with its undo record, oldest first."""
        return [merge_from_record(r) for (r,) in self.db.rows("SELECT record FROM merges ORDER BY seq")]
