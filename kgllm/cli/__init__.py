"""The ``kgllm`` command line: build graphs, ask questions, query, evaluate, serve the LM.

Every command is a thin shell over the library; one module per command group (:mod:`kgllm.cli.graph`,
:mod:`kgllm.cli.neo4j`, :mod:`kgllm.cli.evaluate`, :mod:`kgllm.cli.serve`), with what they share in
:mod:`kgllm.cli.common`. Errors print one line naming what was wrong and exit with status 2 (bad input)
or 1 (other failures); ``--json`` prints exactly one JSON object on stdout.
"""

from __future__ import annotations

from kgllm.cli import docs, evaluate, explorer, graph, jobs, merges, neo4j, rdf, serve, train
from kgllm.cli.common import new_app

__all__ = ["app", "main"]

app = new_app("Build knowledge graphs from text and answer questions with a local LM, citing the facts used.",
              name="kgllm")
graph.register(app)
neo4j.register(app)
serve.register(app)
evaluate.register(app)
rdf.register(app)
explorer.register(app)
jobs.register(app)
docs.register(app)
merges.register(app)
train.register(app)


def main() -> None:
    """Console-script entry point (``kgllm``)."""
    app()
