"""Graph files and RDF in and out of any store: ``export``, ``import`` and ``sparql`` (issue 13).

``export`` / ``import`` read or write a kgllm JSON graph file (lossless, merges and their undo included: the
format Neo4j graphs have always been exported to) or RDF (Turtle, N-Triples, JSON-LD, TriG, N-Quads; see
:mod:`kgllm.rdf`). Without ``--graph`` they work on a Neo4j server, as they always did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from kgllm.cli.common import (JsonOpt, PasswordOpt, StoreSpec, UriOpt, UserOpt, command, emit_json, err,
                              open_store, out, run, save_if_file)
from kgllm.errors import InputError, NotFoundError

__all__ = ["register"]

FORMATS = ("json", "ttl", "nt", "jsonld", "trig", "nq")
_FORMAT_HELP = ("json (a kgllm graph file: .json, .json.gz, or SQLite .sqlite, .db), ttl (Turtle), nt (N-Triples), "
                "jsonld (JSON-LD), trig (TriG) or nq (N-Quads)")
_GRAPH_FILES = (".json", ".json.gz", ".sqlite", ".db")

GraphFileOpt = typer.Option(None, "--graph", "-g", metavar="FILE",
                            help="Work on this kgllm graph file (the in-memory store) instead of a Neo4j server.")
StoreKindOpt = typer.Option(None, "--store", metavar="KIND",
                            help="'memory' (needs --graph) or 'neo4j'; default memory with --graph, else neo4j.")
BaseOpt = typer.Option(None, "--base", metavar="IRI",
                       help="Base namespace of kgllm IRIs, ending in / or # (default https://kgllm.example/; an "
                            "import reads it from the file when the file names one).")


def register(app: typer.Typer) -> None:
    """Add ``export``, ``import`` and ``sparql`` to ``app``."""
    command(app, "export")(export)
    command(app, "import")(import_graph)
    command(app, "sparql")(sparql)


def _spec(graph: Optional[Path], store: Optional[str], uri: str, user: str, password: Optional[str]) -> StoreSpec:
    kind = store or ("memory" if graph is not None else "neo4j")
    if kind == "memory" and graph is None:
        raise InputError("--graph FILE is required with --store memory")
    return StoreSpec(graph, kind, uri, user, password)


def _format(path: Path, given: Optional[str]) -> str:
    if given is not None:
        if given not in FORMATS:
            raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {given!r}")
        return given
    name = path.name.lower()
    if name.endswith(_GRAPH_FILES):
        return "json"
    from kgllm.rdf.export import format_of

    try:
        return format_of(path)
    except InputError:
        raise InputError(f"{path}: cannot tell the format from the extension; pass --format "
                         f"({', '.join(FORMATS)})") from None


def _input_format(path: Path, given: Optional[str]) -> str:
    """The format of a file to read: ``--format``, else a kgllm graph file by its content (``"json"``, SQLite
    included, whatever the name), else RDF by the extension; anything else is refused saying what it holds."""
    from kgllm.stores.detect import WHAT_A_GRAPH_FILE_IS, check_graph_file, describe, graph_file_kind

    if given is not None:
        return _format(path, given)
    if not path.exists():
        raise NotFoundError(f"file not found: {path}")
    if graph_file_kind(path):
        return "json"
    if path.name.lower().endswith(_GRAPH_FILES):
        check_graph_file(path)   # raises: says what the file holds and what a graph file is
    from kgllm.rdf.export import format_of

    try:
        return format_of(path)
    except InputError:
        raise InputError(f"{path}: not a kgllm graph file (it holds {describe(path)}), and its extension names no "
                         f"RDF format. {WHAT_A_GRAPH_FILE_IS} For an RDF file pass --format "
                         f"({', '.join(f for f in FORMATS if f != 'json')}).") from None


def export(
    to: Path = typer.Option(..., "--to", metavar="FILE", help="File to write; its extension gives the format "
                            "(.json, .json.gz, .sqlite, .ttl, .nt, .jsonld, .trig, .nq) unless --format says."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help=f"One of {_FORMAT_HELP}."),
    graph: Optional[Path] = GraphFileOpt, store: Optional[str] = StoreKindOpt, base: Optional[str] = BaseOpt,
    uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Write a whole graph (facts, provenance, aliases, types, merges) to a graph file or an RDF file.

    The source is the Neo4j server at --uri, or the graph file given with --graph. JSON keeps everything, merge
    undo data included. RDF gives entities stable IRIs under --base, names as rdfs:label, aliases as
    skos:altLabel, types as rdf:type, dates and numbers as typed literals, and each source document as a named
    graph whose statement nodes keep chunk, span, sentence, extractor and confidence (Turtle and N-Triples
    have no named graphs but keep the statement nodes). N-Triples and N-Quads are written as a stream.
    """
    def go() -> None:
        spec = _spec(graph, store, uri, user, password)
        kind = _format(to, fmt)
        with open_store(spec) as source:
            if kind == "json":
                from kgllm.stores.memory import MemoryStore
                from kgllm.stores.migrate import copy_store

                target = MemoryStore()
                counts = copy_store(source, target, progress=err.is_terminal)
                target.save(to)
                err.print(f"exported {spec.where} to {to}: {counts}", highlight=False, markup=False)
                return
            from kgllm.rdf.export import export_rdf

            n = export_rdf(source, to, kind, base)
        err.print(f"exported {spec.where} to {to}: {n} statements ({kind})", highlight=False, markup=False)

    run(go)


