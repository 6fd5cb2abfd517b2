"""Document commands: ``docs list``, ``docs retract``, and ``convert`` (a graph file into another format).

Every ingested document is a first-class object of the graph: its ledger row
holds its id, source, content hash, the facts it produced and when it was last
ingested (:mod:`kgllm.stores.ledger`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.table import Table

from kgllm.cli.common import (GraphOpt, JsonOpt, LimitOpt, PasswordOpt, StoreOpt, StoreSpec, UriOpt, UserOpt,
                              command, emit_json, err, new_app, open_store, out, run, save_if_file, when)
from kgllm.errors import InputError, StoreError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``docs list|retract`` and ``convert`` to ``app``."""
    docs_app = new_app("The documents of a graph: what was ingested, from where, with which facts.")
    command(docs_app, "list")(docs_list)
    command(docs_app, "retract")(docs_retract)
    app.add_typer(docs_app, name="docs")
    command(app, "convert")(convert)


def docs_list(graph: Optional[Path] = GraphOpt, as_json: bool = JsonOpt, limit: Optional[int] = LimitOpt,
              store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt,
              password: Optional[str] = PasswordOpt) -> None:
    """List the graph's documents: id, source, content hash, facts and when last ingested."""

    def go() -> None:
        with open_store(StoreSpec(graph, store, uri, user, password)) as source:
            documents = getattr(source, "documents", None)
            if not callable(documents):
                raise StoreError(f"{type(source).__name__} keeps no document ledger")
            rows = documents()
        rows = rows[:limit] if limit else rows
        if as_json:
            emit_json({"documents": [{"doc_id": d.doc_id, "source": d.source, "content_hash": d.content_hash,
                                      "facts": d.facts, "ingested_at": d.ingested_at} for d in rows]})
            return
        # Fits 80 columns: the time (UTC, to the minute), the facts and a short hash never break; long ids and
        # sources fold onto more lines instead of being cut.
        table = Table(title=f"{len(rows)} documents", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
        table.add_column("id", overflow="fold", ratio=3)
        table.add_column("facts", justify="right", no_wrap=True)
        table.add_column("ingested (UTC)", no_wrap=True)
        table.add_column("hash", no_wrap=True)
        table.add_column("source", overflow="fold", ratio=2)
        for d in rows:
            table.add_row(d.doc_id, str(d.facts), when(d.ingested_at), d.content_hash.split(":")[-1][:8], d.source)
        out.print(table)

    run(go)


def docs_retract(doc_id: str = typer.Argument(..., metavar="ID", help="A document id, as docs list shows it."),
                 graph: Optional[Path] = GraphOpt, as_json: bool = JsonOpt,
                 store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt,
                 password: Optional[str] = PasswordOpt) -> None:
    """Remove a document: its ledger row, its provenance on every fact, and the facts it alone supported.

    An unknown id is an error (exit status 2) and changes nothing.
    """
    spec = StoreSpec(graph, store, uri, user, password)

    def go() -> None:
        with open_store(spec, write=True) as target:  # a JSON graph file is migrated to SQLite first
            removed = target.retract_document(doc_id)
            save_if_file(target, spec)
        if as_json:
            emit_json({"doc_id": doc_id, "facts_removed": removed})
        else:
            err.print(f"retracted {doc_id} from {spec.where}: {removed} facts removed", highlight=False, markup=False)

    run(go)


def convert(source: Path = typer.Argument(..., help="A graph file (.sqlite/.db or .json/.json.gz)."),
            target: Path = typer.Argument(..., help="The new graph file; its name chooses the format."),
            force: bool = typer.Option(False, "--force", help="Replace TARGET if it exists.")) -> None:
    """Copy a graph file (graph, merges and document ledger) into another format, e.g. JSON to SQLite.

    A .sqlite, .sqlite3 or .db TARGET is a SQLite graph file (the durable store); .json or .json.gz (or any
    other new name) a JSON graph file. SOURCE is left as it is. (Commands that write to a JSON graph file convert it
    in place on their own, keeping the JSON as FILE.bak.)
    """
    from kgllm.stores.detect import check_graph_file
    from kgllm.stores.memory import MemoryStore

    def go() -> None:
        if target.exists() and not force:
            raise InputError(f"{target} exists; pass --force to replace it")
        if target.exists() and source.exists() and target.resolve() == source.resolve():
            raise InputError(f"{source}: source and target are the same file")
        check_graph_file(source)   # by content, whatever its name; anything else is refused, saying what it is
        store = MemoryStore.load(source)
        try:
            store.save(target)
            numbers = store.stats()
        finally:
            store.close()
        err.print(f"converted {source} to {target}: {numbers['entities']} entities, {numbers['facts']} facts, "
                  f"{len(store.documents())} documents", highlight=False, markup=False)

    run(go)
