"""Read-only Cypher on the memory store, through ``grand-cypher``, and the part of a SQLite graph it needs.

``grand-cypher`` runs on a networkx graph. In memory that is the store's own graph; on a SQLite
file, a query whose one path pattern pins a node by ``name`` or ``id`` (``(a {name: "X"})`` or
``WHERE a.name = "X"`` without ``OR``/``NOT``) can only match within as many hops of that node as
the pattern has edges, so only that neighbourhood is read into networkx (:func:`scope`). Any other
query reads the whole graph once per revision of the file (:data:`SCOPE_LIMIT` facts is the most a
neighbourhood may hold before the whole graph is read instead).

Examples
--------
>>> anchors('MATCH (a)-[r]->(b)-[s]->(c) WHERE a.name = "Ada" RETURN c.name')
([('name', 'Ada')], 2)
>>> anchors('MATCH (a {id: "ada"})-[*1..3]-(b) RETURN b')
([('id', 'ada')], 3)
>>> anchors('MATCH (a)-[r]->(b) WHERE a.name = "Ada" OR b.name = "Bo" RETURN b') is None
True
"""

from __future__ import annotations

import ast
import re
import threading
from typing import Any

import networkx as nx

from kgllm.errors import InputError
from kgllm.stores.cypher_guard import bind_params, check_read_only, tokenize
from kgllm.stores.memory.graph import NxGraph
from kgllm.types import entity_id

__all__ = ["run_query", "anchors", "scope", "SCOPE_LIMIT"]

SCOPE_LIMIT = 200_000
"""Facts a query's neighbourhood may hold; past it the whole graph is read (once per revision)."""

_CLAUSE_END = {"WHERE", "RETURN", "WITH", "ORDER", "SKIP", "LIMIT"}
_full_lock = threading.Lock()


