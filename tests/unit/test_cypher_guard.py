"""The parse-based read-only check and parameter binding (the store-level tables are in tests/conformance)."""

from __future__ import annotations

import pytest

from kgllm.errors import InputError
from kgllm.stores.cypher_guard import bind_params, check_read_only, tokenize


def test_tokens_cover_the_query_exactly():
    query = "MATCH (a:`odd ``name```) // c\nWHERE a.x = 'it\\'s' /* y */ RETURN $p, 1.5e3"
    tokens = list(tokenize(query))
    assert "".join(t.text for t in tokens) == query
    assert [(t.kind, t.text) for t in tokens if t.kind not in ("space", "symbol")] == [
        ("word", "MATCH"), ("word", "a"), ("quoted", "`odd ``name```"), ("comment", "// c"), ("word", "WHERE"),
        ("word", "a"), ("word", "x"), ("string", "'it\\'s'"), ("comment", "/* y */"), ("word", "RETURN"),
        ("param", "$p"), ("number", "1.5e3")]


@pytest.mark.parametrize("query", [
    "CALL db.labels() YIELD label RETURN label",
    "call DB.RelationshipTypes()",
    'CALL db.index.fulltext.queryNodes("kgllm_entity_search", "ada") YIELD node RETURN node',
    "MATCH (a) CALL { WITH a MATCH (a)-[r]->(b) RETURN count(b) AS n } RETURN a, n",
    "MATCH (a {set: 1, delete: 2}) RETURN a.create AS merge",
    "MATCH (a:Remove)-[r:DELETE]->(b) RETURN `create`",
    "MATCH (a) RETURN a;",
])
def test_reads_pass(query):
    check_read_only(query)


@pytest.mark.parametrize("query, where", [
    ("MATCH (a)\n  SET a.x = 1", "line 2, column 3"),
    ("/* open", "unclosed /* comment"),
    ("RETURN `open", "unclosed backtick identifier"),
    ("ALTER DATABASE neo4j SET ACCESS READ ONLY", "ALTER"),
    ("MATCH (a) RETURN gds.graph.drop('g')", "gds.graph.drop"),
])
def test_refusals_name_clause_and_place(query, where):
    with pytest.raises(InputError, match="read-only|unclosed") as err:
        check_read_only(query)
    assert where in str(err.value)


def test_bind_params_leaves_strings_and_drops_comments():
    assert bind_params("MATCH (a) /* $x */ WHERE a.name = $x AND a.id <> '$x' RETURN a", {"x": 'A "b"'}) == \
        'MATCH (a)   WHERE a.name = "A \\"b\\"" AND a.id <> "$x" RETURN a'
    with pytest.raises(InputError, match=r"\$y was not given"):
        bind_params("RETURN $y", {})
