"""Graph commands: ``build`` (:mod:`kgllm.cli.build`), ``ask``, ``query``, ``import-kb``, ``stats``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from kgllm.cli.build import build
from kgllm.cli.common import (GraphOpt, JsonOpt, LlmKeyOpt, LlmNameOpt, LlmUrlOpt, ModelOpt, PasswordOpt, StoreOpt,
                              StoreSpec, UriOpt, UserOpt, command, emit_json, err, open_llm, open_store, out, run,
                              save_if_file)
from kgllm.errors import InputError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the graph commands to ``app``."""
    command(app)(build)
    command(app)(ask)
    command(app)(query)
    command(app, "import-kb")(import_kb)
    command(app)(stats)


def ask(
    question: str = typer.Argument(..., help="A question in natural language."),
    graph: Optional[Path] = GraphOpt,
    no_llm: bool = typer.Option(False, "--no-llm", help="Answer from the graph alone, without the language model."),
    model: Optional[Path] = ModelOpt,
    llm_url: Optional[str] = LlmUrlOpt, llm_name: str = LlmNameOpt, llm_key: Optional[str] = LlmKeyOpt,
    no_stream: bool = typer.Option(False, "--no-stream",
                                   help="Print the answer when it is complete, not token by token."),
    as_json: bool = JsonOpt,
    store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
    rules: List[str] = typer.Option([], "--rules", help="Rule file to derive relations the graph lacks: a name "
                                    "shipped with kgllm (kinship, in graphs/rules/) or a path; repeatable."),
) -> None:
    """Answer QUESTION from the graph and print the facts and source sentences it rests on.

    The answer is printed once it has been checked against the graph: the model picks among the graph's
    candidates (or its words are kept only when every name, number and date in them is in the cited facts), so
    no printed line is withdrawn later. Model loading is announced on stderr.
    """
    from kgllm.graph import KnowledgeGraph
    from kgllm.reason.reasoner import Reasoner, ReasonerConfig

    def go() -> None:
        with open_store(StoreSpec(graph, store, uri, user, password)) as source, \
                open_llm(no_llm, model, llm_url, llm_name, llm_key) as llm:
            reasoner = Reasoner(KnowledgeGraph(source), llm=llm, config=ReasonerConfig(rules=rule_files(rules)))
            err.print("loading models (sentence embedder" + (", language model" if llm is not None else "")
                      + ")...", highlight=False, markup=False)
            streamed: list[str] = []

            def show(piece: str) -> None:
                if not streamed:
                    out.print(f"[bold]Q:[/bold] {escape(question)}", highlight=False)
                    out.print("[bold]A:[/bold] ", end="")
                    piece = piece.lstrip()
                streamed.append(piece)
                out.print(piece, end="", highlight=False, markup=False)
                out.file.flush()

            answer = reasoner.ask(question, on_token=None if (as_json or no_stream) else show)
        if as_json:
            name = answer.subgraph.name if answer.subgraph is not None else str
            emit_json({
                "question": answer.question,
                "answer": answer.text,
                "supported": answer.supported,
                "confidence": round(answer.confidence, 4),
                "generated": answer.generated,
                "entities": [{"id": e, "name": name(e)} for e in answer.entities[:5]],
                "facts": [{"id": f.id, "subject": name(f.subject), "relation": f.relation, "object": name(f.object),
                           "subject_id": f.subject, "object_id": f.object} for f in answer.facts],
                "sources": [p.to_dict() for p in answer.sources],
            })
            return
        if streamed:
            out.print()
        else:
            out.print(f"[bold]Q:[/bold] {escape(answer.question)}", highlight=False)
            out.print(f"[bold]A:[/bold] {escape(answer.text)}", highlight=False)
        if answer.facts:
            out.print("[bold]Because:[/bold]")
            out.print("\n".join(answer.cite().splitlines()[1:]), highlight=False, markup=False)

    run(go)


def rule_files(rules: List[str]) -> tuple[str, ...]:
    """``--rules`` values as files: a shipped rule file's name (``kinship``) becomes the packaged file's path
    (:func:`kgllm.rules.path`, so an installed kgllm finds it too), a path stays as given.

    >>> rule_files(["kinship"])[0].endswith("kinship.rules"), rule_files(["my/office.rules"])
    (True, ('my/office.rules',))
    """
    from kgllm.rules import path

    return tuple(r if Path(r).is_file() or "/" in r else str(path(r)) for r in rules)


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