def run_query(graph: Any, cypher: str, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Run ``cypher`` (checked read-only, parameters bound as literals) on ``graph``; at most ``limit`` rows.

    Raises
    ------
    InputError
        The query may write (see :func:`~kgllm.stores.cypher_guard.check_read_only`), a
        parameter is missing or of the wrong type, or grand-cypher cannot run it (the message
        says what it expected and where).
    """
    from grandcypher import GrandCypher

    check_read_only(cypher)
    text = bind_params(cypher, params)
    g = graph.g if isinstance(graph, NxGraph) else _view(graph, text)
    try:
        result = GrandCypher(g, limit=limit).run(text)
    except Exception as exc:  # grand-cypher raises lark and plain exceptions
        raise InputError(f"Cypher query failed: {_explain(exc, text)}\n  query: {cypher}") from exc
    columns = [str(c) for c in result]
    values = [list(v) for v in result.values()]
    rows = [dict(zip(columns, (_plain(v[i]) for v in values))) for i in range(len(values[0]) if values else 0)]
    return rows[:limit]


_SYMBOLS = {"LEFT_ANGLE": "<", "RIGHT_ANGLE": ">", "MINUS": "-", "DOT": ".", "EQUAL": "=", "COLON": ":",
            "LBRACE": "{", "RBRACE": "}", "LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "COMMA": ",",
            "PERCENT": "%", "STAR": "*", "PLUS": "+", "SLASH": "/", "VBAR": "|", "DOLLAR": "$"}


def _explain(exc: Exception, text: str) -> str:
    """What the parser expected and where (line, column of ``text``), instead of its raw dump.

    >>> class Unexpected(Exception):  # as lark raises them
    ...     line, column, expected = 1, 10, {"RPAR", "COLON", "__ANON_1"}
    >>> _explain(Unexpected(), "MATCH (a RETURN a")
    "unexpected 'RETURN' at line 1, column 10; expected ) or :"
    """
    line, column = getattr(exc, "line", None), getattr(exc, "column", None)
    expected = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
    names = sorted({_SYMBOLS.get(e, e) for e in expected if not str(e).startswith("__")})
    hint = f"; expected {' or '.join(names[:8])}" if names else ""
    if line is None or column is None:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if line < 1:
        return f"the query ends too early{hint}"
    rest = text.splitlines()[line - 1][column - 1:] if line <= len(text.splitlines()) else ""
    word = (re.match(r"\w+|\S", rest) or [""])[0]
    return f"unexpected {word!r} at line {line}, column {column}{hint}"


def _unquote(literal: str) -> str | None:
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def anchors(text: str) -> tuple[list[tuple[str, str]], int] | None:
    """``([(property, value), ...], hops)`` when ``text`` is one path pattern pinned by a node's ``name`` or
    ``id``: every match lies within ``hops`` edges of a node with one of those values; else ``None``."""
    toks = [t for t in tokenize(text) if t.kind not in ("space", "comment")]
    words = [t.text.upper() for t in toks if t.kind == "word"]
    if words.count("MATCH") != 1 or {"OPTIONAL", "UNION", "CALL", "EXISTS"} & set(words):
        return None
    start = next(i for i, t in enumerate(toks) if t.kind == "word" and t.text.upper() == "MATCH") + 1
    end = next((i for i in range(start, len(toks)) if toks[i].kind == "word" and toks[i].text.upper() in _CLAUSE_END),
               len(toks))
    pattern, rest = toks[start:end], toks[end:]
    found: list[tuple[str, str]] = []
    nodes: set[str] = set()
    depth, hops, n_nodes = 0, 0, 0
    for i, t in enumerate(pattern):
        if t.text in "([{":
            if t.text == "(" and depth == 0:
                n_nodes += 1
                if i + 1 < len(pattern) and pattern[i + 1].kind == "word":
                    nodes.add(pattern[i + 1].text)
            depth += 1
        elif t.text in ")]}":
            depth -= 1
        elif t.text == "," and depth == 0:
            return None
        elif t.text == "*":
            j = i + 1
            while j < len(pattern) and (pattern[j].kind == "number" or pattern[j].text == "."):
                j += 1
            spec = "".join(p.text for p in pattern[i + 1:j])
            bounds = [int(n) for n in spec.split("..") if n.isdigit()]
            if not bounds or spec.endswith(".."):
                return None
            hops += max(bounds) - 1
        elif t.kind == "word" and t.text.lower() in ("name", "id") and i + 2 < len(pattern) \
                and pattern[i + 1].text == ":" and pattern[i + 2].kind == "string" and depth >= 2:
            value = _unquote(pattern[i + 2].text)
            if value is None:
                return None
            found.append((t.text.lower(), value))
    hops += max(n_nodes - 1, 0)
    where = []
    for t in rest:
        if t.kind == "word" and t.text.upper() in _CLAUSE_END - {"WHERE"}:
            break
        where.append(t)
    if not {"OR", "XOR", "NOT"} & {t.text.upper() for t in where if t.kind == "word"}:
        for i in range(len(where) - 4):
            var, dot, prop = where[i], where[i + 1], where[i + 2]
            if var.text in nodes and dot.text == "." and prop.text.lower() in ("name", "id"):
                j = i + 3
                while j < len(where) and where[j].text == "=":
                    j += 1
                if j > i + 3 and j < len(where) and where[j].kind == "string":
                    value = _unquote(where[j].text)
                    if value is not None:
                        found.append((prop.text.lower(), value))
    return (found, hops) if found else None


def scope(graph: Any, pins: list[tuple[str, str]], hops: int, limit: int = SCOPE_LIMIT) -> nx.MultiDiGraph | None:
    """The facts within ``hops`` edges of the entities ``pins`` name, as a networkx graph shaped like the memory
    store's; ``None`` when more than ``limit`` facts would be read."""
    seeds: set[str] = set()
    for prop, value in pins:
        if prop == "id":
            seeds |= graph.existing([value])
        else:
            seeds |= {eid for eid, e in graph.entities_of(graph.names_for(entity_id(value))).items() if e.name == value}
    g = nx.MultiDiGraph()
    depth = {eid: 0 for eid in seeds}
    frontier = sorted(seeds)
    n_facts = 0
    for level in range(hops):
        nxt: list[str] = []
        for eid in frontier:
            for f in graph.iter_incident(eid):
                if not g.has_edge(f.subject, f.object, f.id):
                    g.add_edge(f.subject, f.object, key=f.id, id=f.id, relation=f.relation, __labels__={f.relation},
                               confidence=f.confidence, provenance=list(f.provenance))
                    n_facts += 1
                    if n_facts > limit:
                        return None
                for other in (f.subject, f.object):
                    if other not in depth:
                        depth[other] = level + 1
                        nxt.append(other)
        frontier = nxt
    for eid, e in graph.entities_of(depth).items():
        g.add_node(eid, id=eid, name=e.name, type=e.type, aliases=list(e.aliases))
    return g


def _view(graph: Any, text: str) -> nx.MultiDiGraph:
    pinned = anchors(text)
    if pinned is not None:
        g = scope(graph, *pinned)
        if g is not None:
            return g
    with _full_lock:
        revision = graph.db.revision()
        cached = getattr(graph, "_query_view", None)
        if cached is None or cached[0] != revision:
            full = NxGraph()
            for e in graph.iter_entities():
                full.set_node(e.id, {"name": e.name, "type": e.type, "aliases": list(e.aliases)})
            for f in graph.iter_facts():
                full.load_fact(f.subject, f.object, f.id, f.relation, f.confidence, list(f.provenance))
            cached = graph._query_view = (revision, full.g)
        return cached[1]


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
