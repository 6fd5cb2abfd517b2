"""Neo4j commands: ``neo4j start|stop|status`` (a local server); ``export`` / ``import`` live in :mod:`kgllm.cli.rdf`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgllm.cli.common import command, new_app, out, run

__all__ = ["register"]

DataOpt = typer.Option(Path(".kgllm/neo4j"), "--data", metavar="FOLDER",
                       help="Data folder of the server (its pid file and log live there too).")


def register(app: typer.Typer) -> None:
    """Add ``neo4j start|stop|status`` to ``app``."""
    neo4j_app = new_app("Run a local Neo4j server in the background (embedded Neo4j 5.26; needs Java 17 and Maven).")
    command(neo4j_app, "start")(neo4j_start)
    command(neo4j_app, "stop")(neo4j_stop)
    command(neo4j_app, "status")(neo4j_status)
    app.add_typer(neo4j_app, name="neo4j")


def neo4j_start(
    data: Path = DataOpt,
    port: int = typer.Option(7687, min=0, max=65535, metavar="PORT", help="Bolt port on 127.0.0.1."),
    password: Optional[str] = typer.Option(None, envvar="NEO4J_PASSWORD", metavar="PASSWORD",
                                           help="Require this password (8 or more characters); default: no auth."),
) -> None:
    """Build the server the first time, start it in the background and print its Bolt URI."""
    from kgllm.neo4j_server import start_background

    if password is not None and len(password) < 8:    # bad input (exit 2) before anything is built or started
        raise typer.BadParameter("Neo4j passwords must have at least 8 characters", param_hint="--password")
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
