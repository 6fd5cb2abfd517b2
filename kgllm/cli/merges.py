"""``kgllm merges``: the entity merges resolution made (``list``), and taking one back (``undo``).

``kgllm build`` lists the merges it makes; ``kgllm merges undo ALIAS`` restores the alias as an entity of its own,
with its facts, and takes back what the merge gave the entity it was folded into.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from kgllm.cli.common import (GraphOpt, JsonOpt, PasswordOpt, StoreOpt, StoreSpec, UriOpt, UserOpt, command, emit_json,
                              err, new_app, open_store, out, run, save_if_file)
from kgllm.errors import NotFoundError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``merges list|undo`` to ``app``."""
    merges_app = new_app("The entity merges of a graph: list them, undo one.")
    command(merges_app, "list")(merges_list)
    command(merges_app, "undo")(merges_undo)
    app.add_typer(merges_app, name="merges")


def merges_list(graph: Optional[Path] = GraphOpt, as_json: bool = JsonOpt, store: str = StoreOpt,
                uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt) -> None:
    """List the merges: the alias folded away, the entity it was folded into, how, and the document that led to it."""

    def go() -> None:
        with open_store(StoreSpec(graph, store, uri, user, password)) as source:
            merges = source.merges()
        if as_json:
            emit_json({"merges": [{"alias": m.alias, "canonical": m.canonical, "method": m.method, "score": m.score,
                                   "doc_id": m.doc_id} for m in merges]})
            return
        table = Table("alias", "merged into", "how", "document", title=f"{len(merges)} merges")
        for m in merges:
            how = m.method if m.method == "alias" else f"{m.method} {m.score:g}"
            table.add_row(m.alias, m.canonical, how, m.doc_id)
        out.print(table)

    run(go)


def merges_undo(alias: str = typer.Argument(..., metavar="ALIAS", help="The alias, as kgllm merges list shows it."),
                graph: Optional[Path] = GraphOpt, store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt,
                password: Optional[str] = PasswordOpt) -> None:
    """Undo the merge of ALIAS: it becomes an entity of its own again, with its facts.

    An unknown alias is an error (exit status 2) and changes nothing. A later build that extracts a document
    naming it again may merge it again.
    """
    spec = StoreSpec(graph, store, uri, user, password)

    def go() -> None:
        with open_store(spec, write=True) as target, target.lock("writer", 60.0):
            known = {m.alias: m for m in target.merges()}
            if alias not in known:
                raise NotFoundError(f"no merge of {alias!r} in {spec.where} (kgllm merges list shows the merges)")
            target.unmerge(alias)
            save_if_file(target, spec)
        err.print(f"undid the merge of {alias!r} into {known[alias].canonical!r}: {alias!r} is an entity of its own "
                  "again", highlight=False, markup=False)

    run(go)
