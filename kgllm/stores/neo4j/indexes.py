"""The Neo4j store's index reads: names, degrees, relation counts; what the linker and the explorer ask.

The same methods as the memory store's (:class:`~kgllm.stores.memory.MemoryStore`), each one query
answered from the server's indexes and count store: names from the full-text index (candidates, checked
exactly here), degrees from each node's relationship counts, facts per relation from the count store.
"""

from __future__ import annotations

from typing import Any, Iterable

from kgllm.stores.names import token_key
from kgllm.stores.neo4j.connection import Connection
from kgllm.stores.neo4j.records import ENTITY, FULLTEXT_INDEX, entity_from_props
from kgllm.types import Entity, Fact, entity_id

__all__ = ["IndexReads", "lucene_phrase"]

_DEGREE = "COUNT { (n)-->() } + COUNT { (n)<--() }"
_PER_PHRASE = 50  # full-text hits read per name looked up (an exact name scores first: it is the shortest field)


def lucene_phrase(text: str, prefix: bool = False) -> str:
    """``text`` as a Lucene term or phrase query (special characters escaped); ``prefix``: its last word may be
    the start of a longer one.

    >>> lucene_phrase("ada l."), lucene_phrase("lind", prefix=True)
    ('"ada l."', 'lind*')
    """
    if prefix and " " not in text.strip():
        special = set('+-&|!(){}[]^"~*?:\\/')
        return "".join("\\" + ch if ch in special else ch for ch in text.strip()) + "*"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class IndexReads(Connection):
    """Name lookups, degrees and counts of :class:`~kgllm.stores.neo4j.Neo4jStore`."""

    def relations(self) -> dict[str, int]:
        """Facts per relation name, sorted by name (the count store: no relationship is read)."""

        def work(tx: Any) -> dict[str, int]:
            types = [r["t"] for r in tx.run("CALL db.relationshipTypes() YIELD relationshipType AS t RETURN t")]
            out = {}
            for t in sorted(types):
                n = tx.run(f"MATCH ()-[r:`{t.replace('`', '``')}`]->() RETURN count(r) AS n").single()["n"]
                if n:
                    out[t] = int(n)
            return out

        return self._run("relations", work, write=False)

    def degree(self, entity_id: str) -> int:
        """Facts touching ``entity_id`` (a self-loop twice; 0 when unknown)."""
        rows = self._read("degree", f"MATCH (n:{ENTITY} {{id: $id}}) RETURN {_DEGREE} AS d", id=entity_id)
        return int(rows[0]["d"]) if rows else 0

    def degrees(self, entity_ids: Iterable[str]) -> dict[str, int]:
        """:meth:`degree` of each of ``entity_ids`` that is an entity."""
        return {r["id"]: int(r["d"]) for r in self._read(
            "degrees", f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}}) RETURN id, {_DEGREE} AS d",
            ids=sorted(set(entity_ids)))}

    def top_degrees(self, limit: int = 10) -> list[tuple[Entity, int]]:
        """The ``limit`` entities with the most facts and their degrees, most first."""
        rows = self._read("top degrees", f"MATCH (n:{ENTITY}) WITH n, {_DEGREE} AS d ORDER BY d DESC, n.id "
                                         "LIMIT $k RETURN n, d", k=int(limit))
        return [(entity_from_props(dict(r["n"])), int(r["d"])) for r in rows]

    def degree_counts(self) -> dict[int, int]:
        """How many entities have each degree."""
        rows = self._read("degree counts", f"MATCH (n:{ENTITY}) WITH {_DEGREE} AS d RETURN d, count(*) AS n")
        return {int(r["d"]): int(r["n"]) for r in rows}

    def get_entities(self, entity_ids: Iterable[str]) -> dict[str, Entity]:
        """The entities among ``entity_ids`` (merges not followed), by id."""
        rows = self._read("get entities", f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}}) RETURN n",
                          ids=sorted(set(entity_ids)))
        return {r["n"]["id"]: entity_from_props(dict(r["n"])) for r in rows}

    def facts_between(self, entity_ids: Iterable[str]) -> list[Fact]:
        """The facts whose two ends are both among ``entity_ids``."""
        from kgllm.stores.neo4j.records import FACT_RETURN, fact_from_row

        rows = self._read("facts between", f"MATCH (s:{ENTITY})-[r]->(o:{ENTITY}) WHERE s.id IN $ids AND o.id IN $ids "
                                           f"WITH s, r, o ORDER BY s.id, o.id, r.id RETURN {FACT_RETURN}",
                          ids=sorted(set(entity_ids)))
        return [fact_from_row(r) for r in rows]

    def document_facts(self, doc_id: str) -> list[Fact]:
        """The facts carrying a provenance of ``doc_id`` (Neo4j cannot index list elements: a pass over the facts)."""
        from kgllm.stores.neo4j.records import FACT_RETURN, fact_from_row

        rows = self._read("document facts", f"MATCH (s:{ENTITY})-[r]->(o:{ENTITY}) WHERE $doc IN r.pdocs "
                                            f"WITH s, r, o ORDER BY s.id, o.id, r.id RETURN {FACT_RETURN}", doc=doc_id)
        return [fact_from_row(r) for r in rows]

    def match_names(self, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        """The entities each token key names (see :mod:`kgllm.stores.names`): ``{key: {entity id: method}}``.

        One query: each key is looked up as a phrase in the full-text index, and the hits' names are
        compared with it exactly.
        """
        keys = [k for k in dict.fromkeys(keys) if k and any(ch.isalnum() for ch in k)]
        if not keys:
            return {}
        rows = self._read("match names", "UNWIND $qs AS q CALL { WITH q CALL db.index.fulltext.queryNodes($index, q) "
                                         f"YIELD node RETURN node LIMIT {_PER_PHRASE} }} RETURN DISTINCT node",
                          qs=[lucene_phrase(k) for k in keys], index=FULLTEXT_INDEX)
        wanted = set(keys)
        out: dict[str, dict[str, str]] = {}
        for r in rows:
            e = entity_from_props(dict(r["node"]))
            for text, method in [(e.id, "exact"), (e.name, "exact")] + [(a, "alias") for a in e.aliases]:
                key = token_key(text)
                if key in wanted and out.setdefault(key, {}).get(e.id) != "exact":
                    out[key][e.id] = method
        return out

    def search_names(self, words: Iterable[str], prefix: bool = True, any_word: bool = False,
                     limit: int = 100) -> list[tuple[Entity, int]]:
        """The best full-text matches of ``words`` (see :meth:`name_candidates`) with their degrees, most facts
        first."""
        terms = [lucene_phrase(w, prefix=prefix) for w in dict.fromkeys(words) if any(ch.isalnum() for ch in w)]
        if not terms:
            return []
        rows = self._read("search names", "CALL db.index.fulltext.queryNodes($index, $q) YIELD node AS n "
                                          f"WITH n LIMIT $k RETURN n, {_DEGREE} AS d ORDER BY d DESC",
                          index=FULLTEXT_INDEX, q=(" OR " if any_word else " AND ").join(terms), k=int(limit))
        return [(entity_from_props(dict(r["n"])), int(r["d"])) for r in rows]

    def name_candidates(self, words: Iterable[str], prefix: bool = False, any_word: bool = True,
                        limit: int | None = None) -> list[tuple[str, list[str]]]:
        """``(entity id, name keys)`` of entities with a name holding the words (all of them unless ``any_word``;
        ``prefix``: a word starting so), best full-text matches first, at most ``limit``."""
        terms = [lucene_phrase(w, prefix=prefix) for w in dict.fromkeys(words) if any(ch.isalnum() for ch in w)]
        if not terms:
            return []
        query = (" OR " if any_word else " AND ").join(terms)
        rows = self._read("name candidates", "CALL db.index.fulltext.queryNodes($index, $q) YIELD node "
                                             "RETURN node.id AS id, node.search AS search LIMIT $k",
                          index=FULLTEXT_INDEX, q=query, k=int(limit or 10_000))
        return [(r["id"], (r["search"] or entity_id(r["id"])).split("\n")) for r in rows]
