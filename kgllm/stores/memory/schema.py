"""The tables of a SQLite graph file (layout version 2), and the upgrade of version 1 files in place.

Version 2 answers reads from indexes instead of loading the graph:

* ``entities`` (``rowid`` = insertion order; ``degree`` = facts touching the entity, a self-loop twice),
  ``facts`` (indexed by subject and relation, object and relation; provenance as JSON);
* ``names`` (each distinct key of an entity's id, name and aliases, in the :func:`~kgllm.types.entity_id`
  and the linker's token form, see :mod:`kgllm.stores.names`) and ``name_search``, an FTS5 index of those
  keys whose ``rowid`` is the entity's;
* ``relations`` (facts per relation), ``fact_docs`` (which facts carry a provenance of which document) and
  ``doc_counts`` (how many), and counters in ``meta`` (``entities``, ``facts``, ``provenances``);
* ``merges`` (with the alias's ``canonical`` id), the ledger (``documents``, ``runs``), ``meta``.

A version 1 file (kgllm before the graph was queried) is upgraded in one transaction by
:func:`upgrade`: the new tables are filled from its rows, nothing else changes.
"""

from __future__ import annotations

import json
import sqlite3

from kgllm.stores.names import name_keys, search_text

__all__ = ["LAYOUT_VERSION", "SCHEMA", "create", "upgrade", "index_entity", "unindex_entity"]

LAYOUT_VERSION = 2
"""The ``version`` in ``meta`` of the SQLite files this kgllm writes (files of version 1 are upgraded)."""

_TABLES = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities(id TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
                                    aliases TEXT NOT NULL, degree INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS facts(id TEXT PRIMARY KEY, s TEXT NOT NULL, o TEXT NOT NULL, r TEXT NOT NULL,
                                 c REAL NOT NULL, p TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS merges(alias TEXT PRIMARY KEY, seq INTEGER NOT NULL, record TEXT NOT NULL,
                                  canonical TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS documents(doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, content_hash TEXT NOT NULL,
                                     facts INTEGER NOT NULL, ingested_at TEXT NOT NULL, text TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS runs(run_id TEXT PRIMARY KEY, job TEXT NOT NULL, record TEXT NOT NULL);
"""

_INDEXES = """
CREATE INDEX IF NOT EXISTS facts_s ON facts(s, r);
CREATE INDEX IF NOT EXISTS facts_o ON facts(o, r);
CREATE INDEX IF NOT EXISTS entities_degree ON entities(degree);
CREATE TABLE IF NOT EXISTS names(key TEXT NOT NULL, tokens TEXT NOT NULL, eid TEXT NOT NULL, alias INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS names_key ON names(key);
CREATE INDEX IF NOT EXISTS names_tokens ON names(tokens);
CREATE INDEX IF NOT EXISTS names_eid ON names(eid);
CREATE VIRTUAL TABLE IF NOT EXISTS name_search USING fts5(names, tokenize = 'unicode61 remove_diacritics 0',
                                                          prefix = '2 3');
CREATE TABLE IF NOT EXISTS relations(r TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fact_docs(doc_id TEXT NOT NULL, fact TEXT NOT NULL, PRIMARY KEY (doc_id, fact))
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fact_docs_fact ON fact_docs(fact);
CREATE TABLE IF NOT EXISTS doc_counts(doc_id TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
"""

SCHEMA = _TABLES + _INDEXES
"""Every table and index of a version 2 file."""


def _script(con: sqlite3.Connection, sql: str) -> None:
    for stmt in sql.split(";"):
        if stmt.strip():
            con.execute(stmt)


def create(con: sqlite3.Connection, format_name: str) -> None:
    """Make the tables of a new file (inside the caller's transaction)."""
    _script(con, SCHEMA)
    con.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("format", format_name), ("version", str(LAYOUT_VERSION)), ("revision", "0"),
        ("entities", "0"), ("facts", "0"), ("provenances", "0")])


def index_entity(con: sqlite3.Connection, rowid: int, eid: str, name: str, aliases: list[str]) -> None:
    """Write the ``names`` rows and the full-text document of an entity (none there yet)."""
    keys = name_keys(eid, name, aliases)
    for k, t, a in keys:
        con.execute("INSERT INTO names(key, tokens, eid, alias) VALUES (?, ?, ?, ?)", (k, t, eid, int(a)))
    con.execute("INSERT INTO name_search(rowid, names) VALUES (?, ?)", (rowid, search_text(k for k, _, _ in keys)))


def unindex_entity(con: sqlite3.Connection, rowid: int, eid: str) -> None:
    """Remove an entity's ``names`` rows and full-text document."""
    con.execute("DELETE FROM names WHERE eid = ?", (eid,))
    con.execute("DELETE FROM name_search WHERE rowid = ?", (rowid,))


def upgrade(con: sqlite3.Connection) -> None:
    """Turn a version 1 file into version 2 (inside the caller's write transaction; all or nothing)."""
    columns = {row[1] for row in con.execute("PRAGMA table_info(entities)")}
    if "degree" not in columns:
        con.execute("ALTER TABLE entities ADD COLUMN degree INTEGER NOT NULL DEFAULT 0")
    if "canonical" not in {row[1] for row in con.execute("PRAGMA table_info(merges)")}:
        con.execute("ALTER TABLE merges ADD COLUMN canonical TEXT NOT NULL DEFAULT ''")
    if "text" not in {row[1] for row in con.execute("PRAGMA table_info(documents)")}:
        con.execute("ALTER TABLE documents ADD COLUMN text TEXT NOT NULL DEFAULT ''")
    _script(con, _INDEXES)
    for table in ("names", "name_search", "relations", "fact_docs", "doc_counts"):
        con.execute(f"DELETE FROM {table}")
    con.execute("UPDATE merges SET canonical = json_extract(record, '$.merge.canonical')")
    con.execute("UPDATE entities SET degree = (SELECT count(*) FROM facts WHERE s = entities.id) "
                "+ (SELECT count(*) FROM facts WHERE o = entities.id)")
    con.execute("INSERT INTO relations SELECT r, count(*) FROM facts GROUP BY r")
    con.execute("INSERT OR IGNORE INTO fact_docs SELECT json_extract(j.value, '$.doc_id'), facts.id "
                "FROM facts, json_each(facts.p) AS j")
    con.execute("INSERT INTO doc_counts SELECT doc_id, count(*) FROM fact_docs GROUP BY doc_id")
    rows = con.execute("SELECT rowid, id, name, aliases FROM entities").fetchall()
    for rowid, eid, name, aliases in rows:
        index_entity(con, rowid, eid, name, json.loads(aliases))
    provenances = con.execute("SELECT coalesce(sum(json_array_length(p)), 0) FROM facts").fetchone()[0]
    counts = {"entities": len(rows), "facts": con.execute("SELECT count(*) FROM facts").fetchone()[0],
              "provenances": provenances, "version": LAYOUT_VERSION}
    con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in counts.items()])
    con.execute("DROP TABLE IF EXISTS changes")
