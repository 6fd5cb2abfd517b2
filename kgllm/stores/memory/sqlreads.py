"""Reads of a SQLite graph file that answer from its indexes alone: counts, degrees, names, the name search.

Mixed into :class:`~kgllm.stores.memory.sqlgraph.SqlGraph` (which provides ``db``, the
:class:`~kgllm.stores.memory.sqlite.SqliteFile`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Iterable

from kgllm.stores.names import fts_query
from kgllm.types import Entity, Fact, Provenance

if TYPE_CHECKING:
    from kgllm.stores.memory.sqlite import SqliteFile

__all__ = ["IndexReads", "entity_row"]


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching itself (escape character ``!``)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _in(ids: list[str]) -> Iterable[list[str]]:
    """``ids`` in parts small enough for one ``IN (...)`` list."""
    for i in range(0, len(ids), 500):
        yield ids[i:i + 500]


def entity_row(eid: str, name: str, type_: str, aliases: str) -> Entity:
    """The entity of an ``entities`` row."""
    return Entity(eid, name, type_, tuple(json.loads(aliases)))


class IndexReads:
    """Counts, degrees and name lookups of :class:`~kgllm.stores.memory.sqlgraph.SqlGraph`."""

    db: "SqliteFile"

    def existing(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` that are entities."""
        found: set[str] = set()
        for part in _in(list(dict.fromkeys(ids))):
            found.update(r[0] for r in self.db.rows(
                f"SELECT id FROM entities WHERE id IN ({','.join('?' * len(part))})", *part))
        return found

    def entities_of(self, ids: Iterable[str]) -> dict[str, Entity]:
        """The entities among ``ids``, by id."""
        out: dict[str, Entity] = {}
        for part in _in(list(dict.fromkeys(ids))):
            for row in self.db.rows(f"SELECT id, name, type, aliases FROM entities WHERE id IN "
                                    f"({','.join('?' * len(part))})", *part):
                out[row[0]] = entity_row(*row)
        return out

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


    def facts_between(self, ids: Iterable[str]) -> list[Fact]:
        """The facts whose ends are both among ``ids``, in insertion order."""
        ids = list(dict.fromkeys(ids))
        wanted = set(ids)
        rows: list = []
        for part in _in(ids):
            rows += [r for r in self.db.rows(f"SELECT rowid, s, r, o, c, p FROM facts WHERE s IN "
                                             f"({','.join('?' * len(part))})", *part) if r[3] in wanted]
        return [Fact(s, r, o, float(c), tuple(Provenance(**d) for d in json.loads(p)))
                for _, s, r, o, c, p in sorted(rows)]

    def search_names(self, words: Iterable[str], prefix: bool = True, any_word: bool = False,
                     limit: int = 100) -> list[tuple[Entity, int]]:
        """The best-connected ``limit`` entities whose names hold the words (as :meth:`name_candidates`), with their
        degrees: one full-text query."""
        query = fts_query(words, prefix=prefix, any_word=any_word)
        if not query:
            return []
        rows = self.db.rows("SELECT e.id, e.name, e.type, e.aliases, e.degree FROM name_search s JOIN entities e "
                            "ON e.rowid = s.rowid WHERE name_search MATCH ? ORDER BY e.degree DESC LIMIT ?",
                            query, int(limit))
        return [(entity_row(*r[:4]), int(r[4])) for r in rows]

    def neighbors_page(self, eid: str, direction: str, relations: list[str], offset: int,
                       limit: int) -> tuple[int, list[Fact]]:
        """``(total, page)`` of the facts touching ``eid`` (of ``relations`` when given) ordered by relation,
        subject and object: only the page's rows are read whole."""
        rel = f" AND r IN ({','.join('?' * len(relations))})" if relations else ""
        parts, params = [], []
        if direction in ("out", "both"):
            parts.append(f"SELECT rowid FROM facts WHERE s = ?{rel}")
            params += [eid, *relations]
        if direction in ("in", "both"):
            parts.append(f"SELECT rowid FROM facts WHERE o = ?{rel}" + (" AND s != o" if direction == "both" else ""))
            params += [eid, *relations]
        union = " UNION ALL ".join(parts)
        con = self.db.con()
        rows = con.execute(f"SELECT s, r, o, c, p, count(*) OVER () FROM facts WHERE rowid IN ({union}) "
                           "ORDER BY r, s, o LIMIT ? OFFSET ?", [*params, int(limit), int(offset)]).fetchall()
        total = rows[0][5] if rows else con.execute(f"SELECT count(*) FROM ({union})", params).fetchone()[0]
        return int(total), [Fact(s, r, o, float(c), tuple(Provenance(**d) for d in json.loads(p)))
                            for s, r, o, c, p, _ in rows]
