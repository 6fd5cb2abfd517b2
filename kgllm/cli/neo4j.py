"""Neo4j commands: ``neo4j start|stop|status`` (a local server) and ``export`` / ``import`` (graph file <-> Neo4j)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgllm.cli.common import (PasswordOpt, StoreSpec, UriOpt, UserOpt, command, err, new_app, open_store, out,
                              run)

__all__ = ["register"]

DataOpt = typer.Option(Path(".kgllm/neo4j"), "--data", metavar="FOLDER",
                       help="Data folder of the server (its pid file and log live there too).")


def register(app: typer.Typer) -> None:
    """Add ``neo4j start|stop|status``, ``export`` and ``import`` to ``app``."""
    neo4j_app = new_app("Run a local Neo4j server in the background (embedded Neo4j 5.26; needs Java 17 and Maven).")
    command(neo4j_app, "start")(neo4j_start)
    command(neo4j_app, "stop")(neo4j_stop)
    command(neo4j_app, "status")(neo4j_status)
    app.add_typer(neo4j_app, name="neo4j")
    command(app, "export")(export)
    command(app, "import")(import_graph)


def neo4j_start(
    data: Path = DataOpt,
    port: int = typer.Option(7687, min=0, max=65535, metavar="PORT", help="Bolt port on 127.0.0.1."),
    password: Optional[str] = typer.Option(None, envvar="NEO4J_PASSWORD", metavar="PASSWORD",
                                           help="Require this password (8 or more characters); default: no auth."),
) -> None:
    """Build the server the first time, start it in the background and print its Bolt URI."""
    from kgllm.neo4j_server import start_background

    pid, uri = run(lambda: start_background(data, port=port, password=password))
    out.print(f"neo4j running (pid {pid}) at {uri}; data in {data}; stop with `kgllm neo4j stop --data {data}`",
              highlight=False, markup=False)


def neo4j_stop(data: Path = DataOpt) -> None:
    """Stop the background Neo4j server whose data folder is --data."""
    from kgllm.neo4j_server import stop_background

    stopped = run(lambda: stop_background(data))
    out.print("neo4j stopped" if stopped else f"no neo4j server was running for {data}", highlight=False, markup=False)


def neo4j_status(data: Path = DataOpt) -> None:
    """Say whether the background Neo4j server whose data folder is --data is running."""
    from kgllm.neo4j_server import background_status

    state = run(lambda: background_status(data))
    out.print(f"running (pid {state[0]}) at {state[1]}" if state else "not running", highlight=False, markup=False)


def export(
    to: Path = typer.Option(..., "--to", metavar="FILE", help="Graph file to write (JSON, or .json.gz)."),
    uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Copy the whole Neo4j graph (facts, provenance, aliases, merges) into a graph file."""
    from kgllm.stores.memory import MemoryStore
    from kgllm.stores.migrate import copy_store

    def go() -> None:
        target = MemoryStore()
        with open_store(StoreSpec(None, "neo4j", uri, user, password)) as source:
            counts = copy_store(source, target, progress=err.is_terminal)
        target.save(to)
        err.print(f"exported {uri} to {to}: {counts}", highlight=False, markup=False)

    run(go)


def import_graph(
    graph: Path = typer.Argument(..., metavar="FILE", help="Graph file written by kgllm build or kgllm export."),
    uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Copy a graph file into an empty Neo4j database, losing nothing."""
    from kgllm.stores.memory import MemoryStore
    from kgllm.stores.migrate import copy_store

    def go() -> None:
        source = MemoryStore.load(graph)
        with open_store(StoreSpec(None, "neo4j", uri, user, password)) as target:
            counts = copy_store(source, target, progress=err.is_terminal)
        err.print(f"imported {graph} into {uri}: {counts}", highlight=False, markup=False)

    run(go)
