"""Read-only Cypher on the memory store, through ``grand-cypher``."""

from __future__ import annotations

from typing import Any

import networkx as nx

from kgllm.errors import InputError
from kgllm.stores.cypher_guard import bind_params, check_read_only

__all__ = ["run_query"]


def run_query(g: nx.MultiDiGraph, cypher: str, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Run ``cypher`` (checked read-only, parameters bound as literals) on ``g``; at most ``limit`` rows.

    Raises
    ------
    InputError
        The query may write (see :func:`~kgllm.stores.cypher_guard.check_read_only`), a
        parameter is missing or of the wrong type, or grand-cypher cannot run it.
    """
    from grandcypher import GrandCypher

    check_read_only(cypher)
    text = bind_params(cypher, params)
    try:
        result = GrandCypher(g, limit=limit).run(text)
    except Exception as exc:  # grand-cypher raises lark and plain exceptions
        raise InputError(f"Cypher query failed: {exc}\n  query: {cypher}") from exc
    columns = [str(c) for c in result]
    values = [list(v) for v in result.values()]
    rows = [dict(zip(columns, (_plain(v[i]) for v in values))) for i in range(len(values[0]) if values else 0)]
    return rows[:limit]


def _plain(value: Any) -> Any:
    """Turn grand-cypher's cell values into plain JSON-able values."""
    if isinstance(value, dict):
        # An edge on a MultiDiGraph comes back as {key: attrs}; keep the useful attributes.
        if value and all(isinstance(v, dict) for v in value.values()):
            edges = [_plain(v) for v in value.values()]
            return edges[0] if len(edges) == 1 else edges
        return {k: _plain(v) for k, v in value.items() if k not in ("__labels__", "provenance")}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
