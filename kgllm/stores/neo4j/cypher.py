"""User Cypher on the Neo4j store: the memory store's dialect rewritten for Neo4j, run read-only.

Read-only Cypher given to :meth:`~kgllm.stores.neo4j.Neo4jStore.query` is checked by
:func:`~kgllm.stores.cypher_guard.check_read_only`, rewritten so that it sees what
the memory store's ``grand-cypher`` sees (every node pattern gets the ``Entity``
label, so merge records stay invisible, and ``==`` means ``=``) and run in a
READ transaction. Whole nodes come back as dicts of ``id``, ``name``, ``type``,
``aliases`` and relationships as dicts of ``id``, ``relation``, ``confidence``.

Examples
--------
>>> from kgllm.stores.neo4j import rewrite_cypher
>>> rewrite_cypher('MATCH (a)-[r:born_in]->(b {name: "Oslo (x)"}) WHERE a.name == "A" RETURN count(b)')
'MATCH (a:Entity)-[r:born_in]->(b:Entity {name: "Oslo (x)"}) WHERE a.name = "A" RETURN count(b)'
"""

from __future__ import annotations

import re
from typing import Any

from kgllm.errors import InputError
from kgllm.stores.cypher_guard import bind_params, check_read_only, tokenize
from kgllm.stores.neo4j.connection import Connection
from kgllm.stores.neo4j.records import ENTITY, node_dict

__all__ = ["rewrite_cypher", "Queries"]

_NODE_PATTERN = re.compile(
    r"(?<![\w$`.\]])\(\s*(?P<var>[A-Za-z_][A-Za-z0-9_]*|`[^`]*`)?(?P<rest>\s*(?::\s*(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]*`)\s*)*"
    r"(?:\{[^{}()]*\})?\s*)\)")


def rewrite_cypher(cypher: str) -> str:
    """Turn memory-store Cypher (grand-cypher dialect) into equivalent Neo4j Cypher.

    Node patterns get the ``Entity`` label and ``==`` becomes ``=``; string
    literals and comments are left alone.

    Parameters
    ----------
    cypher : str
        A read-only query as accepted by :meth:`MemoryStore.query`.

    Returns
    -------
    str
        The query to send to Neo4j.

    Examples
    --------
    >>> rewrite_cypher("MATCH (a) WHERE a.name == 'x == (y)' RETURN COUNT(a)")
    "MATCH (a:Entity) WHERE a.name = 'x == (y)' RETURN COUNT(a)"
    >>> rewrite_cypher("MATCH ()-[r]->(:PERSON) RETURN r")
    'MATCH (:Entity)-[r]->(:Entity:PERSON) RETURN r'
    """
    hidden: list[str] = []
    parts = []
    for tok in tokenize(cypher):
        if tok.kind in ("string", "comment"):
            hidden.append(tok.text)
            parts.append(f"\x00{len(hidden) - 1}\x00")
        else:
            parts.append(tok.text)
    text = "".join(parts).replace("==", "=")
    text = _NODE_PATTERN.sub(lambda m: f"({m.group('var') or ''}:{ENTITY}{m.group('rest')})", text)
    return re.sub("\x00(\\d+)\x00", lambda m: hidden[int(m.group(1))], text)


def _plain(value: Any) -> Any:
    """Neo4j values as the memory store returns them (plain dicts and lists)."""
    from neo4j.graph import Node, Path as NeoPath, Relationship

    if isinstance(value, Node):
        return node_dict(dict(value)) if value.get("id") is not None else dict(value)
    if isinstance(value, Relationship):
        return {"id": value.get("id"), "relation": value.get("relation"), "confidence": value.get("confidence")}
    if isinstance(value, NeoPath):
        return [_plain(r) for r in value.relationships]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Queries(Connection):
    """:meth:`query` of :class:`~kgllm.stores.neo4j.Neo4jStore`."""

    def query(self, cypher: str, params: dict[str, Any] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Run a read-only Cypher query (memory-store dialect) and return at most ``limit`` rows as dicts.

        Runs in a READ transaction with timeout ``query_timeout``.

        Raises
        ------
        InputError
            The query may write, has a syntax error, misses a parameter or timed out.
        """
        params = dict(params or {})
        check_read_only(cypher)
        bind_params(cypher, params)  # the memory store's parameter checks
        text = rewrite_cypher(cypher)

        def work(tx: Any) -> list[dict[str, Any]]:
            rows = []
            for record in tx.run(text, params):
                if len(rows) >= limit:
                    break
                rows.append({k: _plain(v) for k, v in zip(record.keys(), record.values())})
            return rows

        try:
            return self._run("query", work, write=False, timeout=self.query_timeout)
        except InputError as exc:
            raise InputError(f"Cypher query failed: {exc}\n  query: {cypher}") from exc
