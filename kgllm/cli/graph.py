"""Graph commands: ``build`` (:mod:`kgllm.cli.build`), ``ask`` (:mod:`kgllm.cli.ask`), ``query``, ``import-kb``,
``stats``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.table import Table

from kgllm.cli.ask import ask
from kgllm.cli.chat import chat
from kgllm.cli.build import build
from kgllm.cli.common import (GraphOpt, JsonOpt, PasswordOpt, StoreOpt, StoreSpec, UriOpt, UserOpt, command, emit_json,
                              err, open_store, out, run, save_if_file)
from kgllm.errors import InputError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the graph commands to ``app``."""
    command(app)(build)
    command(app)(ask)
    command(app)(chat)
    command(app)(query)
    command(app, "import-kb")(import_kb)
    command(app)(stats)


def parse_params(items: List[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings as a parameter dict.

    >>> parse_params(["name=Oslo", "n=a=b"])
    {'name': 'Oslo', 'n': 'a=b'}
    """
    params: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InputError(f"--param expects NAME=VALUE, got {item!r}")
        params[name] = value
    return params


def query(
    cypher: str = typer.Argument(..., help="Read-only Cypher, e.g. 'MATCH (a)-[r]->(b) RETURN a.name, b.name'."),
    graph: Optional[Path] = GraphOpt,
    param: List[str] = typer.Option([], "--param", "-p", metavar="NAME=VALUE",
                                    help="Query parameter, used as $NAME in the query (repeatable)."),
    limit: int = typer.Option(1000, min=1, metavar="N", help="At most this many rows."),
    as_json: bool = JsonOpt,
    store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Run a read-only Cypher query on the graph and print the rows."""
    from kgllm.graph import KnowledgeGraph

    def go() -> None:
        params = parse_params(param)
        with open_store(StoreSpec(graph, store, uri, user, password)) as source:
            rows = KnowledgeGraph(source).query(cypher, params, limit=limit)
        if as_json:
            emit_json({"rows": rows})
            return
        table = Table(*(rows[0].keys() if rows else ["(no rows)"]))
        for row in rows:
            table.add_row(*(str(v) for v in row.values()))
        out.print(table)

    run(go)


def import_kb(
    tsv: Path = typer.Argument(..., help="Knowledge base, one subject<TAB>relation<TAB>object per line."),
    graph: Optional[Path] = GraphOpt,
    store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Add the facts of a TSV knowledge base to the graph."""
    from kgllm.graph import KnowledgeGraph

    spec = StoreSpec(graph, store, uri, user, password)

    def go() -> None:
        with open_store(spec, create=True) as target:
            result = KnowledgeGraph(target).import_kb(tsv)
            save_if_file(target, spec)
        err.print(f"imported {tsv}: {result.facts_added} new facts, {result.entities_added} new entities",
                  highlight=False, markup=False)

    run(go)


def stats(graph: Optional[Path] = GraphOpt, as_json: bool = JsonOpt, store: str = StoreOpt, uri: str = UriOpt,
          user: str = UserOpt, password: Optional[str] = PasswordOpt) -> None:
    """Print counts of entities, facts, relations, documents and merges."""

    def go() -> None:
        with open_store(StoreSpec(graph, store, uri, user, password)) as source:
            numbers = source.stats()
        if as_json:
            emit_json(numbers)
            return
        table = Table("what", "count")
        for k, v in numbers.items():
            table.add_row(k, str(v))
        out.print(table)

    run(go)