def import_graph(
    path: Path = typer.Argument(..., metavar="FILE", help="A graph file (written by kgllm build or kgllm export) "
                                "or an RDF file (.ttl, .nt, .jsonld, .trig, .nq)."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT",
                                      help=f"One of {_FORMAT_HELP}; default from the extension."),
    graph: Optional[Path] = GraphFileOpt, store: Optional[str] = StoreKindOpt, base: Optional[str] = BaseOpt,
    batch_size: int = typer.Option(10_000, "--batch-size", min=1, metavar="N",
                                   help="RDF statements become facts written N at a time."),
    as_json: bool = JsonOpt,
    uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Load a graph file or an RDF file into a Neo4j server or into a graph file.

    A JSON graph file is copied exactly (merges and their undo data too) into an empty store. RDF is added to
    what the store holds: IRIs become readable entity names (the full IRI is kept as an alias), rdfs:label and
    skos:altLabel names and aliases, rdf:type entity types, other statements facts, named graphs source
    documents. The whole file is checked before anything is written: malformed RDF is reported with its
    file and line and leaves the store as it was. N-Triples and N-Quads are streamed, so memory grows with
    the graph, not the file.
    """
    def go() -> None:
        spec = _spec(graph, store, uri, user, password)
        kind = _input_format(path, fmt)
        if kind == "json":
            from kgllm.stores.detect import check_graph_file
            from kgllm.stores.memory import MemoryStore
            from kgllm.stores.migrate import copy_store

            check_graph_file(path)
            source = MemoryStore.load(path)
            try:
                with open_store(spec, create=True) as target:
                    counts = copy_store(source, target, progress=err.is_terminal)
                    save_if_file(target, spec)
            finally:
                source.close()
            if as_json:
                emit_json({"path": str(path), "format": "json", **counts})
            err.print(f"imported {path} into {spec.where}: {counts}", highlight=False, markup=False)
            return
        from kgllm.rdf.importer import import_rdf

        with open_store(spec, create=True) as target:
            report = import_rdf(target, path, kind, base, batch_size=batch_size, progress=err.is_terminal)
            save_if_file(target, spec)
        if as_json:
            emit_json(report.to_dict())
        ignored = "".join(f", {n} {what} ignored" for what, n in report.ignored.items())
        merges = f", {report.merges_not_applied} merge records not re-applied" if report.merges_not_applied else ""
        err.print(f"imported {path} into {spec.where}: {report.statements} statements, "
                  f"{report.entities_added} entities and {report.facts_added} facts added, "
                  f"{report.provenance_added} sources{merges}{ignored}", highlight=False, markup=False)

    run(go)


def sparql(
    query: str = typer.Argument(..., metavar="QUERY", help="A SPARQL SELECT, ASK, CONSTRUCT or DESCRIBE query, "
                                "or @FILE to read it from a file."),
    graph: Optional[Path] = typer.Option(None, "--graph", "-g", metavar="FILE",
                                         help="A kgllm graph file (recognised by its content, whatever its name) "
                                              "or an RDF file (.ttl, .nt, .jsonld, .trig, .nq, or --format)."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT",
                                      help=f"What --graph holds, one of {_FORMAT_HELP}; default: a graph file by "
                                           "its content, else RDF by the extension."),
    store: Optional[str] = StoreKindOpt, base: Optional[str] = BaseOpt, as_json: bool = JsonOpt,
    uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Run a read-only SPARQL query over a graph (through rdflib) and print the answer.

    The graph is seen as kgllm exports it: prefixes kg, ent, rel, etype, doc, rdf, rdfs, skos and xsd are
    declared, so a pattern such as ?a rdfs:label "Ada Lindqvist" ; rel:born_in ?b needs no PREFIX lines. The
    default graph is the union of the document graphs. SELECT prints a table (IRIs in those namespaces
    shortened, full with --json), ASK true or false, CONSTRUCT and DESCRIBE Turtle. Updates (INSERT, DELETE,
    LOAD, CLEAR) are refused.
    """
    def go() -> None:
        from kgllm.rdf.sparql import compact, file_dataset, run_sparql, store_dataset

        text = query
        if query.startswith("@"):
            source = Path(query[1:])
            if not source.is_file():
                raise InputError(f"query file not found: {source}")
            text = source.read_text(encoding="utf-8")
        kind = _input_format(graph, fmt) if graph is not None and (store or "memory") == "memory" else "json"
        if kind != "json":
            dataset = file_dataset(graph, kind)
        else:
            with open_store(_spec(graph, store, uri, user, password)) as source_store:
                dataset = store_dataset(source_store, base)
        result = run_sparql(dataset, text, base)
        if as_json:
            emit_json(result.to_dict())
        elif result.kind == "ask":
            out.print("true" if result.boolean else "false", highlight=False, markup=False)
        elif result.kind == "graph":
            out.print(result.graph_text.rstrip(), highlight=False, markup=False, soft_wrap=True)
        else:
            table = Table(*result.variables)
            for row in result.rows:
                table.add_row(*(escape(compact(row[v], base)) for v in result.variables))
            out.print(table)

    run(go)
